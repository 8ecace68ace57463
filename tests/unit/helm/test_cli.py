"""helm takes its connection from the same resolved options as the Python client (a fake helm records it)."""

import json
import os
import sys

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import Helm, HelmError

TOKEN = "tok-5e1d2c9b"

FAKE_HELM = """#!%s
import json, os, sys
args = sys.argv[1:]
if args[:1] == ["version"]:
    print("v3.16.2+g13654a5")
    sys.exit(0)
path = args[args.index("--kubeconfig") + 1]
st = os.stat(path)
with open(os.environ["FAKE_HELM_RECORD"], "a") as out:
    out.write(json.dumps({"argv": args, "path": path, "mode": st.st_mode & 0o777,
                          "dir_mode": os.stat(os.path.dirname(path)).st_mode & 0o777,
                          "kubeconfig": open(path).read(),
                          "env": sorted(k for k in os.environ if k.startswith("HELM_KUBE"))}) + "\\n")
if os.environ.get("FAKE_HELM_FAIL"):
    sys.stderr.write("Error: UPGRADE FAILED: boom\\n")
    sys.exit(1)
print(json.dumps({"name": args[1], "info": {"status": "deployed"}}))
"""


@pytest.fixture
def fake_helm(tmp_path):
    script = tmp_path / "helm"
    script.write_text(FAKE_HELM % sys.executable)
    script.chmod(0o755)
    record = tmp_path / "record.jsonl"

    def calls():
        return [json.loads(line) for line in record.read_text().splitlines()]

    return str(script), {"PATH": os.environ.get("PATH", ""), "FAKE_HELM_RECORD": str(record)}, calls


def pems(tmp_path):
    out = {}
    for name in ("ca_cert", "client_cert", "client_key"):
        out[name] = str(tmp_path / ("%s.pem" % name))
        (tmp_path / ("%s.pem" % name)).write_text("PEM")
    return out


def only(doc, section, key):
    assert len(doc[section]) == 1
    return doc[section][0][key]


def test_host_token_certificates_and_validate_certs_reach_helm(fake_helm, tmp_path):
    binary, environ, calls = fake_helm
    auth = dict(pems(tmp_path), host="https://10.1.2.3:6443", api_key=TOKEN, validate_certs=False)
    helm = Helm(binary, auth, environ=dict(environ, HELM_KUBETOKEN="other", HELM_KUBECONTEXT="x"))
    assert helm.status("grafana", "monitoring")["info"]["status"] == "deployed"
    (call,) = calls()
    doc = yaml.safe_load(call["kubeconfig"])
    cluster, user = only(doc, "clusters", "cluster"), only(doc, "users", "user")
    assert cluster == {"server": "https://10.1.2.3:6443", "insecure-skip-tls-verify": True}
    assert user == {"token": TOKEN, "client-certificate": auth["client_cert"], "client-key": auth["client_key"]}
    assert (call["mode"], call["dir_mode"]) == (0o600, 0o700)
    assert TOKEN not in " ".join(call["argv"]) and call["env"] == []  # HELM_KUBE* cannot override it
    assert not os.path.exists(call["path"]) and not os.path.exists(os.path.dirname(call["path"]))
    Helm(binary, dict(auth, validate_certs=True), environ=environ).get_manifest("grafana", "monitoring")
    assert only(yaml.safe_load(calls()[1]["kubeconfig"]), "clusters", "cluster") == {
        "server": "https://10.1.2.3:6443", "certificate-authority": auth["ca_cert"]}


def test_options_override_the_kubeconfig_for_helm_as_for_the_client(fake_helm, tmp_path):
    binary, environ, calls = fake_helm
    conf = tmp_path / "config"
    conf.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "ca", "cluster": {"server": "https://a:6443", "insecure-skip-tls-verify": True}},
                     {"name": "cb", "cluster": {"server": "https://b:6443"}}],
        "users": [{"name": "ua", "user": {"token": "ta"}}, {"name": "ub", "user": {"token": "tb"}}],
        "contexts": [{"name": "a", "context": {"cluster": "ca", "user": "ua"}},
                     {"name": "b", "context": {"cluster": "cb", "user": "ub"}}],
    }))
    helm = Helm(binary, {"kubeconfig": str(conf)}, environ=dict(environ, K8S_AUTH_API_KEY=TOKEN))
    helm.history("grafana", "monitoring")
    helm = Helm(binary, {"kubeconfig": str(conf), "context": "b"}, environ=environ)
    helm.get_values("grafana", "monitoring")
    first, second = (yaml.safe_load(c["kubeconfig"]) for c in calls())
    # the token from K8S_AUTH_API_KEY wins over the kubeconfig's; its insecure-skip-tls-verify is not honoured
    assert only(first, "users", "user")["token"] == TOKEN
    assert only(first, "clusters", "cluster") == {"server": "https://a:6443"}
    assert only(second, "clusters", "cluster")["server"] == "https://b:6443"
    assert only(second, "users", "user")["token"] == "tb"


def test_a_failing_helm_leaves_no_kubeconfig_and_no_token_in_the_error(fake_helm):
    binary, environ, calls = fake_helm
    helm = Helm(binary, {"host": "https://h:6443", "api_key": TOKEN}, environ=dict(environ, FAKE_HELM_FAIL="1"))
    with pytest.raises(HelmError, match="UPGRADE FAILED: boom") as err:
        helm.rollback("grafana", "monitoring", 3)
    assert TOKEN not in str(err.value) and TOKEN not in " ".join(err.value.cmd)
    assert not os.path.exists(calls()[0]["path"])


def test_commands_without_the_cluster_get_no_kubeconfig(fake_helm):
    binary, environ, calls = fake_helm
    helm = Helm(binary, {"host": "https://h:6443", "api_key": TOKEN}, environ=environ)
    Helm._versions.pop(binary, None)
    assert helm.major() == 3
    with pytest.raises(FileNotFoundError):  # nothing recorded: version runs without a kubeconfig
        calls()


def test_the_version_text_is_read_once_per_binary_with_the_major():
    import subprocess  # noqa: PLC0415

    ran = []

    def runner(cmd, **_):
        ran.append(cmd[1:])
        return subprocess.CompletedProcess(cmd, 0, stdout="v3.19.5+g1234\n", stderr="")

    Helm._versions.pop("helm-version-test", None)
    first = Helm("helm-version-test", {}, environ={}, runner=runner)
    assert first.version() == "v3.19.5+g1234" and first.major() == 3
    assert Helm("helm-version-test", {}, environ={}, runner=runner).version() == "v3.19.5+g1234"
    assert ran == [["version", "--short"]]


def test_the_commands_that_change_a_release_ask_before_write_first_and_dry_runs_do_not():
    import subprocess  # noqa: PLC0415

    ran, asked = [], []

    def runner(cmd, **_):
        ran.append(cmd[1])
        return subprocess.CompletedProcess(cmd, 0, stdout='{"version": 1}', stderr="")

    helm = Helm("helm", {"host": "https://h:6443"}, environ={}, runner=runner,
                before_write=lambda: asked.append(ran[-1] if ran else None))
    try:
        helm.upgrade("app", "ns", {"ref": "/c.tgz"}, {}, dry_run="server")
        assert asked == []
        helm.upgrade("app", "ns", {"ref": "/c.tgz"}, {})
        helm.rollback("app", "ns", 1)
        helm.uninstall("app", "ns")
    finally:
        helm.close()
    # asked before each of the three ran (the last command run when asked is the one before it)
    assert asked == ["upgrade", "upgrade", "rollback"] and ran == ["upgrade", "upgrade", "rollback", "uninstall"]
