"""The resolved connection and the private kubeconfig written from it."""

import os

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import client
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ARG_SPEC
from ansible_collections.homelab.observability.plugins.module_utils.kube.connection import (
    Connection,
    private_kubeconfig,
)


def params(**kwargs):
    return dict({name: None for name in AUTH_ARG_SPEC}, **kwargs)


def test_the_client_connection_carries_the_options_over_the_kubeconfig(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "https://a:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "from-file"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "u"}}],
    }))
    conn = client.connection(params(kubeconfig=str(config)), {"K8S_AUTH_API_KEY": "from-env"})
    assert (conn.server, conn.token, conn.validate_certs) == ("https://a:6443", "from-env", True)
    conn = client.connection(params(kubeconfig=str(config), validate_certs=False), {})
    assert (conn.token, conn.validate_certs) == ("from-file", False)


def test_the_kubeconfig_says_exactly_the_connection():
    doc = Connection("https://h:6443/", token="t", ca="/ca", cert="/c", key="/k", validate_certs=False).kubeconfig()
    # helm refuses a CA with the insecure flag, and an unverified connection reads no CA
    assert doc["clusters"] == [{"name": "target",
                                "cluster": {"server": "https://h:6443", "insecure-skip-tls-verify": True}}]
    assert Connection("https://h:6443", ca="/ca").kubeconfig()["clusters"][0]["cluster"] == {
        "server": "https://h:6443", "certificate-authority": "/ca"}
    assert doc["users"] == [{"name": "target", "user": {"token": "t", "client-certificate": "/c", "client-key": "/k"}}]
    assert Connection("https://h:6443").kubeconfig()["users"] == [{"name": "target", "user": {}}]


def test_the_private_kubeconfig_is_0600_and_gone_afterwards_even_on_error():
    conn = Connection("https://h:6443", token="t")
    with pytest.raises(RuntimeError), private_kubeconfig(conn) as path:
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        assert yaml.safe_load(open(path).read())["users"][0]["user"]["token"] == "t"  # noqa: SIM115
        raise RuntimeError
    assert not os.path.exists(os.path.dirname(path))
