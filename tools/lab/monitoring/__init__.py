"""The lab's real metrics path: Debian Prometheus, Alertmanager and node-exporter (and optionally
kube-state-metrics) as local processes. See README.md for the API."""

from .config import ApiserverScrape
from .for_lab import lab_down, lab_status, lab_up
from .stack import MonitoringError, MonitoringStack, find_binaries, start, status, stop
from .verify_vars import verify_vars, write_verify_vars

__all__ = ["ApiserverScrape", "MonitoringError", "MonitoringStack", "find_binaries", "lab_down", "lab_status",
           "lab_up", "start", "status", "stop", "verify_vars", "write_verify_vars"]
