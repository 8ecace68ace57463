"""Two deploy locks over the real HTTP paths (KubeApi over the PoolSession of a plain kubeconfig's Connection, as
the modules use, and over a kubernetes ApiClient) against a small server with the Lease API's create, read,
update and delete semantics: the second waits for the first, then takes the lock."""

import json
import threading
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.kube import lease as ls
from ansible_collections.homelab.observability.plugins.module_utils.kube.connection import Connection
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import PoolSession
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi
from kubernetes import client as k8s_client

from tests.fakes.base import FakeServer

PREFIX = "/apis/coordination.k8s.io/v1/namespaces/monitoring/leases"


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message,
                  "code": code}, {}


class LeaseServer(FakeServer):
    """Leases of namespace monitoring, with resourceVersion checks on update and delete (preconditions)."""

    def __init__(self):
        super().__init__()
        self.leases = {}
        self.version = 0
        self.mutex = threading.Lock()

    def handle(self, request):
        with self.mutex:
            return self._handle(request)

    def _store(self, body, code=200):
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.leases[body["metadata"]["name"]] = body
        return code, body, {}

    def _handle(self, request):
        if request.method == "POST" and request.path == PREFIX:
            body = request.json()
            if body["metadata"]["name"] in self.leases:
                return status(409, "AlreadyExists", 'leases.coordination.k8s.io "%s" already exists'
                              % body["metadata"]["name"])
            return self._store(body, 201)
        name = request.path[len(PREFIX) + 1:]
        live = self.leases.get(name)
        if live is None:
            return status(404, "NotFound", "not found")
        if request.method == "GET":
            return 200, live, {}
        wanted = (request.json().get("metadata") or {}).get("resourceVersion") if request.method == "PUT" \
            else ((request.json().get("preconditions") or {}).get("resourceVersion"))
        if wanted and wanted != live["metadata"]["resourceVersion"]:
            return status(409, "Conflict", "the object has been modified; please apply your changes to the latest "
                          "version and try again")
        if request.method == "DELETE":
            del self.leases[name]
            return 200, {"kind": "Status", "status": "Success"}, {}
        return self._store(request.json())


def api_client_api(url):
    configuration = k8s_client.Configuration()
    configuration.host = url
    return KubeApi(k8s_client.ApiClient(configuration))


def plain_api(url):
    """What kube.client.kube_session gives for a kubeconfig that needs nothing of the kubernetes library."""
    return KubeApi(PoolSession.of_connection(Connection(url, token="t0ken")))


@pytest.fixture(params=[plain_api, api_client_api], ids=["of_connection", "api_client"])
def kube_api(request):
    return request.param


def test_two_runs_over_http_take_turns_and_the_second_names_the_first(kube_api):
    with LeaseServer() as server:
        first = ls.DeployLock(kube_api(server.url), "monitoring", timeout=30, poll=0.1, me="host=a pid=1 started=x")
        second = ls.DeployLock(kube_api(server.url), "monitoring", timeout=30, poll=0.1, me="host=b pid=2 started=y")
        first.acquire()
        assert server.leases[ls.NAME]["spec"]["holderIdentity"] == "host=a pid=1 started=x"
        done = threading.Event()
        threading.Thread(target=lambda: (second.acquire(), done.set()), daemon=True).start()
        time.sleep(0.5)
        assert not done.is_set()  # the second waits while the first holds the lock
        assert first.renew() is True
        assert first.release() is None
        assert done.wait(10)
        assert second.waited_for == "host=a pid=1 started=x" and second.waited >= 0.5
        assert server.leases[ls.NAME]["spec"]["holderIdentity"] == "host=b pid=2 started=y"
        assert first.api.counts == {"POST": 1, "PUT": 1, "DELETE": 1}
        assert second.release() is None and server.leases == {}


def test_a_refusal_over_http_names_the_holder_and_its_last_renewal(kube_api):
    with LeaseServer() as server:
        holder = ls.DeployLock(kube_api(server.url), "monitoring", me="host=a pid=1 started=x")
        holder.acquire()
        refused = ls.DeployLock(kube_api(server.url), "monitoring", timeout=0, me="host=b pid=2 started=y")
        try:
            refused.acquire()
            raise AssertionError("the second lock was taken")
        except ls.LockHeld as exc:
            assert "host=a pid=1 started=x, renewed 0s ago; refused at once (lock_timeout 0)" in str(exc)
        assert refused.api.counts == {"POST": 1, "GET": 1}
        # a stale release (our resourceVersion is not the stored one) leaves the other's lock alone
        server.leases[ls.NAME]["metadata"]["resourceVersion"] = "999"
        holder.release()
        assert json.dumps(server.leases[ls.NAME]).count("host=a") == 1


def test_the_plain_path_sends_its_token_with_every_lock_request():
    with LeaseServer() as server:
        lock = ls.DeployLock(plain_api(server.url), "monitoring", me="host=a pid=1 started=x")
        lock.acquire()
        lock.release()
        assert [r.headers.get("Authorization") for r in server.requests] == ["Bearer t0ken"] * 2
