"""Input syntax, checked before anything is sent: what the receiving program accepts passes, the rest
is refused naming the input and a valid example."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.deploy import inputs


@pytest.mark.parametrize(("check", "good", "bad"), [
    (inputs.prometheus_duration, ["15d", "2w3d12h", "168h", "90s", "500ms", "1y", "0"],
     ["7 days", "fifteen", "", "1.5h", "h", "12h3d", "7D", 7]),
    (inputs.go_duration, ["1h", "90s", "1h30m", "1.5h", "300ms", "0"], ["1d", "1 h", "", "h1", "1H"]),
    (inputs.quantity, ["10Gi", "500G", "10.5Gi", "1024", "1Ti"], ["10 GB", "20gb", "1e3", "500m", "Gi", "", 10]),
    (inputs.dns_label, ["monitoring", "a", "kube-system", "a" * 63],
     ["Monitoring", "-a", "a-", "a.b", "a_b", "a" * 64]),
    (inputs.dns_subdomain, ["kube-prometheus-stack", "v1.metrics.k8s.io"], ["Loki", "a..b", ".a", "a" * 254]),
    (inputs.release_name, ["loki", "a" * 53], ["a" * 54, "Loki", "loki_1"]),
])
def test_grammar(check, good, bad):
    assert [v for v in good if not check(v)] == []
    assert [v for v in bad if check(v)] == []


def test_component_problems_name_the_option_and_give_an_example():
    problems = inputs.component_problems({"name": "Kube_Prometheus", "namespace": "Monitoring",
                                          "chart": {"ref": "kube-prometheus-stack"}})
    assert problems == [
        "name 'Kube_Prometheus' is not a Helm release name (a DNS-1123 subdomain of at most 53 characters), "
        "such as 'kube-prometheus-stack'",
        "namespace 'Monitoring' is not a DNS-1123 label (at most 63 lower case letters, digits and '-', starting and "
        "ending with a letter or digit), such as 'monitoring'",
    ]


def test_manifest_names_are_checked_but_rbac_names_may_hold_colons():
    manifests = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Dashboards", "namespace": "monitoring"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:metrics"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ok", "namespace": "Arr"}},
    ]
    problems = inputs.component_problems({"name": "dashboards", "namespace": "monitoring", "manifests": manifests})
    assert problems == [
        "manifests[0]: ConfigMap name 'Dashboards' is not a DNS-1123 subdomain (lower case letters, digits, '-' and "
        "'.', at most 253 characters), such as 'capacity-dashboards'",
        "manifests[2]: Secret ok: namespace 'Arr' is not a DNS-1123 label (at most 63 lower case letters, digits and "
        "'-', starting and ending with a letter or digit)",
    ]


def test_a_manifests_component_is_named_by_a_label_value_its_objects_carry():
    problems = inputs.component_problems({"name": "Exportarr.Sonarr", "namespace": "arr", "manifests": []})
    assert problems == ["name 'Exportarr.Sonarr' of a manifests component is not a DNS-1123 label (at most 63 "
                        "lower case letters, digits and '-', starting and ending with a letter or digit), such as "
                        "'exportarr'"]
    assert inputs.component_problems({"name": "exportarr", "namespace": "arr", "manifests": []}) == []


def test_waves_refuses_a_bad_name_before_any_request(run_module):
    # nothing listens at this host: a request would fail with "connection refused", not with the name
    components = [{"name": "loki", "namespace": "monitoring", "manifests": [], "wave": -1},
                  {"name": "alloy", "namespace": "Monitoring", "manifests": [], "wave": 0}]
    result = run_module("waves", {"host": "https://127.0.0.1:9", "components": components})
    assert result["failed"]
    assert result["msg"].startswith("components[1] (alloy): namespace 'Monitoring' is not a DNS-1123 label")
