"""Background processes recorded by pid file, and loopback port checks.

A pid file is JSON: pid, process group, the process start time (from /proc, so a reused pid
is not mistaken for ours), the command line and the log file. Each process runs in its own
session, so stopping it stops its whole process group (the static-pod supervisor and the
apiserver it runs, for example).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .paths import LabError


def proc_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: when the process started (None if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; it is wrapped in parentheses
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited
        return None
    return int(fields[19])


def proc_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@dataclass
class Record:
    name: str
    pid: int
    start_ticks: int | None
    argv: list
    log: str

    def alive(self) -> bool:
        return self.start_ticks is not None and proc_start_ticks(self.pid) == self.start_ticks


class PidFiles:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def read(self, name: str) -> Record | None:
        try:
            data = json.loads(self.path(name).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LabError(f"pid file {self.path(name)} is unreadable ({exc}); delete it and retry") from exc
        return Record(name, data["pid"], data.get("start_ticks"), data.get("argv", []), data.get("log", ""))

    def write(self, record: Record) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(record.name).with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": record.pid, "start_ticks": record.start_ticks, "argv": record.argv,
                                   "log": record.log}))
        tmp.replace(self.path(record.name))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()

    def running(self, name: str) -> Record | None:
        """The live process recorded under ``name`` (None if none, or if its pid file is stale)."""
        record = self.read(name)
        return record if record is not None and record.alive() else None

    def clear_stale(self, name: str) -> None:
        """Report and remove a pid file whose process is gone (or whose pid now belongs to another)."""
        record = self.read(name)
        if record is not None and not record.alive():
            print(f"lab: stale pid file {self.path(name)}: pid {record.pid} is no longer {name}; removing it")
            self.remove(name)


def start(pids: PidFiles, name: str, argv: list, log: Path, *, env: dict | None = None, cwd: Path | None = None,
          ) -> Record:
    """Start ``argv`` detached in a new session, output appended to ``log``, and record it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n--- lab: starting {name} at {time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env, cwd=cwd)
        except OSError as exc:
            raise LabError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    record = Record(name, proc.pid, proc_start_ticks(proc.pid), list(argv), str(log))
    pids.write(record)
    return record


def stop(pids: PidFiles, name: str, timeout: float = 15.0) -> bool:
    """SIGTERM the recorded process group, SIGKILL after ``timeout``. True if something was stopped."""
    record = pids.running(name)
    if record is None:
        pids.clear_stale(name)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and record.alive():
        time.sleep(0.1)
    if record.alive():
        print(f"lab: {name} (pid {record.pid}) ignored SIGTERM for {timeout:.0f}s; sending SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, signal.SIGKILL)
    # children left in the group (e.g. a supervisor's apiserver) go too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)
    pids.remove(name)
    return True


def tail(path: Path, max_bytes: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


# --- ports -------------------------------------------------------------------------------------

def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(avoid: set = frozenset()) -> int:
    """A loopback port free right now that is not in ``avoid`` (ports already handed out)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def port_owner(port: int) -> str:
    """'pid N (cmdline)' of the process listening on ``port``, or a hint when it cannot be found."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return f"pid {pid_dir.name} ({proc_cmdline(int(pid_dir.name))[:120]})"
        except OSError:
            continue
    return "an unknown process"


def wait_port_open(port: int, timeout: float, what: str, alive=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if alive is not None and not alive():
            raise LabError(f"{what} exited before listening on 127.0.0.1:{port}")
        time.sleep(0.1)
    raise LabError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")
