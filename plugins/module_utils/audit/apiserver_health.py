# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for the restarted kube-apiserver: the new process, with the new flags, and ready.

``/readyz`` alone cannot tell the old apiserver from the new one: after a manifest change the
kubelet needs a few seconds to notice, and until then the old process answers ``ok``. So the
waiter finds the process that listens on the URL's address and port (``/proc/net/tcp*`` and the socket
inodes in ``/proc/<pid>/fd``), requires it to have started after the change and, when asked, to
carry the expected flags, and only then trusts ``/readyz``. When the listener cannot be found
(not Linux, not root, a remote URL) it falls back to ``/readyz`` after a grace period.

On timeout the error names what was last seen and the apiserver's last log lines (the kubelet's
``/var/log/pods/kube-system_kube-apiserver-*/kube-apiserver/<n>.log``).

A new apiserver that refuses its flags or files exits within seconds and says why as the last
thing it prints (``Error: unknown flag: --x`` before logging is set up, ``"command failed"
err="..."`` after, a klog ``F`` line on a fatal). The waiter reads the logs written since the
change on every round and stops at the first such line, instead of waiting out the timeout while
the kubelet restarts it in a back-off loop: the caller can roll back at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import ipaddress
import os
import re
import socket
import ssl
import sys
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlparse
from ansible.module_utils.urls import open_url
from ansible_collections.homelab.observability.plugins.module_utils.audit import command_line as cl

LISTEN = "0A"
DEFAULT_LOG_GLOB = "/var/log/pods/kube-system_kube-apiserver-*/kube-apiserver/*.log"
ERROR_MARKERS = ("E0", "E1", "F0", "F1", "Error", "error:", "failed", "invalid")
# The CRI log prefix the kubelet writes before each line: "<RFC 3339 time> stdout|stderr F|P ".
_CRI_PREFIX = re.compile(r"^\S+Z? (stdout|stderr) [FP] ")
# Lines the apiserver prints as it exits on a fatal error.
_FATAL = re.compile(r'^(Error: |F\d{4} \d\d:\d\d:\d\d\.\d+ )|"command failed"')


def _decode_address(hex_address):
    """The IP of a /proc/net/tcp{,6} local address (hex, each 32-bit word in host byte order)."""
    raw = bytes.fromhex(hex_address)
    words = [raw[i:i + 4][::-1] if sys.byteorder == "little" else raw[i:i + 4] for i in range(0, len(raw), 4)]
    return str(ipaddress.ip_address(b"".join(words)))


def _host_addresses(host):
    """The IPs ``host`` stands for, or None when it cannot be resolved (then any listener counts)."""
    if not host:
        return None
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return None


def _listening_inodes(port, proc="/proc", host=None):
    """Socket inodes listening on ``port``; with ``host``, only those that serve it: a listener on
    one of its addresses or on a wildcard address. Another process may listen on the same port on
    another address (a proxy on a VIP or bridge in front of the apiserver), and it is not the
    apiserver."""
    wanted = _host_addresses(host)
    inodes = set()
    for name in ("net/tcp", "net/tcp6"):
        try:
            with open(os.path.join(proc, name)) as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != LISTEN:
                continue
            address, hex_port = parts[1].rsplit(":", 1)
            if int(hex_port, 16) != port:
                continue
            if wanted is not None:
                ip = ipaddress.ip_address(_decode_address(address))
                mapped = getattr(ip, "ipv4_mapped", None)
                if not ip.is_unspecified and str(ip) not in wanted and str(mapped) not in wanted:
                    continue
            inodes.add(parts[9])
    return inodes


def listener_pid(port, proc="/proc", host=None):
    """Pid of the process listening on TCP ``port`` (for ``host``: see ``_listening_inodes``), or
    None when it cannot be seen."""
    inodes = _listening_inodes(port, proc, host)
    if not inodes:
        return None
    wanted = set("socket:[%s]" % i for i in inodes)
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                        return int(pid)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def boot_time(proc="/proc"):
    """Boot time in seconds since the epoch, to 10 ms.

    ``btime`` in /proc/stat is truncated to whole seconds, which would make a process started
    right after a change look up to 1 s older than it is; /proc/uptime is precise. Where uptime is
    virtualised (lxcfs) and disagrees with btime, btime is used.
    """
    with open(os.path.join(proc, "stat")) as handle:
        btime = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
    try:
        with open(os.path.join(proc, "uptime")) as handle:
            precise = time.time() - float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float(btime)
    return precise if abs(precise - btime) < 1.5 else float(btime)


def process_start_time(pid, proc="/proc"):
    """Start of ``pid`` in seconds since the epoch (boot time + start ticks)."""
    with open(os.path.join(proc, str(pid), "stat")) as handle:
        stat = handle.read()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[19])
    return boot_time(proc) + ticks / float(os.sysconf("SC_CLK_TCK"))


def process_argv(pid, proc="/proc"):
    with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
        return [a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a]


