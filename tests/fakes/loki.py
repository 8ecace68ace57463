"""A stand-in for Loki's HTTP API (Loki cannot be built or installed here).

Serves the documented shapes of ``GET /ready``, ``GET /loki/api/v1/series``,
``GET /loki/api/v1/query_range`` (log queries: a stream selector with =, !=, =~, !~ matchers and
``|=`` / ``!=`` line filters) and ``POST /loki/api/v1/push`` (JSON). Its LogQL is a subset, enough
for what the verify checks send.

``tail_audit_log(path, redact=True)`` makes it also play Alloy's audit pipeline: it follows a real
kube-apiserver audit log and stores each event under ``{job="kubernetes-audit", level, verb, user}``,
replacing Secret bodies with ``<redacted>`` when ``redact`` is on.
"""

from __future__ import annotations

import json
import re
import threading
import time

from .base import FakeServer

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_FILTER = re.compile(r'\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"')


def parse_logql(query: str):
    """(matchers, line_filters) of ``{a="b", c=~"d"} |= "x"``; ValueError on anything else."""
    query = query.strip()
    if not query.startswith("{") or "}" not in query:
        raise ValueError("parse error: queries must start with a stream selector {...}")
    selector, rest = query[1:].split("}", 1)
    matchers, pos = [], 0
    while pos < len(selector):
        m = _MATCHER.match(selector, pos)
        if not m:
            raise ValueError("parse error at %r" % selector[pos:])
        matchers.append((m.group(1), m.group(2), m.group(3).replace('\\"', '"')))
        pos = m.end()
    if not matchers or all(op in ("!=", "!~") or (op == "=~" and re.fullmatch(v, "")) for _name, op, v in matchers):
        raise ValueError("queries require at least one regexp or equality matcher that does not have an "
                         "empty-compatible value")
    filters, pos = [], 0
    while rest[pos:].strip():
        m = _FILTER.match(rest, pos)
        if not m:
            raise ValueError("parse error at %r (this fake knows line filters only)" % rest[pos:])
        filters.append((m.group(1), m.group(2).replace('\\"', '"')))
        pos = m.end()
    return matchers, filters


def _labels_match(labels, matchers):
    for name, op, value in matchers:
        actual = labels.get(name, "")
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "=~" and not re.fullmatch(value, actual):
            return False
        if op == "!~" and re.fullmatch(value, actual):
            return False
    return True


def _line_match(line, filters):
    for op, value in filters:
        if op == "|=" and value not in line:
            return False
        if op == "!=" and value in line:
            return False
        if op == "|~" and not re.search(value, line):
            return False
        if op == "!~" and re.search(value, line):
            return False
    return True


def audit_labels(event: dict) -> dict:
    """The labels Alloy's audit pipeline attaches (job, level, verb, user)."""
    return {"job": "kubernetes-audit", "level": event.get("level", ""), "verb": event.get("verb", ""),
            "user": (event.get("user") or {}).get("username", "")}


def redact_secret_bodies(event: dict, text="<redacted>") -> dict:
    """Alloy's redaction stage, as the alloy role configures it: Secret request/response bodies go."""
    if (event.get("objectRef") or {}).get("resource") == "secrets":
        for key in ("requestObject", "responseObject"):
            if key in event:
                event[key] = text
    return event


# the parts of Loki's /config (its running configuration) that loki.retention reads, in the form Loki
# prints durations (168h as 1w)
RUNNING_CONFIG = """\
limits_config:
  retention_period: 1w
compactor:
  working_directory: /var/loki/compactor
  retention_enabled: true
  retention_delete_delay: 2h
  delete_request_store: filesystem
"""


