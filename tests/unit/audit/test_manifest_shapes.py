"""Every manifest shape a kubeadm host can have is edited to the expected bytes; the role owns its flags."""

from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml_text_editor as ed

FIXTURES = Path(__file__).parent / "fixtures"
SHAPES = FIXTURES / "shapes"
POLICY = "/etc/kubernetes/audit/audit-policy.yml"
LOG = "/var/log/kubernetes/audit/audit.log"
FLAGS = mf.audit_flags(POLICY, LOG)
VOLUMES = mf.audit_volumes(POLICY, LOG)
ANN = (mf.POLICY_ANNOTATION, "0" * 64)
# the shapes: no audit flags (kubeadm init), all, some, --flag value, comments, audit volumes under other names
NAMES = ["all-flags", "some-flags", "split-form", "comments", "other-volume-names"]
INPUTS = {"no-flags": (FIXTURES / "kubeadm-v1.34-kube-apiserver.yaml").read_text()}
INPUTS.update((n, (SHAPES / (n + ".yaml")).read_text()) for n in NAMES)


def _edit(text, flags=FLAGS, state="present"):
    return mf.edit_manifest(text, flags, VOLUMES, ANN if state == "present" else None, state=state)


def _container(text):
    return yaml.safe_load(text)["spec"]["containers"][0]


def _audit_paths(text):
    pod = yaml.safe_load(text)
    return sorted((m["name"], m["mountPath"]) for m in _container(text)["volumeMounts"]
                  if "audit" in m["mountPath"]), sorted(v["name"] for v in pod["spec"]["volumes"]
                                                        if "audit" in v["hostPath"]["path"])


@pytest.mark.parametrize("name", NAMES)
def test_each_shape_is_edited_to_its_expected_result(name):
    assert _edit(INPUTS[name]) == (SHAPES / (name + ".expected.yaml")).read_text()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_each_shape_ends_with_each_flag_once_and_only_the_roles_volumes(name):
    once = _edit(INPUTS[name])
    assert _edit(once) == once, "not idempotent"
    command = _container(once)["command"]
    for flag, value in FLAGS.items():
        assert [c for c in command if c.split("=")[0] == flag] == ["%s=%s" % (flag, value)]
    assert not [c for c in command if c.startswith("--audit") and "=" not in c], "a --flag value pair is left"
    assert "30" not in command and LOG not in command
    assert _audit_paths(once) == ([("audit-log", "/var/log/kubernetes/audit"), ("audit-policy", POLICY)],
                                  ["audit-log", "audit-policy"])


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_state_absent_removes_every_flag_volume_and_annotation_of_the_role(name):
    managed = _edit(INPUTS[name], flags=mf.audit_flags(POLICY, LOG, extra={"audit-log-compress": True}))
    removed = _edit(managed, state="absent")
    assert not [c for c in _container(removed)["command"] if c.startswith("--audit")]
    assert _audit_paths(removed) == ([], [])
    annotations = yaml.safe_load(removed)["metadata"].get("annotations") or {}
    assert not [k for k in annotations if k.startswith("audit.homelab.observability/")]
    assert _edit(removed, state="absent") == removed


def test_absent_after_present_gives_back_the_kubeadm_manifest():
    assert _edit(_edit(INPUTS["no-flags"]), state="absent") == INPUTS["no-flags"]


def test_a_flag_taken_out_of_extra_args_is_removed():
    extra = mf.audit_flags(POLICY, LOG, extra={"audit-log-compress": True, "audit-log-mode": "batch"})
    with_extra = _edit(INPUTS["no-flags"], flags=extra)
    assert "--audit-log-compress=true" in _container(with_extra)["command"]
    assert mf.owned_flags(yaml.safe_load(with_extra)) == sorted(extra)
    without = _edit(with_extra, flags=dict(FLAGS, **{"--audit-log-mode": "batch"}))
    command = _container(without)["command"]
    assert "--audit-log-compress=true" not in command and "--audit-log-mode=batch" in command
    assert _edit(without) == _edit(INPUTS["no-flags"])


def test_the_module_reports_the_flags_it_removed(run_module, tmp_path):
    from ansible_collections.homelab.observability.plugins.modules import apiserver_manifest  # noqa: PLC0415

    root = tmp_path / "host"
    manifest = root / "etc/kubernetes/manifests/kube-apiserver.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(_edit(INPUTS["no-flags"], flags=mf.audit_flags(POLICY, LOG, extra={"audit-log-compress": 1})))
    (root / POLICY.lstrip("/")).parent.mkdir(parents=True)
    (root / POLICY.lstrip("/")).write_text("x")
    args = {"path": str(manifest), "host_root": str(root), "backup_dir": str(root / "etc/kubernetes/tmp")}
    result, failed = run_module(apiserver_manifest, args)
    assert not failed and result["changed"] and result["removed_flags"] == ["--audit-log-compress"]
    result, failed = run_module(apiserver_manifest, dict(args, state="absent"))
    assert not failed and result["removed_flags"] == sorted(FLAGS)


def test_a_hand_set_flag_the_role_never_set_is_left_alone():
    text = INPUTS["no-flags"].replace("    - --allow-privileged=true\n",
                                      "    - --allow-privileged=true\n    - --audit-webhook-mode=batch\n")
    assert "--audit-webhook-mode=batch" in _container(_edit(text))["command"]
    assert "--audit-webhook-mode=batch" in _container(_edit(_edit(text), state="absent"))["command"]


def test_the_log_directory_on_a_kubeadm_volume_is_refused():
    flags = mf.audit_flags(POLICY, "/etc/kubernetes/pki/audit.log")
    with pytest.raises(mf.ManifestError, match="already mounted as kubeadm's 'k8s-certs' volume"):
        mf.edit_manifest(INPUTS["no-flags"], flags, mf.audit_volumes(POLICY, "/etc/kubernetes/pki/audit.log"), ANN)


def test_the_flags_annotation_never_turns_into_another_type():
    text = _edit(INPUTS["no-flags"])
    assert yaml.safe_load(text)["metadata"]["annotations"][mf.FLAGS_ANNOTATION] == ",".join(sorted(FLAGS))
    assert ed.format_scalar("1e5") == '"1e5"' and ed.format_scalar("y") == '"y"'
