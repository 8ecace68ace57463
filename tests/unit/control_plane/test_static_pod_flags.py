"""The static pod flags editor and module on kubeadm v1.34's controller-manager, scheduler and etcd manifests."""

import difflib
from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.control_plane import static_pod_flags as spf
from ansible_collections.homelab.observability.plugins.modules import static_pod_flags as module

FIXTURES = Path(__file__).parent / "fixtures"
SCHEDULER = (FIXTURES / "kubeadm-v1.34-kube-scheduler.yaml").read_text()
CONTROLLER_MANAGER = (FIXTURES / "kubeadm-v1.34-kube-controller-manager.yaml").read_text()
ETCD = (FIXTURES / "kubeadm-v1.34-etcd.yaml").read_text()
ETCD_METRICS = {"--listen-metrics-urls": "http://127.0.0.1:2381,http://192.168.56.10:2381"}


def _command(text):
    return yaml.safe_load(text)["spec"]["containers"][0]["command"]


def _changed_lines(before, after):
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize(("text", "name"), [(SCHEDULER, "kube-scheduler"),
                                            (CONTROLLER_MANAGER, "kube-controller-manager")])
def test_the_bind_address_changes_in_place_and_nothing_else(text, name):
    after = spf.edit(text, {"--bind-address": "0.0.0.0"}, container_name=name)
    assert "--bind-address=0.0.0.0" in _command(after) and "--bind-address=127.0.0.1" not in _command(after)
    assert _command(after).index("--bind-address=0.0.0.0") == _command(text).index("--bind-address=127.0.0.1")
    # the flag's line, and the annotation that remembers kubeadm's value: nothing else
    assert _changed_lines(text, after) == [
        "+  annotations:",
        '+    control-plane.homelab.observability/original-flags: "{\\"--bind-address\\":\\"127.0.0.1\\"}"',
        "-    - --bind-address=127.0.0.1", "+    - --bind-address=0.0.0.0"]
    assert yaml.safe_load(after)["metadata"]["annotations"] == {
        spf.ORIGINAL_ANNOTATION: '{"--bind-address":"127.0.0.1"}'}
    assert yaml.safe_load(after)["spec"]["containers"][0]["livenessProbe"] == \
        yaml.safe_load(text)["spec"]["containers"][0]["livenessProbe"]


def test_a_second_run_changes_nothing_and_keeps_kubeadms_value():
    once = spf.edit(SCHEDULER, {"--bind-address": "0.0.0.0"}, container_name="kube-scheduler")
    assert spf.edit(once, {"--bind-address": "0.0.0.0"}, container_name="kube-scheduler") == once
    back = spf.edit(once, {"--bind-address": "0.0.0.0"}, container_name="kube-scheduler", state="absent")
    assert back == SCHEDULER, "absent puts kubeadm's 127.0.0.1 back, byte for byte"


def test_etcd_keeps_its_other_annotation_and_gets_both_metrics_addresses():
    after = spf.edit(ETCD, ETCD_METRICS, container_name="etcd")
    data = yaml.safe_load(after)
    assert "--listen-metrics-urls=http://127.0.0.1:2381,http://192.168.56.10:2381" in _command(after)
    assert data["metadata"]["annotations"]["kubeadm.kubernetes.io/etcd.advertise-client-urls"] == \
        "https://192.168.56.10:2379"
    assert spf.edit(after, {}, container_name="etcd") == ETCD, "a flag no longer wanted gets its old value back"


def test_a_flag_that_was_not_there_is_deleted_again():
    after = spf.edit(SCHEDULER, {"--v": "2"}, container_name="kube-scheduler")
    assert "--v=2" in _command(after)
    # new flags go into kubeadm's sorted position
    assert _command(after)[-1] == "--v=2"
    assert spf.edit(after, {}, container_name="kube-scheduler") == SCHEDULER


def test_a_split_flag_becomes_one_item():
    text = SCHEDULER.replace("    - --bind-address=127.0.0.1\n", "    - --bind-address\n    - 127.0.0.1\n")
    after = spf.edit(text, {"--bind-address": "0.0.0.0"}, container_name="kube-scheduler")
    assert "127.0.0.1" not in _command(after) and "--bind-address=0.0.0.0" in _command(after)


