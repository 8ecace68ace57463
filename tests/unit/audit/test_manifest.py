"""The static pod manifest editor on kubeadm-shaped manifests, the disk preflight and the module."""

import difflib
import os
from collections import namedtuple
from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import disk
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.modules import apiserver_manifest as module

FIXTURES = Path(__file__).parent / "fixtures"
KUBEADM = (FIXTURES / "kubeadm-v1.34-kube-apiserver.yaml").read_text()
HAND = (FIXTURES / "hand-edited-kube-apiserver.yaml").read_text()
POLICY = "/etc/kubernetes/audit/audit-policy.yml"
LOG = "/var/log/kubernetes/audit/audit.log"
FLAGS = mf.audit_flags(POLICY, LOG)
VOLUMES = mf.audit_volumes(POLICY, LOG)
ANN = (mf.POLICY_ANNOTATION, "0" * 64)


def _edit(text, flags=FLAGS, annotation=ANN, state="present"):
    return mf.edit_manifest(text, flags, VOLUMES, annotation, state=state)


def _command(text):
    return yaml.safe_load(text)["spec"]["containers"][0]["command"]


def test_seed_flags():
    assert FLAGS == {
        "--audit-log-format": "json", "--audit-log-maxage": "7", "--audit-log-maxbackup": "3",
        "--audit-log-maxsize": "100", "--audit-log-path": LOG, "--audit-policy-file": POLICY,
    }


def test_kubeadm_manifest_only_gains_lines():
    new = _edit(KUBEADM)
    ops = difflib.SequenceMatcher(a=KUBEADM.splitlines(), b=new.splitlines(), autojunk=False).get_opcodes()
    assert {tag for tag, *_ in ops} == {"equal", "insert"}, "an existing line changed"
    added = [line for tag, _, _, j1, j2 in ops if tag == "insert" for line in new.splitlines()[j1:j2]]
    assert len(added) == 6 + 2 + 5 + 8  # flags, annotations (policy checksum, owned flags), mounts, volumes


def test_kubeadm_flags_land_in_sorted_position_once():
    command = _command(_edit(KUBEADM))
    assert command[0] == "kube-apiserver"
    assert command[1:] == sorted(command[1:])
    for name, value in FLAGS.items():
        assert [c for c in command if c.startswith(name + "=")] == ["%s=%s" % (name, value)]


def test_kubeadm_volumes_and_mounts():
    pod = yaml.safe_load(_edit(KUBEADM))
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert volumes["audit-policy"]["hostPath"] == {"path": POLICY, "type": "File"}
    assert volumes["audit-log"]["hostPath"] == {"path": "/var/log/kubernetes/audit", "type": "DirectoryOrCreate"}
    assert mounts["audit-policy"] == {"mountPath": POLICY, "name": "audit-policy", "readOnly": True}
    assert mounts["audit-log"]["mountPath"] == "/var/log/kubernetes/audit"
    assert not mounts["audit-log"].get("readOnly")
    assert pod["metadata"]["annotations"][mf.POLICY_ANNOTATION] == "0" * 64
    assert len(pod["spec"]["volumes"]) == 7 and len(mounts) == 7


@pytest.mark.parametrize("text", [KUBEADM, HAND], ids=["kubeadm", "hand-edited"])
def test_idempotent(text):
    once = _edit(text)
    assert _edit(once) == once


def test_remove_restores_the_kubeadm_manifest_byte_for_byte():
    assert _edit(_edit(KUBEADM), annotation=None, state="absent") == KUBEADM


