"""Golden tests of the Alloy values and of the Alloy configuration the role renders.

The redaction expressions are RE2 in Alloy (Go's regexp); the tests run them with RE2 itself
(google-re2), with Alloy's stage.replace semantics: every capture group of a match is replaced.
"""

import json
import re
from pathlib import Path

import pytest
import re2

# Audit events written by the real lab kube-apiserver (v1.34, a RequestResponse policy): a
# TokenRequest and a TokenReview of its token, Secrets created, applied, JSON-, merge- and
# strategic-patched (also the last-applied annotation by JSON patch), replaced and deleted. The
# secret values all contain "hunter2" (or its base64 "aHVudGVy"); the tokens are JWTs of a lab CA
# that no longer exists.
REAL_EVENTS = Path(__file__).parent / "fixtures" / "audit-events-lab-apiserver.jsonl"
LEAKS = re.compile(r"hunter2|aHVudGVy|eyJ[A-Za-z0-9_-]{20,}")


def _alloy(render, **extra):
    (comp,) = render(["alloy"], **extra)["alloy"]
    return comp


@pytest.fixture(scope="module")
def alloy(render):
    return _alloy(render)


@pytest.fixture(scope="module")
def config(alloy):
    return alloy["values"]["alloy"]["configMap"]["content"]


def block(config, header):
    """The text of the top-level block that starts with `header` (balanced braces)."""
    start = config.index(header)
    depth = 0
    for i in range(config.index("{", start), len(config)):
        depth += {"{": 1, "}": -1}.get(config[i], 0)
        if depth == 0:
            return config[start:i + 1]
    raise AssertionError("unbalanced block %s" % header)


def test_release_source_and_wave(alloy):
    assert alloy["wave"] == 0
    assert alloy["chart"]["ref"] == "alloy"
    assert alloy["chart"]["version"] == "1.11.1"


def test_daemonset_with_control_plane_tolerations(alloy):
    controller = alloy["values"]["controller"]
    assert controller["type"] == "daemonset"
    keys = {(t["key"], t["operator"], t["effect"]) for t in controller["tolerations"]}
    assert ("node-role.kubernetes.io/control-plane", "Exists", "NoSchedule") in keys


def test_audit_log_host_path_mounted_read_only(alloy):
    values = alloy["values"]
    volumes = {v["name"]: v for v in values["controller"]["volumes"]["extra"]}
    mounts = {m["name"]: m for m in values["alloy"]["mounts"]["extra"]}
    assert volumes["audit-log"]["hostPath"]["path"] == "/var/log/kubernetes/audit"
    assert mounts["audit-log"]["readOnly"] is True
    assert mounts["audit-log"]["mountPath"] == "/host/audit"
    assert values["alloy"]["mounts"]["varlog"] is True


def test_privilege_to_read_the_0600_audit_log_and_nothing_more(alloy):
    sc = alloy["values"]["alloy"]["securityContext"]
    assert sc["runAsUser"] == 0
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]}


def test_positions_kept_on_the_host(alloy):
    values = alloy["values"]
    volumes = {v["name"]: v for v in values["controller"]["volumes"]["extra"]}
    mounts = {m["name"]: m for m in values["alloy"]["mounts"]["extra"]}
    assert volumes["alloy-positions"]["hostPath"] == {"path": "/var/lib/alloy", "type": "DirectoryOrCreate"}
    assert mounts["alloy-positions"]["mountPath"] == values["alloy"]["storagePath"]
    assert not mounts["alloy-positions"].get("readOnly", False)


def test_node_name_reaches_the_config(alloy, config):
    env = alloy["values"]["alloy"]["extraEnv"]
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in env
    assert 'field = "spec.nodeName=" + sys.env("NODE_NAME")' in config


def test_pod_logs_discovered_with_namespace_pod_container_node(config):
    relabel = block(config, 'discovery.relabel "pod_logs"')
    for meta, label in (("namespace", "namespace"), ("pod_name", "pod"),
                        ("pod_container_name", "container"), ("pod_node_name", "node")):
        assert re.search(r'source_labels = \["__meta_kubernetes_%s"\]\s+target_label\s+= "%s"' % (meta, label),
                         relabel), label
    assert 'replacement   = "/var/log/pods/*$1/*.log"' in relabel
    assert "discovery.kubernetes.pods.targets" in relabel
    assert "stage.cri {}" in block(config, 'loki.process "pod_logs"')


def test_audit_log_tailed_with_job_kubernetes_audit(config):
    match = block(config, 'local.file_match "audit"')
    assert '"__path__" = "/host/audit/audit.log"' in match
    assert '"job"      = "kubernetes-audit"' in match


def test_audit_json_fields_become_labels_level_verb_user(config):
    process = block(config, 'loki.process "audit"')
    expressions = block(process, "stage.json")
    assert 'level = "level"' in expressions
    assert 'verb = "verb"' in expressions
    assert 'user = "user.username"' in expressions
    labels = block(process, "stage.labels")
    for label in ("level", "verb", "user"):
        assert '%s = ""' % label in labels
    # Redaction happens before anything is parsed or shipped.
    assert process.index("stage.replace") < process.index("stage.json")