@pytest.mark.parametrize(("flags", "message"), [
    ({"bind-address=": "x"}, "is not a flag name"),
    ({"bind-address": ""}, "has no value"),
    ({"bind-address": None}, "has no value"),
])
def test_flags_without_a_name_or_value_are_refused(flags, message):
    with pytest.raises(spf.FlagsError, match=message):
        spf.normalized(flags)


def test_names_are_normalized_and_booleans_written_as_kubernetes_reads_them():
    assert spf.normalized({"bind-address": "0.0.0.0", "--profiling": False}) == {
        "--bind-address": "0.0.0.0", "--profiling": "false"}


@pytest.mark.parametrize(("address", "refused"), [("0.0.0.0", False), ("::", False), ("127.0.0.1", False),
                                                  ("192.168.56.10", True)])
def test_a_bind_address_the_probes_cannot_reach_is_refused(address, refused):
    errors = spf.bind_address_errors({"--bind-address": address})
    assert bool(errors) == refused
    if refused:
        assert "liveness" in errors[0] and "0.0.0.0" in errors[0]


def test_a_damaged_annotation_is_named():
    text = SCHEDULER.replace("metadata:\n", "metadata:\n  annotations:\n    %s: 'not json'\n" % spf.ORIGINAL_ANNOTATION)
    with pytest.raises(spf.FlagsError, match="is not JSON"):
        spf.edit(text, {"--bind-address": "0.0.0.0"}, container_name="kube-scheduler")


# --- the module ---------------------------------------------------------------------------------
@pytest.fixture
def host(tmp_path):
    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    for name, text in (("kube-scheduler.yaml", SCHEDULER), ("kube-controller-manager.yaml", CONTROLLER_MANAGER),
                       ("etcd.yaml", ETCD)):
        (manifests / name).write_text(text)
    return tmp_path


def _args(host, **kw):
    return {"path": str(host / "etc/kubernetes/manifests/kube-scheduler.yaml"),
            "backup_dir": str(host / "etc/kubernetes/tmp"), "flags": {"bind-address": "0.0.0.0"}} | kw


def test_the_module_writes_backs_up_and_restores(run_module, host):
    path = host / "etc/kubernetes/manifests/kube-scheduler.yaml"
    result, failed = run_module(module, _args(host), diff=True)
    assert not failed and result["changed"], result
    assert result["flags"] == {"--bind-address": "0.0.0.0"}
    assert Path(result["backup_file"]).read_text() == SCHEDULER
    assert not Path(result["backup_file"]).is_relative_to(path.parent)
    assert "--bind-address=0.0.0.0" in result["diff"]["after"] and "127.0.0.1" in result["diff"]["before"]
    again, _ = run_module(module, _args(host))
    assert again["changed"] is False
    restored, _ = run_module(module, _args(host, restore_from=result["backup_file"], flags={}))
    assert restored["changed"] and path.read_text() == SCHEDULER


def test_check_mode_writes_nothing(run_module, host):
    result, failed = run_module(module, _args(host), check=True)
    assert not failed and result["changed"]
    assert (host / "etc/kubernetes/manifests/kube-scheduler.yaml").read_text() == SCHEDULER


def test_the_module_refuses_before_anything_changes(run_module, host):
    stale = host / "etc/kubernetes/manifests/kube-scheduler.yaml.bak"
    stale.write_text(SCHEDULER)
    result, failed = run_module(module, _args(host))
    assert failed and "kube-scheduler.yaml.bak" in result["msg"] and "control_plane_metrics_static_pods_allowed" in \
        result["msg"]
    stale.unlink()
    result, failed = run_module(module, _args(host, flags={"bind-address": "192.168.56.10"}))
    assert failed and "nothing changed" in result["msg"]
    result, failed = run_module(module, _args(host, backup_dir=str(host / "etc/kubernetes/manifests/old")))
    assert failed and "inside the manifests directory" in result["msg"]
    assert (host / "etc/kubernetes/manifests/kube-scheduler.yaml").read_text() == SCHEDULER
