"""A bearer token is masked by the modules themselves, so no task needs no_log for one (which hid the
whole waves result: health, diagnosis, timing)."""

from pathlib import Path

import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import client
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ARG_SPEC

from .test_preflight import serve  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "tok-3f9c1e7a"


def params(**kwargs):
    return dict({name: None for name in AUTH_ARG_SPEC}, **kwargs)


def test_the_token_is_found_wherever_it_comes_from(tmp_path):
    assert client.secrets_of(client.build_configuration(params(host="https://a:6443", api_key=TOKEN), {})) == {TOKEN}
    from_env = client.build_configuration(params(), {"K8S_AUTH_HOST": "https://a:6443", "K8S_AUTH_API_KEY": TOKEN})
    assert client.secrets_of(from_env) == {TOKEN}
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "https://a:6443"}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "u"}}],
    }))
    assert client.secrets_of(client.build_configuration(params(kubeconfig=str(config)), {})) == {TOKEN}
    assert client.secrets_of(client.build_configuration(params(host="https://a:6443"), {})) == set()


def test_a_token_from_the_environment_is_masked_in_the_module_result(serve, run_module):  # noqa: F811 - fixture
    # an apiserver (or a proxy in front of it) that quotes the token back in its refusal
    url = serve(answers=[(401, {"reason": "Unauthorized", "message": "token %s is not valid" % TOKEN})])
    result = run_module("waves", {"host": url, "components": []}, {"K8S_AUTH_API_KEY": TOKEN})
    assert result["failed"] and "401 Unauthorized: token ******** is not valid" in result["msg"]
    assert TOKEN not in result["_stdout"]


def test_no_role_task_is_no_log_because_of_a_token():
    for path in sorted(ROOT.glob("roles/*/tasks/*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            assert "api_key" not in str(task.get("no_log", "")), "%s: %s" % (path, task.get("name"))
