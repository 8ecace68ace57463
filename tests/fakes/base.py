"""A threaded HTTP server on 127.0.0.1:<free port> with JSON helpers; start()/stop() or a context manager."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes):
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = parse_qsl(parts.query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = body

    def arg(self, name, default=None):
        for key, value in self.query:
            if key == name:
                return value
        return default

    def json(self):
        return json.loads(self.body or b"null")


class FakeServer:
    """Subclasses implement ``handle(request) -> (status, body, headers)``; body may be a dict/list (JSON)."""

    def __init__(self):
        self.requests: list[Request] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self, self.rfile.read(length) if length else b"")
                fake.requests.append(request)
                try:
                    status, body, headers = fake.handle(request)
                except Exception as exc:  # a bug in the fake shows up as a 500 with the reason
                    status, body, headers = 500, {"error": repr(exc)}, {}
                if not isinstance(body, (bytes, str)):
                    body = json.dumps(body)
                    headers = {"Content-Type": "application/json", **headers}
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for key, value in headers.items():
                    for one in value if isinstance(value, list) else [value]:
                        self.send_header(key, one)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: Request):
        raise NotImplementedError

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class StaticServer(FakeServer):
    """Fixed answers by path: ``{"/": (302, "", {"Location": "/dashboard"})}``."""

    def __init__(self, routes):
        super().__init__()
        self.routes = routes

    def handle(self, request):
        return self.routes.get(request.path, (404, "404 page not found\n", {}))