class FakeLoki(FakeServer):
    def __init__(self, config=RUNNING_CONFIG):
        super().__init__()
        self.ready = True
        self.config = config
        self.entries: list[tuple[dict, int, str]] = []  # (labels, ts_ns, line)
        self._lock = threading.Lock()
        self._tail_stop = threading.Event()
        self._tail_thread = None

    # --- data ------------------------------------------------------------------------------
    def push(self, labels: dict, line: str, ts_ns: int | None = None):
        with self._lock:
            self.entries.append((dict(labels), int(ts_ns or time.time_ns()), line))

    def tail_audit_log(self, path, redact=True, interval=0.1):
        """Follow a kube-apiserver audit log (JSON lines) from its current end, like Alloy does."""
        def run():
            offset = None
            while not self._tail_stop.is_set():
                chunk = b""
                try:
                    with open(path, "rb") as handle:
                        size = handle.seek(0, 2)
                        offset = size if offset is None else (0 if size < offset else offset)  # rotated: restart
                        handle.seek(offset)
                        chunk = handle.read()
                except FileNotFoundError:
                    offset = 0
                cut = chunk.rfind(b"\n") + 1
                if cut:
                    offset += cut
                    for raw in chunk[:cut].splitlines():
                        try:
                            event = json.loads(raw)
                        except ValueError:
                            continue
                        if redact:
                            event = redact_secret_bodies(event)
                        self.push(audit_labels(event), json.dumps(event))
                self._tail_stop.wait(interval)

        self._tail_thread = threading.Thread(target=run, name="fake-loki-audit-tail", daemon=True)
        self._tail_thread.start()

    def stop(self):
        self._tail_stop.set()
        if self._tail_thread:
            self._tail_thread.join(5)
        super().stop()

    # --- API -------------------------------------------------------------------------------
    def _window(self, request):
        end = int(request.arg("end") or time.time_ns())
        start = int(request.arg("start") or end - 3600 * 10**9)
        return start, end

    def handle(self, request):
        if request.path == "/ready":
            return (200, "ready\n", {}) if self.ready else (503, "Ingester not ready: waiting for 15s after "
                                                                 "being ready\n", {})
        if request.path == "/config":
            return 200, self.config, {"Content-Type": "text/plain; charset=utf-8"}
        if request.path == "/loki/api/v1/push" and request.method == "POST":
            for stream in request.json().get("streams", []):
                for ts, line in stream.get("values", []):
                    self.push(stream.get("stream", {}), line, int(ts))
            return 204, b"", {}
        if request.path == "/loki/api/v1/series":
            start, end = self._window(request)
            selectors = [v for k, v in request.query if k == "match[]"]
            try:
                parsed = [parse_logql(s)[0] for s in selectors]
            except ValueError as exc:
                return 400, str(exc) + "\n", {}
            seen, data = set(), []
            with self._lock:
                for labels, ts, _line in self.entries:
                    if start <= ts <= end and any(_labels_match(labels, m) for m in parsed):
                        key = tuple(sorted(labels.items()))
                        if key not in seen:
                            seen.add(key)
                            data.append(labels)
            return 200, {"status": "success", "data": data}, {}
        if request.path == "/loki/api/v1/query_range":
            start, end = self._window(request)
            try:
                matchers, filters = parse_logql(request.arg("query", ""))
            except ValueError as exc:
                return 400, str(exc) + "\n", {}
            limit = int(request.arg("limit") or 100)
            streams: dict = {}
            with self._lock:
                hits = [(labels, ts, line) for labels, ts, line in self.entries
                        if start <= ts <= end and _labels_match(labels, matchers) and _line_match(line, filters)]
            hits.sort(key=lambda e: e[1], reverse=request.arg("direction", "backward") == "backward")
            for labels, ts, line in hits[:limit]:
                streams.setdefault(tuple(sorted(labels.items())), []).append([str(ts), line])
            result = [{"stream": dict(key), "values": values} for key, values in streams.items()]
            data = {"resultType": "streams", "result": result, "stats": {}}
            return 200, {"status": "success", "data": data}, {}
        return 404, "404 page not found\n", {}
