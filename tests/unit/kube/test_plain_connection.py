"""A plain kubeconfig is read without the kubernetes library, and resolves as the library resolves it."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.kube import client
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ARG_SPEC
from ansible_collections.homelab.observability.plugins.module_utils.kube.connection import Connection
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import PoolSession, Response
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi

CA = b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"
COLLECTIONS = Path(__file__).resolve().parents[3] / ".build" / "collections"


def params(**options):
    return dict({name: None for name in AUTH_ARG_SPEC}, **options)


def write_kubeconfig(tmp_path, user, cluster_extra=None):
    cluster = {"server": "https://127.0.0.1:6443", "certificate-authority-data": base64.b64encode(CA).decode()}
    cluster.update(cluster_extra or {})
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": cluster}],
        "users": [{"name": "admin", "user": user}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_a_token_kubeconfig_resolves_as_the_library_resolves_it(tmp_path):
    auth = params(kubeconfig=write_kubeconfig(tmp_path, {"token": "t0ken"}))
    plain = client.plain_connection(auth, {})
    configuration = client.build_configuration(auth, {})
    library = Connection.of_configuration(configuration, next(iter(client.secrets_of(configuration))))
    assert (plain.server, plain.token, plain.validate_certs) == (library.server, library.token, library.validate_certs)
    assert Path(plain.ca).read_bytes() == Path(library.ca).read_bytes() == CA
    assert os.stat(plain.ca).st_mode & 0o077 == 0


def test_the_collection_verifies_tls_although_the_kubeconfig_skips_it(tmp_path):
    auth = params(kubeconfig=write_kubeconfig(tmp_path, {"token": "t"}, {"insecure-skip-tls-verify": True}))
    assert client.plain_connection(auth, {}).validate_certs is True
    assert client.plain_connection(dict(auth, validate_certs=False), {}).validate_certs is False


@pytest.mark.parametrize("user, cluster", [
    ({"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}}, None),
    ({"auth-provider": {"name": "oidc"}}, None),
    ({"tokenFile": "/var/run/token"}, None),
    ({"username": "a", "password": "b"}, None),
    ({"token": "t"}, {"proxy-url": "http://proxy:3128"}),
    ({"token": "t"}, {"tls-server-name": "kubernetes"}),
])
def test_anything_else_is_left_to_the_kubernetes_library(tmp_path, user, cluster):
    assert client.plain_connection(params(kubeconfig=write_kubeconfig(tmp_path, user, cluster)), {}) is None


def test_several_kubeconfig_files_are_merged_by_the_library(tmp_path):
    first = write_kubeconfig(tmp_path, {"token": "t"})
    assert client.plain_connection(params(), {"KUBECONFIG": os.pathsep.join([first, first])}) is None


def test_an_undefined_context_is_named_before_anything_is_sent(tmp_path):
    with pytest.raises(KubeConfigError, match=r"context 'nope' is not defined in kubeconfig .*\(it defines: lab\)"):
        client.plain_connection(params(kubeconfig=write_kubeconfig(tmp_path, {"token": "t"}), context="nope"), {})


def test_the_session_sends_the_token_and_masks_it(tmp_path):
    session = client.kube_session(params(kubeconfig=write_kubeconfig(tmp_path, {"token": "t0ken"})), {})
    assert session.secrets == {"t0ken"}
    assert session.connection.token == "t0ken"
    assert session._auth_headers() == {"Authorization": "Bearer t0ken"}


class CountingSession:
    host = "https://h"

    def __init__(self):
        self.sent = []

    def send(self, method, url, body=None, headers=None, **_):
        self.sent.append((method, url))
        return Response(200, json.dumps({"gitVersion": "v1.34.4"}))


def test_the_server_version_is_asked_once_per_session():
    session = CountingSession()
    first, second = KubeApi(session), KubeApi(session)
    assert first.version()["gitVersion"] == second.version()["gitVersion"] == "v1.34.4"
    assert session.sent == [("GET", "/version")]


def test_a_pool_session_built_from_a_connection_verifies_with_its_ca(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(CA)
    session = PoolSession.of_connection(Connection("https://h:6443", token="x", ca=str(ca)))
    assert session.pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert session.pool.connection_pool_kw["ca_certs"] == str(ca)
    insecure = PoolSession.of_connection(Connection("https://h:6443", ca=str(ca), validate_certs=False))
    assert insecure.pool.connection_pool_kw["cert_reqs"] == "CERT_NONE"
    assert "ca_certs" not in insecure.pool.connection_pool_kw


@pytest.mark.parametrize("module", ["waves", "release", "verify_prometheus", "verify_alertmanager", "verify_loki",
                                    "verify_grafana", "verify_vpa", "verify_report"])
def test_the_hot_path_modules_import_neither_the_kubernetes_library_nor_ansible_urls(module):
    """About a second of every run was importing kubernetes; ansible's urls loads cryptography (0.2 s)."""
    code = ("import sys; import ansible_collections.homelab.observability.plugins.modules.%s; "
            "print([m for m in ('kubernetes', 'ansible.module_utils.urls') if m in sys.modules])" % module)
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(COLLECTIONS)),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
