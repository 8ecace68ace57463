"""The Grafana datasource check on recorded-shape answers of /api/datasources."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.verify.grafana import check_datasource
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed

SOURCES = [{"name": "Prometheus", "type": "prometheus", "uid": "prom", "isDefault": True},
           {"name": "Loki", "type": "loki", "uid": "loki", "isDefault": False}]


class Grafana:
    def __init__(self, sources, healthy=True):
        self.sources, self.healthy, self.lists = sources, healthy, 0

    def datasources(self):
        self.lists += 1
        return self.sources

    def datasource_health(self, uid):
        return (True, "Data source is working") if self.healthy else (False, "%s: connection refused" % uid)


def test_a_datasource_as_specified_passes_with_grafanas_health_message():
    grafana, state = Grafana(SOURCES), {}
    assert check_datasource(grafana, {"name": "Prometheus", "type": "prometheus", "is_default": True}, state) == \
        "prometheus (default): Data source is working"
    assert check_datasource(grafana, {"name": "Loki"}, state) == "loki: Data source is working"
    assert grafana.lists == 1


@pytest.mark.parametrize(("spec", "sources", "message"), [
    ({"name": "Tempo"}, SOURCES, r"no datasource named 'Tempo' \(present: Loki, Prometheus\)"),
    ({"name": "Tempo"}, [], r"no datasource named 'Tempo' \(present: none\)"),
    ({"name": "Loki", "type": "prometheus"}, SOURCES, r"datasource 'Loki' has type 'loki', expected 'prometheus'"),
    ({"name": "Loki", "is_default": True}, SOURCES, r"'Loki' is not the default \(the default is 'Prometheus'\)"),
    ({"name": "Loki", "is_default": True}, SOURCES[1:], r"'Loki' is not the default \(the default is unset\)"),
])
def test_a_datasource_not_as_specified_fails_naming_what_differs(spec, sources, message):
    with pytest.raises(CheckFailed, match=message):
        check_datasource(Grafana(sources), spec, {})


def test_a_failing_health_check_fails_the_datasource():
    with pytest.raises(CheckFailed, match=r"health check of datasource 'Loki' failed: loki: connection refused"):
        check_datasource(Grafana(SOURCES, healthy=False), {"name": "Loki"}, {})
