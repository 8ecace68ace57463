"""Recorded API answers (fixtures/, captured from Debian's Prometheus 2.42 and Alertmanager 0.25)
served by a fake transport, so the check logic runs without a network."""

import json
from pathlib import Path

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.probes.transport import ProbeError, Response

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_json(name):
    return json.loads((FIXTURES / name).read_text())


class FakeTransport:
    """Answers (method, path) from a table; records every request."""

    def __init__(self, routes=None, name="fake"):
        self.routes = dict(routes or {})
        self.requests = []
        self.name = name

    def describe(self):
        return self.name

    def set(self, path, body, status=200, method="GET", headers=None):
        self.routes[(method, path)] = body if callable(body) else (status, body, headers or {})

    def request(self, method, path, params=None, body=None, headers=None, *, timeout=None):
        self.requests.append((method, path, params, body, headers))
        try:
            answer = self.routes[(method, path)]
        except KeyError:
            raise ProbeError("%s: connection refused (%s %s)" % (self.name, method, path)) from None
        if callable(answer):
            answer = answer(params, body, headers)
        status, payload, resp_headers = answer
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        return Response(status, payload, resp_headers, "http://%s%s" % (self.name, path))


@pytest.fixture
def fake():
    return FakeTransport()


class Clock:
    """A monotonic clock that advances only when sleep() is called (or by ``step`` a read)."""

    def __init__(self, step=0.0):
        self.now = 0.0
        self.step = step

    def __call__(self):
        self.now += self.step
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()
