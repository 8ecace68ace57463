"""Connection options resolve like kubernetes.core's: task option, then K8S_AUTH_*, then kubeconfig."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube import client
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ARG_SPEC, auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: ""}
- name: other
  cluster: {server: "https://10.0.0.1:6443"}
users:
- name: admin
  user: {token: from-kubeconfig}
contexts:
- name: lab
  context: {cluster: lab, user: admin}
- name: other
  context: {cluster: other, user: admin}
current-context: lab
"""


def empty_params():
    return {name: None for name in AUTH_ARG_SPEC}


def test_task_option_wins_over_environment():
    params = dict(empty_params(), host="https://task:6443")
    merged = client.resolve_auth(params, {"K8S_AUTH_HOST": "https://env:6443"})
    assert merged["host"] == "https://task:6443"


def test_environment_fills_unset_options_and_parses_booleans():
    merged = client.resolve_auth(empty_params(), {"K8S_AUTH_VERIFY_SSL": "no", "K8S_AUTH_CONTEXT": "other"})
    assert merged["validate_certs"] is False
    assert merged["context"] == "other"


def test_certificate_verification_defaults_to_on():
    assert client.resolve_auth(empty_params(), {})["validate_certs"] is True


def test_host_and_token_build_a_bearer_configuration():
    params = dict(empty_params(), host="https://api:6443", api_key="s3cret")
    configuration = client.build_configuration(params, {})
    assert configuration.host == "https://api:6443"
    assert configuration.api_key == {"authorization": "Bearer s3cret"}
    assert configuration.verify_ssl is True


def test_kubeconfig_context_selects_the_cluster(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    params = dict(empty_params(), kubeconfig=str(path), context="other")
    assert client.build_configuration(params, {}).host == "https://10.0.0.1:6443"
    params["context"] = None
    assert client.build_configuration(params, {}).host == "https://127.0.0.1:6443"


def test_missing_kubeconfig_names_the_file_and_the_fix(tmp_path):
    params = dict(empty_params(), kubeconfig=str(tmp_path / "nope"))
    with pytest.raises(KubeConfigError, match=r"nope does not exist: set 'kubeconfig'"):
        client.build_configuration(params, {})


def test_api_key_is_never_logged_and_spec_is_copied():
    spec = auth_argument_spec()
    assert spec["api_key"]["no_log"] is True
    spec["host"]["required"] = True
    assert "required" not in AUTH_ARG_SPEC["host"]


def test_unknown_context_names_the_file_and_the_contexts_it_defines(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    params = dict(empty_params(), kubeconfig=str(path), context="prod")
    with pytest.raises(KubeConfigError) as err:
        client.build_configuration(params, {})
    assert str(err.value) == (
        "context 'prod' is not defined in kubeconfig %s (it defines: lab, other): set 'context' (or "
        "K8S_AUTH_CONTEXT) to one of them, or leave it unset to use the current-context" % path
    )


def test_a_current_context_that_is_not_defined_is_named(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG.replace("current-context: lab", "current-context: gone"))
    with pytest.raises(KubeConfigError, match="the current-context 'gone' of kubeconfig .* is not defined"):
        client.build_configuration(dict(empty_params(), kubeconfig=str(path)), {})


def test_source_names_kubeconfig_context_and_cluster(tmp_path):
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    text, skips_tls = client.describe_source(dict(empty_params(), kubeconfig=str(path), context="other"), {})
    assert text == "kubeconfig %s (context other, cluster other)" % path and skips_tls is False


def test_source_without_any_kubeconfig_is_the_in_cluster_account(tmp_path):
    environ = {"KUBECONFIG": str(tmp_path / "none")}
    assert client.describe_source(empty_params(), environ) == ("the in-cluster service account (no kubeconfig found)",
                                                               False)