def missing_flags(argv, expected):
    """Expected ``--flag=value`` pairs not in ``argv``.

    A path value also matches when the process sees it under a host-root prefix (a test harness
    that maps hostPaths, like the lab, passes ``<root>/etc/kubernetes/...``).
    """
    have = cl.flag_values(argv)
    missing = []
    for name, value in expected.items():
        got = have.get(name)
        if got == value or (got is not None and value.startswith("/") and got.endswith(value)):
            continue
        missing.append("%s=%s" % (name, value))
    return missing


def probe(url, ca_path=None, validate_certs=True, timeout=5):
    """(ok, detail) of one GET of ``url``."""
    try:
        resp = open_url(url, timeout=timeout, validate_certs=validate_certs, ca_path=ca_path,
                        use_proxy=False, follow_redirects="none")
        body = resp.read(2000).decode("utf-8", "replace")
        return resp.getcode() == 200, "HTTP %d %s" % (resp.getcode(), body.strip()[:300])
    except HTTPError as exc:
        body = exc.read(2000).decode("utf-8", "replace")
        return False, "HTTP %d %s" % (exc.code, body.strip()[:600])
    except (URLError, OSError, ValueError, ssl.SSLError) as exc:
        return False, "%s: %s" % (url, getattr(exc, "reason", exc))


def last_log_lines(log_glob, lines=20, since=None):
    """Tail of the newest apiserver log, error lines preferred."""
    files = [f for f in glob.glob(log_glob) if os.path.isfile(f)]
    if since is not None:
        files = [f for f in files if os.path.getmtime(f) >= since - 1] or files
    if not files:
        return None, []
    newest = max(files, key=os.path.getmtime)
    try:
        with open(newest, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - 65536, 0))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return newest, []
    all_lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in all_lines if any(m in line for m in ERROR_MARKERS)]
    return newest, (errors or all_lines)[-lines:]


def fatal_exit(log_glob, since):
    """(log file, reason) of an apiserver run logged since ``since`` that ended on a fatal error, else None."""
    if not log_glob or since is None:
        return None
    for path in sorted((f for f in glob.glob(log_glob) if os.path.isfile(f)), key=os.path.getmtime, reverse=True):
        try:
            if os.path.getmtime(path) < since:
                break
            with open(path, "rb") as handle:
                handle.seek(max(os.path.getsize(path) - 65536, 0))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        reasons = [_CRI_PREFIX.sub("", line).strip() for line in lines]
        reasons = [line for line in reasons if _FATAL.search(line)]
        if reasons:
            return path, reasons[-1]
    return None


def _blocker(port, pid, waited, *, started_after, expected_flags, grace, proc):
    """Why the process on ``port`` is not yet the apiserver to probe (old, or without the flags), or None."""
    if pid is None:
        if started_after is not None and waited < grace:
            return "no process listens on port %d yet" % port
        return None
    try:
        if started_after is not None and process_start_time(pid, proc) < started_after:
            return "the apiserver on port %d (pid %d) predates the change; waiting for the restart" % (port, pid)
        missing = missing_flags(process_argv(pid, proc), expected_flags) if expected_flags else []
        if missing:
            return "the apiserver on port %d (pid %d) runs without %s" % (port, pid, ", ".join(missing))
    except (OSError, ValueError, StopIteration):
        return None if waited >= grace else "pid %d went away" % pid
    return None


def wait_ready(url, timeout, *, ca_path=None, validate_certs=True, started_after=None, expected_flags=None,
               log_glob=None, ignore_exits_for=0.0, interval=1.0, grace=20.0, clock=time.monotonic, sleep=time.sleep,
               proc="/proc"):
    """Wait until the apiserver behind ``url`` is new enough, has the flags, and is ready.

    Returns dict(ok, elapsed, pid, detail) and, when a run since ``started_after`` ended on a fatal
    error in ``log_glob`` (later than ``ignore_exits_for`` seconds after it: a run of the previous
    configuration may still end just after a rollback), at once with ``reason`` and ``log_file``.
    ``grace``: seconds after which a listener that cannot be found no longer blocks (readyz alone
    decides).
    """
    parsed = urlparse(url)
    port = parsed.port or (443 if url.startswith("https") else 80)
    start = clock()
    deadline = start + timeout
    detail = "not probed yet"
    pid = None
    while True:
        now = clock()
        pid = listener_pid(port, proc, parsed.hostname)
        blocker = _blocker(port, pid, now - start, started_after=started_after, expected_flags=expected_flags,
                           grace=grace, proc=proc)
        if blocker is None:
            ok, detail = probe(url, ca_path, validate_certs)
            if ok:
                return dict(ok=True, elapsed=round(clock() - start, 1), pid=pid, detail=detail)
        else:
            detail = blocker
        # Not the new apiserver, or not ready: did the new one already exit, and why?
        since = None if started_after is None else started_after + ignore_exits_for
        fatal = fatal_exit(log_glob, since) if blocker is not None or pid is None else None
        if fatal:
            return dict(ok=False, elapsed=round(clock() - start, 1), pid=pid, detail=detail, log_file=fatal[0],
                        reason=fatal[1])
        if clock() >= deadline:
            return dict(ok=False, elapsed=round(clock() - start, 1), pid=pid, detail=detail)
        sleep(interval)
