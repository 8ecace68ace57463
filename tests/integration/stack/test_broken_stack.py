"""The stack broken on purpose, on the lab with the real charts and the real operator: the gate must
fail with the cause, not only time out, and the next good run must repair it.

A Prometheus Operator that does not run is what a homelab meets when it turns the chart's operator
off believing another one runs (prometheusOperator.enabled=false): the Prometheus and Alertmanager
objects are there but nothing turns them into StatefulSets. (Scaling the operator's Deployment to 0
by hand is repaired by the next deploy, which reapplies the chart's replicas: 1.)"""

import json

from .deploy_playbook import deploy

KPS = "kube-prometheus-stack"


def test_no_operator_fails_the_gate_naming_it_and_the_next_run_repairs(lab, charts):
    rc, first, _stats, _s = deploy(lab.env())
    assert rc == 0, json.dumps({k: first.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    try:
        rc, broken, _stats, broken_s = deploy(lab.env(), {
            "kube_prometheus_stack_values_overrides": {"prometheusOperator": {"enabled": False}},
            "kube_prometheus_stack_prometheus_retention": "10d",
            "kube_prometheus_stack_wait_timeout": 40,
        })
        assert rc != 0, "the stack without an operator was reported healthy"
        outcome = broken["components"][KPS]
        assert outcome["health"] != "Healthy", outcome
        diagnosis = "\n".join(outcome.get("diagnosis") or [])
        assert "Prometheus monitoring/kube-prometheus-stack-prometheus is Progressing: waiting for the operator " \
               "to observe the latest spec" in diagnosis, diagnosis
        assert "no Prometheus Operator Deployment exists (label app.kubernetes.io/component=prometheus-operator)" \
               in diagnosis, diagnosis
        started = {name for wave in broken["waves"] if wave["wave"] > -1 for name in wave["components"]}
        assert started == set(), "waves after the failed one ran: %s" % started
        print("\nno operator: failed after %.1fs: %s" % (broken_s, diagnosis.splitlines()[:3]))
    finally:
        rc, repaired, _stats, repaired_s = deploy(lab.env())
    assert rc == 0, json.dumps({k: repaired.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    assert repaired["components"][KPS]["health"] == "Healthy"
    print("repaired by the next run in %.1fs" % repaired_s)