def test_cis_values_replace_two_flag_lines_in_place():
    seed = _edit(KUBEADM)
    cis = _edit(seed, flags=mf.audit_flags(POLICY, LOG, maxage=30, maxbackup=10, maxsize=100))
    diff = [line for line in difflib.unified_diff(seed.splitlines(), cis.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert diff == ["-    - --audit-log-maxage=7", "-    - --audit-log-maxbackup=3",
                    "+    - --audit-log-maxage=30", "+    - --audit-log-maxbackup=10"]


def test_policy_checksum_change_touches_one_line():
    a = _edit(KUBEADM)
    b = _edit(a, annotation=(mf.POLICY_ANNOTATION, "1" * 64))
    a_lines, b_lines = a.splitlines(), b.splitlines()
    assert len(a_lines) == len(b_lines)
    changed = [(x, b_lines[i]) for i, x in enumerate(a_lines) if x != b_lines[i]]
    # an all-digit checksum must stay a string: it is quoted
    assert len(changed) == 1 and changed[0][1].strip() == '%s: "%s"' % (mf.POLICY_ANNOTATION, "1" * 64)


def test_hand_edited_keeps_comments_and_unrelated_bytes():
    new = _edit(HAND)
    for line in HAND.splitlines():
        if line.lstrip().startswith("#") or "keep me" in line or "pinned" in line:
            assert line in new.splitlines(), line
    assert "        - \"--authorization-mode=Node,RBAC\"" in new
    assert new.endswith("# trailing comment\n")
    command = _command(new)
    assert [c for c in command if c.startswith("--audit-log-maxage")] == ["--audit-log-maxage=7"]
    pod = yaml.safe_load(new)
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["k8s-certs", "audit-log", "audit-policy"]
    assert pod["spec"]["volumes"][1]["hostPath"]["path"] == "/var/log/kubernetes/audit"
    assert pod["spec"]["containers"][0]["image"] == "registry.k8s.io/kube-apiserver:v1.34.4"


def test_extra_args_are_set_once():
    flags = mf.audit_flags(POLICY, LOG, extra={"audit-log-compress": True, "--audit-log-batch-max-size": 10})
    command = _command(_edit(_edit(KUBEADM, flags=flags), flags=flags))
    assert command.count("--audit-log-compress=true") == 1
    assert command.count("--audit-log-batch-max-size=10") == 1


def test_value_needing_quotes_round_trips():
    flags = dict(FLAGS, **{"--audit-log-path": "/var/log/kube audit/a: b.log"})
    command = _command(_edit(KUBEADM, flags=flags))
    assert "--audit-log-path=/var/log/kube audit/a: b.log" in command


@pytest.mark.parametrize("text,fragment", [
    (KUBEADM.replace("kind: Pod", "kind: Deployment"), "not a Pod"),
    ("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n"
     "    command: [kube-apiserver, --a=b]\n",
     "flow list"),
    (KUBEADM.replace("    - --secure-port=6443", "    - --audit-log-maxage"), "has no '=value'"),
    ("apiVersion: v1\nkind: Pod\nspec: {}\n", "spec.containers: not found"),
    (KUBEADM + "  bad: [\n", "not valid YAML"),
    (KUBEADM.replace("\n", "\r\n"), "CRLF"),
], ids=["not-a-pod", "flow-command", "flag-without-value", "no-containers", "broken-yaml", "crlf"])
def test_unsupported_manifests_are_refused_with_the_fix(text, fragment):
    with pytest.raises(mf.ManifestError) as info:
        _edit(text)
    assert fragment in str(info.value)


def test_stale_files(tmp_path):
    for name in ["kube-apiserver.yaml", "etcd.yaml", "kube-apiserver.yaml.bak", "kube-apiserver.yaml~",
                 "kube-apiserver.yaml.swp", ".kube-apiserver.yaml.swp", ".ansible_tmp123kube-apiserver.yaml"]:
        (tmp_path / name).write_text("x")
    assert mf.stale_files(str(tmp_path)) == ["kube-apiserver.yaml.bak", "kube-apiserver.yaml.swp",
                                             "kube-apiserver.yaml~"]
    assert mf.stale_files(str(tmp_path / "missing")) == []


# disk preflight

StatVfs = namedtuple("StatVfs", "f_bavail f_frsize")


def test_rotation_errors():
    assert disk.rotation_errors(7, 3, 100) == []
    assert "no limit" in disk.rotation_errors(7, 0, 100)[0]
    assert "disables size rotation" in disk.rotation_errors(7, 3, 0)[0]


def test_free_space_counts_existing_logs(tmp_path):
    log = tmp_path / "audit" / "audit.log"
    log.parent.mkdir()
    log.write_bytes(b"x" * disk.MIB)
    (log.parent / "audit-2026-01-01T00-00-00.000.log").write_bytes(b"x" * disk.MIB)
    (log.parent / "unrelated.log").write_bytes(b"x" * disk.MIB)
    res = disk.check_free_space(str(log), 3, 1, statvfs=lambda p: StatVfs(2, disk.MIB))
    assert res["ok"] and res["required"] == 2 * disk.MIB and res["existing"] == 2 * disk.MIB
    res = disk.check_free_space(str(tmp_path / "new" / "dir" / "audit.log"), 3, 100,
                                statvfs=lambda p: StatVfs(399, disk.MIB))
    assert not res["ok"] and res["path"] == str(tmp_path) and "needs (maxbackup 3 + 1) x maxsize 100 MiB" in res["msg"]


# the module, in-process


@pytest.fixture
def host(tmp_path):
    root = tmp_path / "host"
    manifests = root / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (manifests / "kube-apiserver.yaml").write_text(KUBEADM)
    os.chmod(manifests / "kube-apiserver.yaml", 0o600)
    (manifests / "etcd.yaml").write_text("kind: Pod\n")
    policy = root / POLICY.lstrip("/")
    policy.parent.mkdir(parents=True)
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
    return root


def _args(root, **kw):
    args = {"path": str(root / "etc/kubernetes/manifests/kube-apiserver.yaml"), "host_root": str(root),
            "backup_dir": str(root / "etc/kubernetes/tmp"), "policy_sha256": "ab" * 32}
    args.update(kw)
    return {k: v for k, v in args.items() if v is not None}


def test_module_check_then_apply_then_idempotent(run_module, host):
    path = host / "etc/kubernetes/manifests/kube-apiserver.yaml"
    result, failed = run_module(module, _args(host), check=True, diff=True)
    assert not failed and result["changed"] and path.read_text() == KUBEADM
    assert "--audit-policy-file" in result["diff"]["after"]

    result, failed = run_module(module, _args(host))
    assert not failed and result["changed"]
    assert result["flags"]["--audit-log-maxbackup"] == "3"
    assert Path(result["backup_file"]).read_text() == KUBEADM
    assert Path(result["backup_file"]).parent == host / "etc/kubernetes/tmp"
    assert sorted(os.listdir(path.parent)) == ["etcd.yaml", "kube-apiserver.yaml"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"

    result, failed = run_module(module, _args(host))
    assert not failed and not result["changed"] and "backup_file" not in result


def test_module_stops_on_a_stale_backup(run_module, host):
    (host / "etc/kubernetes/manifests/kube-apiserver.yaml.bak").write_text(KUBEADM)
    result, failed = run_module(module, _args(host))
    assert failed and "kube-apiserver.yaml.bak" in result["msg"] and "Move it out" in result["msg"]
    assert (host / "etc/kubernetes/manifests/kube-apiserver.yaml").read_text() == KUBEADM


def test_module_refuses_maxbackup_zero_and_backup_dir_inside(run_module, host):
    result, failed = run_module(module, _args(host, log_maxbackup=0))
    assert failed and "maxbackup=0" in result["msg"]
    result, failed = run_module(module, _args(host, backup_dir=str(host / "etc/kubernetes/manifests/old")))
    assert failed and "inside the manifests directory" in result["msg"]


def test_module_needs_the_policy_and_the_disk(run_module, host):
    os.unlink(host / POLICY.lstrip("/"))
    result, failed = run_module(module, _args(host))
    assert failed and "write it first" in result["msg"]
    result, failed = run_module(module, _args(host), check=True)
    assert not failed and result["changed"]
    (host / POLICY.lstrip("/")).write_text("x")
    result, failed = run_module(module, _args(host, log_maxsize=10 ** 12))
    assert failed and "not enough disk" in result["msg"]
    assert (host / "etc/kubernetes/manifests/kube-apiserver.yaml").read_text() == KUBEADM


def test_module_restore_and_restart(run_module, host):
    path = host / "etc/kubernetes/manifests/kube-apiserver.yaml"
    applied, _ = run_module(module, _args(host))
    result, failed = run_module(module, _args(host, policy_sha256=None, restart=True))
    assert not failed and result["changed"] and mf.RESTART_ANNOTATION in path.read_text()
    result, failed = run_module(module, _args(host, policy_sha256=None, restore_from=applied["backup_file"]))
    assert not failed and result["changed"] and path.read_text() == KUBEADM
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    result, failed = run_module(module, _args(host, policy_sha256=None, restore_from=str(host / "nope")))
    assert failed and "does not exist" in result["msg"]
