"""The host's ``/`` as a shared mount while the lab has real nodes.

A pod that mounts a host path with ``mountPropagation: HostToContainer`` (node-exporter's
``/host/root``) is refused by the kubelet unless the mount holding that path is shared or a slave
(``CreateContainerError: path "/" is mounted on "/" but it is not a shared or slave mount``). systemd
makes ``/`` shared on every ordinary host; this machine has no systemd and ``/`` is private. ``ensure``
makes ``/`` alone (not recursively) shared and records what it was, ``restore`` puts that back when
the last real node goes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .paths import LabError

MOUNTINFO = Path("/proc/self/mountinfo")
STATE_KEY = "root_propagation_before"


def propagation(mountinfo: str, target: str = "/") -> str:
    """``shared``, ``slave`` or ``private`` for the last mount on ``target`` in a mountinfo text.

    The optional fields (between the mount options and ``-``) carry ``shared:N`` / ``master:N``;
    a mount with neither is private. The last entry wins: it is the one on top."""
    found = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 7 or fields[4] != target:
            continue
        optional = fields[6:fields.index("-")] if "-" in fields else []
        if any(f.startswith("shared:") for f in optional):
            found = "shared"
        elif any(f.startswith("master:") for f in optional):
            found = "slave"
        else:
            found = "private"
    if found is None:
        raise LabError(f"no mount on {target} in {MOUNTINFO}: cannot check its propagation")
    return found


def _make(kind: str) -> None:
    proc = subprocess.run(["mount", f"--make-{kind}", "/"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"`mount --make-{kind} /` failed ({proc.stderr.strip()}): real nodes need / shared "
                       f"for pods that mount host paths with HostToContainer propagation (node-exporter)")


def ensure(state: dict) -> dict:
    """Make ``/`` shared if it is private; what to record so ``restore`` can put it back."""
    before = propagation(MOUNTINFO.read_text())
    if before != "private":
        return {}
    _make("shared")
    return {} if STATE_KEY in state else {STATE_KEY: before}


def restore(state: dict) -> list[str]:
    """Put ``/`` back to what ``ensure`` found; what was done, for the report."""
    before = state.get(STATE_KEY)
    if before != "private" or propagation(MOUNTINFO.read_text()) == "private":
        return []
    _make("private")
    return ["/ back to a private mount"]
