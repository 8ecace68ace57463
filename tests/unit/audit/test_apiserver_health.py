"""The apiserver waiter: listener discovery in /proc, process age and flags, readyz, error lines."""

import http.server
import os
import socket
import threading
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.audit import apiserver_health as health

from tests.fakes.ports import free_port


@pytest.fixture
def readyz():
    """A local HTTP server answering /readyz like the apiserver: 'ok' or 500 with the failing check."""
    state = {"code": 200, "body": b"ok"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(state["code"])
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/readyz" % server.server_port, state
    server.shutdown()
    server.server_close()


def test_listener_pid_finds_this_process():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        assert health.listener_pid(sock.getsockname()[1]) == os.getpid()
    finally:
        sock.close()
    assert health.listener_pid(1) is None


def test_listener_pid_skips_another_process_on_the_same_port_at_another_address(tmp_path):
    """A proxy that listens on the apiserver's port on another address (the lab's bridge, a VIP) is
    not the apiserver: only a listener on the URL's address, or on a wildcard address, counts."""
    proc = tmp_path
    (proc / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    # 10.250.0.1:6443 (inode 111) first, then 127.0.0.1:6443 (inode 222), both LISTEN
    rest = " 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 "
    (proc / "net" / "tcp").write_text(header + "   0: 0100FA0A:192B" + rest + "111\n"
                                      + "   1: 0100007F:192B" + rest + "222\n")
    (proc / "net" / "tcp6").write_text(header)
    for pid, inode in ((10, 111), (20, 222)):
        (proc / str(pid) / "fd").mkdir(parents=True)
        os.symlink("socket:[%d]" % inode, proc / str(pid) / "fd" / "3")
    assert health.listener_pid(6443, str(proc), "127.0.0.1") == 20
    assert health.listener_pid(6443, str(proc), "10.250.0.1") == 10
    assert health.listener_pid(6443, str(proc), "192.0.2.7") is None
    assert health.listener_pid(6443, str(proc)) in (10, 20)


def test_listener_pid_counts_a_wildcard_listener_for_any_address():
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))
    sock.listen(1)
    try:
        assert health.listener_pid(sock.getsockname()[1], host="127.0.0.1") == os.getpid()
        assert health.listener_pid(sock.getsockname()[1], host="localhost") == os.getpid()
    finally:
        sock.close()


def test_process_start_time_and_argv():
    started = health.process_start_time(os.getpid())
    assert time.time() - 86400 < started <= time.time()
    assert health.process_argv(os.getpid())


def test_missing_flags_accepts_host_root_prefixed_paths():
    argv = ["kube-apiserver", "--audit-log-maxbackup=3", "--audit-policy-file=/lab/host/etc/kubernetes/audit/p.yml"]
    assert health.missing_flags(argv, {"--audit-log-maxbackup": "3",
                                       "--audit-policy-file": "/etc/kubernetes/audit/p.yml"}) == []
    assert health.missing_flags(argv, {"--audit-log-maxbackup": "10", "--audit-log-path": "/x"}) == [
        "--audit-log-maxbackup=10", "--audit-log-path=/x"]


def test_ready(readyz):
    url, _ = readyz
    res = health.wait_ready(url, 5, started_after=0, expected_flags={})
    assert res["ok"] and res["pid"] == os.getpid() and res["detail"] == "HTTP 200 ok"


def test_old_process_does_not_count(readyz):
    url, _ = readyz
    res = health.wait_ready(url, 0.3, started_after=time.time() + 60, interval=0.05)
    assert not res["ok"] and "predates the change" in res["detail"]


def test_process_without_the_flags_does_not_count(readyz):
    url, _ = readyz
    res = health.wait_ready(url, 0.3, started_after=0, expected_flags={"--audit-log-maxbackup": "3"}, interval=0.05)
    assert not res["ok"] and "runs without --audit-log-maxbackup=3" in res["detail"]


def test_not_ready_reports_the_failing_check(readyz):
    url, state = readyz
    state.update(code=500, body=b"[-]etcd failed: reason withheld\nreadyz check failed")
    res = health.wait_ready(url, 0.3, interval=0.05)
    assert not res["ok"] and res["detail"].startswith("HTTP 500 [-]etcd failed")


def test_nobody_listening():
    port = free_port()
    res = health.wait_ready("http://127.0.0.1:%d/readyz" % port, 0.3, started_after=0, interval=0.05, grace=0.1)
    assert not res["ok"]


