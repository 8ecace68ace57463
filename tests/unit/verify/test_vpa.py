"""The VPA checks (coverage, update mode, recommendations) on recorded-shape API objects."""

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.verify.result import CheckFailed, CheckSkipped
from ansible_collections.homelab.observability.plugins.module_utils.verify.vpa import (
    check_coverage,
    check_recommendations,
    update_mode,
)


def _obj(kind, ns, name, **spec):
    return kind, {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def _vpa(ns, kind, name, mode=None, *, created="2026-01-01T00:00:00Z", recommendation=None):
    vpa = {"metadata": {"namespace": ns, "name": "goldilocks-" + name, "creationTimestamp": created},
           "spec": {"targetRef": {"kind": kind, "name": name}}}
    if mode:
        vpa["spec"]["updatePolicy"] = {"updateMode": mode}
    if recommendation:
        vpa["status"] = {"recommendation": {"containerRecommendations": recommendation}}
    return vpa


def test_a_vpa_without_update_mode_counts_as_auto():
    assert update_mode(_vpa("a", "Deployment", "x")) == "Auto"
    workloads = [_obj("Deployment", "a", "x"), _obj("Deployment", "kube-public", "y")]
    with pytest.raises(CheckFailed, match=r"1 VPAs do not have updateMode Off: a/goldilocks-x \(updateMode Auto\)"):
        check_coverage(workloads, [_vpa("a", "Deployment", "x")], ["kube-public"])
    assert check_coverage(workloads, [_vpa("a", "Deployment", "x", "Off")], ["kube-public"]) == \
        "1 workloads covered by VPAs with updateMode Off"


def test_a_workload_with_a_controller_is_covered_by_a_vpa_of_that_controller():
    controller = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "name": "kps-prometheus",
                  "controller": True}
    owned = {"metadata": {"namespace": "monitoring", "name": "prometheus-kps-prometheus",
                          "ownerReferences": [controller]}}
    of_prometheus = _vpa("monitoring", "Prometheus", "kps-prometheus", "Off")
    of_statefulset = _vpa("monitoring", "StatefulSet", "prometheus-kps-prometheus", "Off")
    assert check_coverage([("StatefulSet", owned)], [of_prometheus], []) == \
        "1 workloads covered by VPAs with updateMode Off"
    hint = r"\(a VPA must target its controller Prometheus kps-prometheus\)"
    missing = r"1 workloads have no VPA: StatefulSet monitoring/prometheus-kps-prometheus "
    with pytest.raises(CheckFailed, match=missing + hint):
        check_coverage([("StatefulSet", owned)], [of_statefulset], [])


def test_recommendations_wait_for_the_grace_period():
    vpas = [_vpa("a", "Deployment", "x", "Off", created="2026-01-01T00:00:00Z",
                 recommendation=[{"containerName": "x"}]),
            _vpa("a", "Deployment", "y", "Off", created="2026-01-01T00:09:00Z")]
    start = 1767225600  # 2026-01-01T00:00:00Z
    assert check_recommendations(vpas, [], 300, start + 600) == "1 VPAs carry recommendations"
    with pytest.raises(CheckFailed, match="1 of 2 VPAs older than 300s have no recommendation: a/goldilocks-y"):
        check_recommendations(vpas, [], 300, start + 900)


def test_young_vpas_with_a_recommendation_prove_the_recommender_early():
    start = 1767225600  # 2026-01-01T00:00:00Z
    vpas = [_vpa("a", "Deployment", "x", "Off", recommendation=[{"containerName": "x"}]),
            _vpa("a", "Deployment", "y", "Off"),
            _vpa("kube-public", "Deployment", "z", "Off", recommendation=[{"containerName": "z"}])]
    assert check_recommendations(vpas, ["kube-public"], 300, start + 60) == \
        "1 of 2 VPAs carry recommendations already (none is older than 300s yet)"
    with pytest.raises(CheckSkipped, match="no VPA is older than 300s yet"):
        check_recommendations(vpas[1:], ["kube-public"], 300, start + 60)
