"""A request to an apiserver that accepts the connection and never answers ends with an error."""

import socket
import threading
import time

import pytest
import urllib3
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import PoolSession
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi


@pytest.fixture
def silent_server():
    """Accepts connections and reads the request, then says nothing (a half-open peer)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_apiserver_fails_the_request_instead_of_hanging(silent_server, monkeypatch):
    monkeypatch.setattr(PoolSession, "read_timeout", 0.3)
    session = PoolSession(urllib3.PoolManager(retries=False), silent_server, dict)
    api = KubeApi(session)
    api.retry_seconds = 1
    started = time.monotonic()
    with pytest.raises(KubeError, match="GET /version failed"):
        api.request("GET", "/version")
    assert time.monotonic() - started < 10


def test_the_default_timeouts_are_set():
    assert PoolSession.connect_timeout == 10.0 and PoolSession.read_timeout == 60.0