def test_last_log_lines_prefers_errors(tmp_path):
    pod = tmp_path / "kube-system_kube-apiserver-cp_1234" / "kube-apiserver"
    pod.mkdir(parents=True)
    (pod / "0.log").write_text("I0101 old run\n")
    os.utime(pod / "0.log", (1, 1))
    (pod / "1.log").write_text("I1125 starting\nE1125 run.go:72] \"command failed\" err=\"failed to load audit "
                               "policy: no kind \\\"Policy\\\" is registered for version audit.k8s.io/v1beta1\"\n"
                               "I1125 exiting\n")
    path, lines = health.last_log_lines(str(tmp_path / "kube-system_kube-apiserver-*/kube-apiserver/*.log"))
    assert path.endswith("1.log")
    assert lines == [l for l in (pod / "1.log").read_text().splitlines() if l.startswith("E")]  # noqa: E741
    assert health.last_log_lines(str(tmp_path / "none/*.log")) == (None, [])


def test_boot_time_is_precise():
    boot = health.boot_time()
    with open("/proc/stat") as handle:
        btime = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
    assert abs(boot - btime) < 1.5
    # a process started now is not older than now
    assert health.process_start_time(os.getpid()) <= time.time()


def _pod_logs(tmp_path, runs):
    """The kubelet's layout: one <n>.log per run; ``runs`` = [(text, mtime or None for now)]."""
    pod = tmp_path / "kube-system_kube-apiserver-cp_1234" / "kube-apiserver"
    pod.mkdir(parents=True)
    for n, (text, mtime) in enumerate(runs):
        (pod / ("%d.log" % n)).write_text(text)
        if mtime is not None:
            os.utime(pod / ("%d.log" % n), (mtime, mtime))
    return str(tmp_path / "kube-system_kube-apiserver-*/kube-apiserver/*.log")


@pytest.mark.parametrize("text,reason", [
    ("Error: unknown flag: --audit-log-frobnicate\n", "Error: unknown flag: --audit-log-frobnicate"),
    ('I1203 05:42:16.76 1 options.go:263] external host\nE1203 05:42:16.762308 1 run.go:72] "command failed" '
     'err="open /var/log/kubernetes/audit/audit.log: read-only file system"\n',
     'E1203 05:42:16.762308 1 run.go:72] "command failed" err="open /var/log/kubernetes/audit/audit.log: '
     'read-only file system"'),
    ("2026-12-03T05:00:00.000000000Z stderr F Error: unknown flag: --x\n", "Error: unknown flag: --x"),
    ("F1203 05:00:00.000000 1 server.go:1] cannot listen\n", "F1203 05:00:00.000000 1 server.go:1] cannot listen"),
], ids=["flag", "command-failed", "cri-format", "klog-fatal"])
def test_fatal_exit_finds_the_apiservers_own_reason(tmp_path, text, reason):
    glob = _pod_logs(tmp_path, [("I0101 old run\n", 1), (text, None)])
    newest = str(tmp_path / "kube-system_kube-apiserver-cp_1234/kube-apiserver/1.log")
    assert health.fatal_exit(glob, time.time() - 60) == (newest, reason)


def test_fatal_exit_ignores_runs_before_the_change_and_healthy_runs(tmp_path):
    glob = _pod_logs(tmp_path, [("Error: unknown flag: --old\n", 1000), ("I1203 serving securely\n", None)])
    assert health.fatal_exit(glob, time.time() - 60) is None
    assert health.fatal_exit(glob, None) is None and health.fatal_exit(None, 0) is None


def test_wait_stops_at_the_new_apiservers_fatal_exit(tmp_path):
    port = free_port()
    glob = _pod_logs(tmp_path, [("Error: unknown flag: --audit-log-frobnicate\n", None)])
    began = time.monotonic()
    res = health.wait_ready("http://127.0.0.1:%d/readyz" % port, 30, started_after=time.time() - 5, log_glob=glob,
                            interval=0.05)
    assert not res["ok"] and res["reason"] == "Error: unknown flag: --audit-log-frobnicate"
    assert res["log_file"].endswith("0.log") and time.monotonic() - began < 2


def test_wait_after_a_rollback_ignores_the_broken_configurations_last_exit(tmp_path):
    port = free_port()
    glob = _pod_logs(tmp_path, [("Error: unknown flag: --audit-log-frobnicate\n", None)])
    res = health.wait_ready("http://127.0.0.1:%d/readyz" % port, 0.5, started_after=time.time() - 1, log_glob=glob,
                            ignore_exits_for=5, interval=0.05, grace=0.1)
    assert not res["ok"] and "reason" not in res
