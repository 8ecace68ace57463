"""Values Prometheus, Loki, Exportarr or Kubernetes would refuse or misread are refused by the role,
naming the variable, before anything is sent; what they accept is accepted."""

import pytest

from .rendering import RenderError


@pytest.mark.parametrize(("role", "extra", "message"), [
    ("loki", {"loki_retention_period": "7 days"}, "loki_retention_period must be a duration"),
    ("loki", {"loki_storage_size": "10 GB"}, "loki_storage_size a Kubernetes quantity"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_prometheus_retention": "fifteen"},
     "kube_prometheus_stack_prometheus_retention must be a Prometheus duration"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_prometheus_retention_size": "16Gi"}, "a size such as 16GB"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_prometheus_storage_size": "20gb"}, "Kubernetes"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_alert_pvc_usage_ratio": 0.8},
     r"above the share of the Prometheus volume its size limit lets it fill by design \(16GB of 20Gi is 0\.8\)"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_alert_pvc_usage_ratio": 90},
     "kube_prometheus_stack_alert_pvc_usage_ratio must be a used/capacity ratio between 0 and 1"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_alert_pvc_fill_days": 0},
     "kube_prometheus_stack_alert_pvc_fill_days must be a number of days above 0"),
    ("exportarr", {"exportarr_targets": [{"name": "sonarrr", "url": "http://sonarr:8989",
                                          "api_key_secret": "sonarr-api-key"}]},
     "entry sonarrr needs a name that is an Exportarr subcommand"),
    ("loki", {"loki_compactor_delete_delay": "2 hours"}, "loki_compactor_delete_delay one such as 2h"),
    ("loki", {"loki_namespace": "Monitoring"}, r"loki_namespace must be a DNS-1123 label .*such as monitoring "
                                                r"\(is 'Monitoring'\)"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_release_name": "k" * 54},
     "kube_prometheus_stack_release_name must be a Helm release name"),
    ("kube_prometheus_stack", {"kube_prometheus_stack_grafana_external_secret_refresh_interval": "1d"},
     "kube_prometheus_stack_grafana_external_secret_refresh_interval\\s+a Go duration such as 1h"),
    ("exportarr", {"exportarr_scrape_interval": "2 minutes"},
     "exportarr_scrape_interval and exportarr_scrape_timeout must be Prometheus durations such as 2m"),
    ("uptime_kuma", {"uptime_kuma_storage_size": "1 GB"}, "uptime_kuma_storage_size must be a Kubernetes quantity"),
    ("capacity_dashboards", {"capacity_dashboards_namespace": "my_ns"}, "capacity_dashboards_namespace must be"),
    # checked through its private copy, named as the user sets it
    ("kube_prometheus_stack", {"kube_prometheus_stack_alert_alloy_namespace": "Obs"},
     r"(?<!_)kube_prometheus_stack_alert_alloy_namespace must be a DNS-1123 label"),
])
def test_a_value_the_component_would_refuse_is_refused_first(render, role, extra, message):
    with pytest.raises(RenderError, match=message):
        render([role], **extra)


@pytest.mark.parametrize(("role", "extra"), [
    ("loki", {"loki_retention_period": "7d", "loki_storage_size": "10.5Gi"}),
    ("kube_prometheus_stack", {"kube_prometheus_stack_prometheus_retention": "2w3d12h",
                               "kube_prometheus_stack_prometheus_retention_size": "",
                               "kube_prometheus_stack_prometheus_storage_size": "500G"}),
    ("kube_prometheus_stack", {"kube_prometheus_stack_prometheus_retention_size": "",
                               "kube_prometheus_stack_alert_pvc_usage_ratio": 0.5}),
    ("kube_prometheus_stack", {"kube_prometheus_stack_prometheus_retention_size": "30GB",
                               "kube_prometheus_stack_prometheus_storage_size": "40Gi",
                               "kube_prometheus_stack_alert_pvc_usage_ratio": 0.8}),
    ("exportarr", {"exportarr_targets": [{"name": "sabnzbd", "url": "http://sabnzbd:8080",
                                          "api_key_secret": "sabnzbd-api-key"}]}),
    ("exportarr", {"exportarr_scrape_interval": "1m30s", "exportarr_namespace": "media-arr"}),
    ("kube_prometheus_stack", {"kube_prometheus_stack_grafana_external_secret_refresh_interval": "1h30m",
                               "kube_prometheus_stack_release_name": "k" * 53}),
])
def test_what_the_component_accepts_is_accepted(render, role, extra):
    assert render([role], **extra)[role]
