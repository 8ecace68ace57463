"""The stack broken on purpose, on the lab with the real charts and the real operator: the gate must
fail with the cause, not only time out, and the next good run must repair it.

A Prometheus Operator that does not run is what a homelab meets when it turns the chart's operator
off believing another one runs (prometheusOperator.enabled=false): the Prometheus and Alertmanager
objects are there but nothing turns them into StatefulSets. (Scaling the operator's Deployment to 0
by hand is repaired by the next deploy, which reapplies the chart's replicas: 1; and a run that both
removes the operator and changes the Prometheus races the operator's exit, which may still reconcile
the change.)"""

import json
import time

from .deploy_playbook import deploy

KPS = "kube-prometheus-stack"


NO_OPERATOR = {
    # on top of what inventory/lab already overrides (the real nodes' placement)
    "kube_prometheus_stack_values_overrides": (
        "{{ (_lab_kube_prometheus_stack_on_real_nodes if _lab_on_real_nodes else {}) "
        "| combine({'prometheusOperator': {'enabled': false}}, recursive=True) }}"),
}
OPERATOR_PODS = "app.kubernetes.io/component=prometheus-operator"


def _wait_no_operator_pod(lab, timeout=120):
    from kubernetes import client  # noqa: PLC0415 - only this test needs the client

    core = client.CoreV1Api(lab.api_client())
    deadline = time.monotonic() + timeout
    while core.list_pod_for_all_namespaces(label_selector=OPERATOR_PODS).items:
        assert time.monotonic() < deadline, "the operator's pod is still there %ds after its Deployment went" % timeout
        time.sleep(1)


def test_no_operator_fails_the_gate_naming_it_and_the_next_run_repairs(lab, charts):
    rc, first, _stats, _s = deploy(lab.env())
    assert rc == 0, json.dumps({k: first.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    try:
        # the operator goes first (the objects it reconciled keep their status), then a change comes
        # that nothing reconciles: a deterministic order (one run doing both races the operator's exit)
        rc, off, _stats, _s = deploy(lab.env(), NO_OPERATOR)
        assert rc == 0, off.get("msg")
        _wait_no_operator_pod(lab)
        rc, broken, _stats, broken_s = deploy(lab.env(), NO_OPERATOR | {
            "kube_prometheus_stack_prometheus_retention": "10d", "kube_prometheus_stack_wait_timeout": 40})
        assert rc != 0, "the stack without an operator was reported healthy"
        # the lab configures Alertmanager receivers, so the rollout's own result is hidden (no_log): the
        # rescue task must still say why, with the diagnosis
        said = broken["messages"]["Fail with the cause and the diagnosis of each component that did not become healthy"]
        assert said.startswith("wave -1 did not become healthy (kube-prometheus-stack"), said
        diagnosis = said
        assert "Prometheus monitoring/kube-prometheus-stack-prometheus is Progressing: waiting for the operator " \
               "to observe the latest spec" in diagnosis, diagnosis
        assert "no Prometheus Operator Deployment exists (label app.kubernetes.io/component=prometheus-operator)" \
               in diagnosis, diagnosis
        assert "not started: alloy" in said, said
        print("\nno operator: failed after %.1fs:\n%s" % (broken_s, said))
    finally:
        rc, repaired, _stats, repaired_s = deploy(lab.env())
    assert rc == 0, json.dumps({k: repaired.get(k) for k in ("msg", "waves")}, indent=1)[-4000:]
    table = next(m for name, m in repaired["messages"].items() if name.startswith("Show how each component ended"))
    assert any(" %s " % KPS in row and "Healthy" in row for row in table), table
    print("repaired by the next run in %.1fs" % repaired_s)
