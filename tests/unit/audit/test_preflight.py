"""Unsafe audit log paths and host problems are refused before anything changes, naming the input and the fix."""

import os

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.audit import preflight
from ansible_collections.homelab.observability.plugins.modules import apiserver_k3s_config, apiserver_manifest

from .test_manifest import KUBEADM, POLICY, _args, host  # noqa: F401 - the host fixture

# (log_path, fragment of the message): each would have mounted '/' or a directory read-write, or cannot be a log.
UNSAFE_LOG_PATHS = [
    ("-", "log_path '-' (stdout) is not supported"),
    ("audit.log", "log_path 'audit.log' is relative"),
    ("var/log/audit.log", "is relative"),
    ("/var/log/kubernetes/audit/", "ends with '/': it names a directory"),
    ("/", "ends with '/'"),
    ("/audit.log", "directly under '/': the role would mount the whole root file system"),
    ("/var/log/../audit.log", "is not normalised (//, ./ or ../); write '/var/audit.log'"),
    ("/var//log/audit.log", "is not normalised"),
]


@pytest.mark.parametrize("log_path,fragment", UNSAFE_LOG_PATHS, ids=[p for p, _ in UNSAFE_LOG_PATHS])
def test_unsafe_log_paths_are_refused(log_path, fragment):
    errors = preflight.log_path_errors(log_path)
    assert len(errors) == 1 and fragment in errors[0] and "log_path" in errors[0]


def test_a_file_path_under_a_directory_is_fine():
    assert preflight.log_path_errors("/var/log/kubernetes/audit/audit.log") == []
    assert preflight.policy_path_errors("/etc/kubernetes/audit/audit-policy.yml") == []
    assert "policy_file 'audit.yml'" in preflight.policy_path_errors("audit.yml")[0]


@pytest.mark.parametrize("mod", [apiserver_manifest, apiserver_k3s_config], ids=["kubeadm", "k3s"])
@pytest.mark.parametrize("log_path,fragment", UNSAFE_LOG_PATHS[:4], ids=[p for p, _ in UNSAFE_LOG_PATHS[:4]])
def test_modules_refuse_unsafe_log_paths_and_change_nothing(run_module, host, mod, log_path, fragment):  # noqa: F811
    before = sorted(str(p) for p in host.rglob("*"))
    args = _args(host, log_path=log_path)
    if mod is apiserver_k3s_config:
        args = {"host_root": str(host), "policy_file": POLICY, "owner": "", "group": "", "log_path": log_path}
    for check in (True, False):
        result, failed = run_module(mod, args, check=check)
        assert failed and fragment in result["msg"] and result["msg"].endswith("nothing changed")
    assert sorted(str(p) for p in host.rglob("*")) == before
    assert (host / "etc/kubernetes/manifests/kube-apiserver.yaml").read_text() == KUBEADM


def test_log_path_that_is_a_directory(tmp_path):
    (tmp_path / "log" / "audit.log").mkdir(parents=True)
    errors = preflight.host_errors(str(tmp_path / "log/audit.log"), str(tmp_path / "p.yml"), False)
    assert errors == ["log_path %s is a directory; the apiserver needs a file path, e.g. %s"
                      % (tmp_path / "log/audit.log", tmp_path / "log/audit.log/audit.log")]


def test_log_directory_under_a_file(tmp_path):
    (tmp_path / "log").write_text("")
    errors = preflight.host_errors(str(tmp_path / "log/audit/audit.log"), str(tmp_path / "p.yml"), False)
    assert errors and "cannot be created: %s is a file" % (tmp_path / "log") in errors[0]


def test_read_only_log_directory(tmp_path, monkeypatch):
    real = os.statvfs

    class ReadOnly:
        def __init__(self, st):
            self.st = st

        def __getattr__(self, name):
            return preflight.ST_RDONLY | self.st.f_flag if name == "f_flag" else getattr(self.st, name)

    monkeypatch.setattr(preflight.os, "statvfs", lambda p: ReadOnly(real(p)))
    errors = preflight.host_errors(str(tmp_path / "new/audit.log"), str(tmp_path / "p.yml"), False)
    assert len(errors) == 1
    assert errors[0].startswith("the log directory %s would be created in %s is on a read-only file system"
                                % (tmp_path / "new", tmp_path))
    assert "point log_path at a writable file system" in errors[0]


def test_policy_file_that_is_a_directory_or_missing(tmp_path):
    (tmp_path / "policy.yml").mkdir()
    log = str(tmp_path / "log/audit.log")
    errors = preflight.host_errors(log, str(tmp_path / "policy.yml"), False)
    assert errors == ["policy_file %s is a directory; the apiserver needs the policy file itself (hostPath type "
                      "File)" % (tmp_path / "policy.yml")]
    assert preflight.host_errors(log, str(tmp_path / "missing.yml"), False) == []
    assert "does not exist" in preflight.host_errors(log, str(tmp_path / "missing.yml"), True)[0]


def test_manifest_module_reports_a_policy_directory_as_such(run_module, host):  # noqa: F811
    os.unlink(host / POLICY.lstrip("/"))
    (host / POLICY.lstrip("/")).mkdir()
    result, failed = run_module(apiserver_manifest, _args(host), check=True)
    assert failed and "is a directory" in result["msg"] and "does not exist" not in result["msg"]