def test_everything_goes_to_loki(config):
    url = "http://loki.monitoring.svc.cluster.local:3100/loki/api/v1/push"
    assert 'url = "%s"' % url in block(config, 'loki.write "default"')
    assert config.count("forward_to = [loki.write.default.receiver]") == 2


def _redactions(config):
    found = re.findall(r"stage\.replace \{\s+expression = `([^`]*)`\s+replace\s+= (\"(?:[^\"\\]|\\.)*\")", config)
    return [(re2.compile(expr), json.loads(rep)) for expr, rep in found]


def _replace_groups(match, replacement):
    """What Alloy's stage.replace does: every capture group of the match becomes `replacement`."""
    text = match.group(0)
    start = match.start(0)
    for g in range(len(match.groups()), 0, -1):
        if match.start(g) >= 0:
            a, b = match.start(g) - start, match.end(g) - start
            text = text[:a] + replacement + text[b:]
    return text


def _apply(redactions, line):
    for regex, replacement in redactions:
        line = regex.sub(lambda m, r=replacement: _replace_groups(m, r), line)
    return line


SECRET_CREATE = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "verb": "create",
    "user": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins"]},
    "objectRef": {"resource": "secrets", "namespace": "arr", "name": "sonarr-api", "apiVersion": "v1"},
    "requestObject": {"kind": "Secret", "apiVersion": "v1", "metadata": {
        "name": "sonarr-api", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration":
                json.dumps({"apiVersion": "v1", "data": {"api-key": "c2VjcmV0LWtleQ=="}, "kind": "Secret"})}},
        "data": {"api-key": "c2VjcmV0LWtleQ=="}, "stringData": {"conf": "{\"token\": \"hunter2\"}"}},
    "responseObject": {"kind": "Secret", "data": {"api-key": "c2VjcmV0LWtleQ=="}},
}
SECRET_JSON_PATCH = {
    "kind": "Event", "level": "RequestResponse", "verb": "patch", "user": {"username": "alice"},
    "objectRef": {"resource": "secrets", "name": "x"},
    "requestObject": [{"op": "replace", "path": "/data/password", "value": "aHVudGVyMg=="},
                      {"value": "aHVudGVyMw==", "op": "add", "path": "/stringData/other"},
                      {"path": "/data/token", "op": "add", "value": "aHVudGVyNA=="}],
}


@pytest.mark.parametrize("event", [SECRET_CREATE, SECRET_JSON_PATCH], ids=["create", "json-patch"])
def test_secret_values_are_redacted_and_the_event_stays_json(config, event):
    redactions = _redactions(config)
    assert len(redactions) == 5
    line = json.dumps(event, separators=(",", ":"))
    out = _apply(redactions, line)
    for secret in ("c2VjcmV0LWtleQ", "hunter2", "aHVudGVyMg", "aHVudGVyMw", "aHVudGVyNA"):
        assert secret not in out
    parsed = json.loads(out)
    assert parsed["user"]["username"] == event["user"]["username"]
    assert parsed["verb"] == event["verb"]
    assert "<redacted>" in out


def test_no_secret_or_token_of_real_apiserver_events_reaches_loki(config):
    redactions = _redactions(config)
    lines = REAL_EVENTS.read_text().splitlines()
    leaking = [line for line in lines if LEAKS.search(line)]
    assert len(leaking) >= 8, "the fixture must hold the secrets this test looks for"
    for line in lines:
        out = _apply(redactions, line)
        event, redacted = json.loads(line), json.loads(out)
        assert not LEAKS.search(out), (event["verb"], event["objectRef"], LEAKS.findall(out))
        assert (redacted["verb"], redacted["user"], redacted["objectRef"]) == (
            event["verb"], event["user"], event["objectRef"])
    resources = {(json.loads(line)["objectRef"]["resource"], json.loads(line)["objectRef"].get("subresource"))
                 for line in leaking}
    assert {("secrets", None), ("tokenreviews", None), ("serviceaccounts", "token")} <= resources


def test_redaction_leaves_other_events_alone(config):
    event = {"kind": "Event", "level": "Metadata", "verb": "delete", "user": {"username": "bob"},
             "objectRef": {"resource": "pods", "name": "p"}}
    line = json.dumps(event, separators=(",", ":"))
    assert _apply(_redactions(config), line) == line


def test_redaction_opt_out(render):
    config = _alloy(render, alloy_audit_redact_secrets=False)["values"]["alloy"]["configMap"]["content"]
    assert "stage.replace" not in config
    assert "stage.json" in config


def test_audit_off_removes_the_pipeline_and_the_mount(render):
    comp = _alloy(render, alloy_audit_enabled=False)
    config = comp["values"]["alloy"]["configMap"]["content"]
    assert "kubernetes-audit" not in config
    assert "audit-log" not in [v["name"] for v in comp["values"]["controller"]["volumes"]["extra"]]


def test_scraped_through_pod_annotations_as_job_alloy(alloy):
    annotations = alloy["values"]["controller"]["podAnnotations"]
    assert annotations["prometheus.io/job"] == "alloy"
    assert annotations["prometheus.io/port"] == "12345"
