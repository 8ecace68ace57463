"""Keeps the lab's cluster addresses on this machine.

kwok gives pods addresses from 10.244.0.0/16 and nodes from 10.250.0.0/16, and Services get
10.96.0.0/12, but nothing listens there: the addresses are simulated. The apiserver still dials
them (admission webhooks and aggregated APIs of the charts, the `proxy` subresource), and the
host's default route would send those packets off the machine. An `unreachable` route per range
makes every such dial fail at once, locally. More specific routes (a real node's pod bridge) still
win over these.
"""

from __future__ import annotations

import shutil
import subprocess

from .paths import LabError

GUARDED = ("10.244.0.0/16", "10.250.0.0/16", "10.96.0.0/12")


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def guarded(cidr: str) -> bool:
    return _ip("route", "show", "table", "main", "type", "unreachable", cidr).stdout.strip() != ""


def ensure() -> list[str]:
    """Install the unreachable routes that are missing; the ranges it added."""
    if shutil.which("ip") is None:
        raise LabError("`ip` (iproute2) is missing: the lab needs it to keep its simulated pod and node "
                       "addresses off the network. Install iproute2 (apt-get install iproute2)")
    added = []
    for cidr in GUARDED:
        if guarded(cidr):
            continue
        result = _ip("route", "replace", "unreachable", cidr)
        if result.returncode != 0 or not guarded(cidr):
            raise LabError(f"could not add the route `unreachable {cidr}` ({result.stderr.strip()}): without it "
                           f"the apiserver's dials to simulated addresses would leave this machine. Run the lab "
                           f"as root (or add the route once: ip route add unreachable {cidr})")
        added.append(cidr)
    return added
