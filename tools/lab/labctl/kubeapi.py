"""A small Kubernetes REST client on the standard library (the lab's own processes use it,
so they start fast and stay small; the tests use the official client)."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import threading
import urllib.parse
from pathlib import Path

import yaml


def _current_context(doc: dict) -> dict:
    return next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])


def current_cluster(doc: dict) -> dict:
    """The cluster entry (server, certificate-authority-data) of a kubeconfig's current context."""
    name = _current_context(doc)["cluster"]
    return next(c["cluster"] for c in doc["clusters"] if c["name"] == name)


def kubeconfig_server(path: Path) -> str:
    """The server URL of the current context of the kubeconfig at ``path``."""
    return current_cluster(yaml.safe_load(Path(path).read_text()))["server"]


class ApiError(Exception):
    def __init__(self, status: int, body: str, method: str, path: str):
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


class KubeApi:
    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float = 30.0):
        self.host, self.port, self.context, self.timeout = host, port, context, timeout
        self._local = threading.local()

    @classmethod
    def from_kubeconfig(cls, path: Path, timeout: float = 30.0) -> KubeApi:
        doc = yaml.safe_load(Path(path).read_text())
        cluster = current_cluster(doc)
        user_name = _current_context(doc)["user"]
        user = next(u["user"] for u in doc["users"] if u["name"] == user_name)
        url = urllib.parse.urlsplit(cluster["server"])
        context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain wants files
            crt, key = Path(tmp, "c.crt"), Path(tmp, "c.key")
            crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            context.load_cert_chain(crt, key)
        return cls(url.hostname, url.port or 443, context, timeout)

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body=None, *, content_type: str = "application/json",
                ok=(200, 201, 202), parse: bool = True, accept: str = "application/json"):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        text = raw.decode(errors="replace")
        if resp.status not in ok:
            raise ApiError(resp.status, text, method, path)
        if not parse:
            return text
        return json.loads(text) if text else {}

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def names(self, path: str) -> list[str]:
        """Names of the objects of a list, from the apiserver's cache, without their bodies."""
        sep = "&" if "?" in path else "?"
        doc = self.request("GET", f"{path}{sep}resourceVersion=0",
                           accept="application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
        return [item["metadata"]["name"] for item in doc.get("items") or []]

    def create(self, path: str, obj: dict) -> dict:
        return self.request("POST", path, obj)

    def create_or_exists(self, path: str, obj: dict) -> bool:
        """POST; True if created, False if it already existed."""
        try:
            self.create(path, obj)
            return True
        except ApiError as exc:
            if exc.status == 409:
                return False
            raise

    def delete(self, path: str, missing_ok: bool = True) -> None:
        try:
            self.request("DELETE", path)
        except ApiError as exc:
            if not (missing_ok and exc.status == 404):
                raise

    def patch_merge(self, path: str, patch: dict) -> dict:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def healthy(self, endpoint: str = "/readyz") -> bool:
        try:
            return self.request("GET", endpoint, parse=False).strip() == "ok"
        except (OSError, ApiError, http.client.HTTPException):
            return False
