"""The lab's wait for a ready apiserver gives up early on a crash loop only when it is the crash loop of the
manifest now on disk: right after a manifest is restored, the supervisor's status still describes the one it
replaced (the CI failure of test_an_apiserver_down_before_the_change_is_not_touched)."""

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl.control import Lab  # noqa: E402
from labctl.paths import LabError  # noqa: E402
from labctl.static_pod import pod_hash  # noqa: E402

GOOD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver"},
        "spec": {"containers": [{"name": "kube-apiserver", "command": ["kube-apiserver"]}]}}
BROKEN = {**GOOD, "spec": {"containers": [{"name": "kube-apiserver", "command": ["kube-apiserver", "--frobnicate=1"]}]}}


def crash_loop(doc):
    # the status the supervisor writes when it starts the fourth run: a pid, not ready, the third run's exit
    return {"ready": False, "pid": 7, "restart_count": 3, "manifest_sha256": pod_hash(doc),
            "last_exit": {"exit_code": 1, "finished_at": "t", "log": "l", "log_tail": "Error: unknown flag"}}


def lab_with(tmp_path, statuses):
    manifest = tmp_path / "kube-apiserver.yaml"
    manifest.write_text(yaml.safe_dump(GOOD))
    lab = Lab.__new__(Lab)
    # no pid files under run/: the supervisor's liveness check finds nothing to complain about
    lab.paths = SimpleNamespace(apiserver_manifest=manifest, static_pods=tmp_path, run=tmp_path / "run")
    lab.api = lambda timeout: SimpleNamespace(healthy=lambda: True)
    feed = iter(statuses)
    last = [None]

    def status():
        last[0] = next(feed, last[0])
        return last[0]

    lab.apiserver_status = status
    return lab


def test_a_crash_loop_of_the_manifest_on_disk_ends_the_wait_at_once(tmp_path):
    lab = lab_with(tmp_path, [crash_loop(GOOD)])
    started = time.monotonic()
    with pytest.raises(LabError, match="(?s)crash-looping on the manifest on disk.*unknown flag"):
        lab.wait_apiserver(30)
    assert time.monotonic() - started < 2


def test_the_crash_loop_of_a_replaced_manifest_does_not_end_the_wait(tmp_path):
    ready = {"ready": True, "pid": 42, "restart_count": 0, "manifest_sha256": pod_hash(GOOD)}
    lab = lab_with(tmp_path, [crash_loop(BROKEN)] * 3 + [ready])
    assert lab.wait_apiserver(30)["pid"] == 42
