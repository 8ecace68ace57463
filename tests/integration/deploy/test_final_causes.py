"""Causes no retry can fix stop the waves module at its first request, naming the input and the fix
(issue 14's fault table: a refused connection took 67 s of retries, an unverifiable CA 62 s)."""

import socket
import time

import pytest
import yaml

pytestmark = pytest.mark.lab


def component(namespace):
    return {"name": "probe", "namespace": namespace,
            "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}]}


def timed(run, args, auth=True):
    t0 = time.monotonic()
    result = run("waves", args, auth=auth)
    return result, time.monotonic() - t0


def test_refused_connection_fails_at_once(run, namespace):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result, seconds = timed(run, {"host": "https://127.0.0.1:%d" % port, "components": [component(namespace)]},
                            auth=False)
    assert result.get("failed")
    assert "connection refused" in result["msg"] and "127.0.0.1:%d" % port in result["msg"]
    assert seconds < 15


def test_kubeconfig_whose_ca_cannot_be_verified_fails_at_once_naming_the_setting(lab, run, namespace, tmp_path):
    doc = yaml.safe_load(lab.kubeconfig.read_text())
    for cluster in doc["clusters"]:
        cluster["cluster"].pop("certificate-authority-data", None)
        cluster["cluster"].pop("certificate-authority", None)
        cluster["cluster"]["insecure-skip-tls-verify"] = True
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(doc))
    result, seconds = timed(run, {"kubeconfig": str(config), "components": [component(namespace)]})
    assert result.get("failed")
    text = result["msg"]
    assert "certificate verify failed" in text and str(config) in text
    assert "does not honour the insecure-skip-tls-verify" in text and "'ca_cert'" in text
    assert seconds < 15


def test_unknown_context_names_the_contexts(lab, run, namespace):
    result, seconds = timed(run, {"context": "no-such-context", "components": [component(namespace)]})
    assert result.get("failed")
    assert "context 'no-such-context' is not defined in kubeconfig %s" % lab.kubeconfig in result["msg"]
    assert seconds < 15
