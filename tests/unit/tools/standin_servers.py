"""Running the lab's stand-in servers (tools/lab/images) on loopback for the tests: each built once
by the lab's own builder (cached under ~/.cache/homelab-observability/bin, keyed by the sources),
started with the arguments and environment a pod would give it, and stopped after the test. A
fake Kubernetes API (TLS, a ServiceAccount directory) serves the stand-ins that talk to one."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import images  # noqa: E402

# the resources the stand-ins list: a GET of any other last path segment names one object
COLLECTIONS = {"namespaces", "configmaps", "secrets", "deployments", "statefulsets", "verticalpodautoscalers",
               "mutatingwebhookconfigurations", "validatingwebhookconfigurations"}




def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the stand-in exited with %s: %s" % (proc.returncode, proc.stdout.read()))
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("nothing listens on %d after %ss" % (port, timeout))


class Running:
    """A started stand-in; ``stop()`` ends it (the process the test started, by its handle)."""

    def __init__(self, name, args=(), env=None, port=None):
        self.proc = subprocess.Popen([str(images.lab_binary(name)), *args], env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if port:
            wait_for_port(port, self.proc)

    def wait(self, timeout=20):
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def get(url, data=None, headers=None, method=None):
    """(status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


class FakeKube:
    """An in-memory apiserver: objects by collection path; GET (a list or one object, with an
    equality labelSelector), POST (409 when the name exists), PUT, DELETE, over TLS with a
    self-signed certificate, and the ServiceAccount directory the stand-ins read."""

    def __init__(self, tmp_path: Path, namespace="monitoring"):
        self.objects: dict[str, dict] = {}  # "/api/v1/namespaces/ns/secrets/name" -> object
        self.requests: list[tuple[str, str]] = []
        self.sa = tmp_path / "sa"
        self.sa.mkdir()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(self.sa / "tls.key"), "-out", str(self.sa / "ca.crt")],
                       check=True, capture_output=True)
        (self.sa / "token").write_text("test-token")
        (self.sa / "namespace").write_text(namespace)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.sa / "ca.crt", self.sa / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def env(self):
        return {"LAB_SERVICEACCOUNT_DIR": str(self.sa), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(self.server.server_address[1])}

    def add(self, collection: str, obj: dict) -> None:
        self.objects[collection + "/" + obj["metadata"]["name"]] = obj

    def listed(self, path: str, selector: str) -> list[dict]:
        """The objects of the collection ``path``; a cluster-wide path lists every namespace's."""
        found = []
        for key, obj in self.objects.items():
            collection = key.rsplit("/", 1)[0]
            namespaced = collection.split("/namespaces/", 1)
            flat = namespaced[0] + "/" + namespaced[1].split("/", 1)[1] if len(namespaced) == 2 else collection
            if path in (collection, flat):
                labels = obj["metadata"].get("labels") or {}
                wanted = [term.split("=", 1) for term in selector.split(",") if term]
                if all(labels.get(k) == v for k, v in wanted):
                    found.append(obj)
        return found

    def _handler(self):
        kube = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

            def _route(self):
                path, _, query = self.path.partition("?")
                kube.requests.append((self.command, path))
                if self.headers.get("Authorization") != "Bearer test-token":
                    return self._send(401, {"message": "Unauthorized"})
                selector = urllib.parse.unquote(query.partition("labelSelector=")[2].split("&")[0])
                if self.command == "GET":
                    if path in kube.objects:
                        return self._send(200, kube.objects[path])
                    if path.rsplit("/", 1)[-1] in COLLECTIONS:
                        return self._send(200, {"items": kube.listed(path, selector)})
                    return self._send(404, {"message": "not found"})
                if self.command == "POST":
                    obj = self._body()
                    key = path + "/" + obj["metadata"]["name"]
                    if key in kube.objects:
                        return self._send(409, {"message": "exists"})
                    kube.objects[key] = obj
                    return self._send(201, obj)
                if self.command == "PUT":
                    kube.objects[path] = self._body()
                    return self._send(200, kube.objects[path])
                if self.command == "DELETE":
                    kube.objects.pop(path, None)
                    return self._send(200, {})
                return self._send(405, {})

            do_GET = do_POST = do_PUT = do_DELETE = _route

        return Handler

    def stop(self):
        self.server.shutdown()

