"""The lab's default audit policy and reading the JSON audit log.

The default policy records every write (create, update, patch, delete, deletecollection) at
Metadata level, so each event carries the user (the admin kubeconfig is ``kubernetes-admin``),
verb, resource, namespace, name, URI (with ``dryRun=All`` when it was a dry run) and response
code. Reads are not recorded, nor the simulated kubelets' heartbeats (node status and leases
renewed by kwok every few seconds), so a 1000-node lab does not flood the log.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})

DEFAULT_POLICY = """\
# The lab's default audit policy (tools/lab/labctl/audit.py). The audit role may replace it.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  # kwok plays every kubelet: its heartbeats (node status, node leases) are noise
  - level: None
    users: ["kwok-controller"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
      - group: coordination.k8s.io
        resources: ["leases"]
  - level: None
    verbs: ["get", "list", "watch"]
  - level: Metadata
"""


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def as_datetime(value) -> datetime.datetime | None:
    if value is None or isinstance(value, datetime.datetime):
        return value
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    return parse_time(str(value))


def log_files(log_path: Path) -> list[Path]:
    """The log and its rotated backups (``audit-<timestamp>.log``), oldest first."""
    backups = sorted(log_path.parent.glob(f"{log_path.stem}-*{log_path.suffix}"))
    return [*backups, log_path] if log_path.exists() else backups


def events(log_path: Path, since=None, user: str | None = None, verbs=None, *, include_dry_run: bool = True,
           namespace: str | None = None) -> Iterator[dict]:
    """Audit events from the log (and its backups) received at or after ``since`` (datetime,
    epoch seconds or RFC 3339), by ``user`` (the username exactly), with a verb in ``verbs``,
    on objects in ``namespace`` (the Namespace object itself counts as in it)."""
    since_dt = as_datetime(since)
    for path in log_files(log_path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if since_dt is not None and parse_time(event["requestReceivedTimestamp"]) < since_dt:
                    continue
                if user is not None and event.get("user", {}).get("username") != user:
                    continue
                if verbs is not None and event.get("verb") not in verbs:
                    continue
                if not include_dry_run and "dryRun=" in event.get("requestURI", ""):
                    continue
                if namespace is not None and namespace not in (
                        (event.get("objectRef") or {}).get("namespace"), _namespace_object(event)):
                    continue
                yield event


def _namespace_object(event: dict) -> str | None:
    ref = event.get("objectRef") or {}
    return ref.get("name") if ref.get("resource") == "namespaces" and not ref.get("subresource") else None


def summary(event: dict) -> str:
    ref = event.get("objectRef") or {}
    what = "/".join(x for x in (ref.get("namespace"), ref.get("resource"), ref.get("name")) if x)
    code = (event.get("responseStatus") or {}).get("code")
    return f"{event['requestReceivedTimestamp']} {event['user'].get('username')} {event['verb']} {what} -> {code}"
