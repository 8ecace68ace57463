"""The first request fails at once for a cause no retry fixes, and retries what may heal.

Real sockets on 127.0.0.1 (a closed port, a TLS server with a self-signed certificate, a plain
HTTP server answering 503 once), through the real kubernetes client and urllib3, so the error
shapes are the ones a user meets.
"""

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube import preflight
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ARG_SPEC
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import api_client, describe_source
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError, KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi, TLSVerifyError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.ports import free_port

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}


def params(**kwargs):
    out = {name: None for name in AUTH_ARG_SPEC}
    out.update(kwargs)
    return out




class Handler(http.server.BaseHTTPRequestHandler):
    answers = []  # status codes (or (status, document)) to give before 200, shared by the server of one test

    def do_GET(self):  # noqa: N802 - the http.server protocol
        answer = self.answers.pop(0) if self.answers else 200
        status, doc = answer if isinstance(answer, tuple) else (answer, {"reason": "ServiceUnavailable"})
        self.reply(status, json.dumps(VERSION if status == 200 else doc), {"Content-Type": "application/json"})

    def reply(self, status, text, headers=None):
        body = text.encode()
        self.send_response(status)
        for name, value in dict(headers or {}, **{"Content-Length": str(len(body))}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(tls_files=None, answers=()):
        handler = type("H", (Handler,), {"answers": list(answers)})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls_files:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls_files)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "%s://127.0.0.1:%d" % ("https" if tls_files else "http", server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def self_signed(tmp_path):
    """(cert, key) for 127.0.0.1, signed by nobody the client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "apiserver.crt", tmp_path / "apiserver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def run_check(auth):
    api = KubeApi(api_client(auth, {}))
    t0 = time.monotonic()
    try:
        return preflight.check(api, describe_source(auth, {})), api, None, time.monotonic() - t0
    except KubeError as exc:
        return None, api, exc, time.monotonic() - t0


def test_connection_refused_fails_at_once_naming_the_endpoint():
    url = "https://127.0.0.1:%d" % free_port()
    _, api, exc, seconds = run_check(params(host=url, api_key="t"))
    assert isinstance(exc, KubeConfigError)
    assert "connection refused" in str(exc) and url in str(exc) and "the 'host' option" in str(exc)
    assert api.counts["retries"] == 0 and seconds < 5


def test_refused_later_in_a_run_is_still_retried():
    api = KubeApi(api_client(params(host="https://127.0.0.1:%d" % free_port()), {}), retry_seconds=1)
    with pytest.raises(KubeError, match="retried for 1s"):
        api.request("GET", "/version")
    assert api.counts["retries"] >= 1


def test_unverifiable_certificate_fails_at_once_and_names_the_options(serve, self_signed):
    url = serve(tls_files=self_signed)
    _, api, exc, seconds = run_check(params(host=url))
    assert isinstance(exc, KubeConfigError)
    text = str(exc)
    assert "TLS verification" in text and "certificate verify failed" in text
    assert "'ca_cert'" in text and "'validate_certs: false'" in text
    assert ("): certificate verify failed: self-signed certificate. This collection verifies TLS unless told "
            "otherwise. Give") in text
    assert api.counts["retries"] == 0 and seconds < 5


def test_a_certificate_error_is_never_retried_by_later_requests(serve, self_signed):
    api = KubeApi(api_client(params(host=serve(tls_files=self_signed)), {}))
    with pytest.raises(TLSVerifyError):
        api.request("GET", "/api/v1/namespaces")
    assert api.counts["retries"] == 0


def test_kubeconfig_that_skips_tls_is_named_with_the_setting_not_honoured(serve, self_signed, tmp_path):
    url = serve(tls_files=self_signed)
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        "clusters: [{name: homelab, cluster: {server: '%s', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: admin, user: {token: abc}}]\n"
        "contexts: [{name: lab, context: {cluster: homelab, user: admin}}]\n" % url
    )
    _, _, exc, _ = run_check(params(kubeconfig=str(config)))
    text = str(exc)
    assert "kubeconfig %s (context lab, cluster homelab)" % config in text
    assert ("This collection verifies TLS unless told otherwise, and does not honour the insecure-skip-tls-verify "
            "that cluster sets in the kubeconfig. Give the CA") in text


def test_the_right_ca_passes(serve, self_signed):
    version, api, exc, _ = run_check(params(host=serve(tls_files=self_signed), ca_cert=self_signed[0]))
    assert exc is None and version["gitVersion"] == "v1.32.0"
    assert api.counts["GET"] == 1


def test_server_errors_are_retried_then_pass(serve):
    version, api, exc, _ = run_check(params(host=serve(answers=[503, 429])))
    assert exc is None and version["gitVersion"] == "v1.32.0"
    assert api.counts["retries"] == 2
