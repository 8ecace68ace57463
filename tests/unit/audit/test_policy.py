"""The audit policy validator against the apiserver's rules, and the audit_policy module."""

import copy
import os
import stat

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit import policy as ap
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml11
from ansible_collections.homelab.observability.plugins.modules import audit_policy as audit_policy_module


def _policy(*rules, **extra):
    obj = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules)}
    obj.update(extra)
    return obj


def test_defaults_are_valid_and_in_the_seed_order():
    policy = ap.default_policy()
    assert ap.validate_policy(policy) == []
    levels = [r["level"] for r in policy["rules"]]
    assert levels == ["None", "None", "None", "RequestResponse", "RequestResponse", "RequestResponse",
                      "RequestResponse", "Metadata", "Metadata"]
    assert policy["omitStages"] == ["RequestReceived"]
    rules = policy["rules"]
    assert "/healthz*" in rules[0]["nonResourceURLs"] and "/readyz*" in rules[0]["nonResourceURLs"]
    assert rules[1]["verbs"] == ["watch", "list"]
    assert rules[2]["resources"] == [{"group": "coordination.k8s.io", "resources": ["leases"]}]
    assert rules[3]["resources"][0]["resources"] == ["secrets"]
    assert rules[3]["verbs"] == ["create", "update", "patch", "delete"]
    assert set(rules[4]["resources"][0]["resources"]) == {"roles", "clusterroles", "rolebindings",
                                                          "clusterrolebindings"}
    assert rules[6]["resources"][0]["resources"] == ["namespaces", "nodes", "persistentvolumes", "namespaces/finalize",
                                                     "namespaces/status", "persistentvolumes/status"]
    assert "resources" not in rules[7] and "get" not in rules[7]["verbs"]
    assert rules[8] == {"level": "Metadata", "verbs": ["get"]}


def test_default_policy_does_not_share_state():
    a = ap.default_policy()
    a["rules"][0]["level"] = "Metadata"
    assert ap.default_policy()["rules"][0]["level"] == "None"


OK = {"level": "Metadata"}

# (id, policy, expected fragment of one error message)
INVALID = [
    ("v1beta1", dict(_policy(OK), apiVersion="audit.k8s.io/v1beta1"), "policy.apiVersion"),
    ("missing-apiversion", {"kind": "Policy", "rules": [OK]}, "set apiVersion: audit.k8s.io/v1"),
    ("wrong-kind", dict(_policy(OK), kind="AuditPolicy"), "policy.kind: 'AuditPolicy'; set kind: Policy"),
    ("no-rules", _policy(), "refuses a policy with no rules"),
    ("rules-not-list", dict(_policy(), rules={"level": "None"}), "policy.rules"),
    ("missing-level", _policy(OK, {"verbs": ["get"]}), "rules[1].level: required"),
    ("bad-level", _policy({"level": "Everything"}), "rules[0].level: unsupported value 'Everything'"),
    ("lowercase-level", _policy({"level": "metadata"}), "levels are case-sensitive"),
    ("bad-omit-stage", dict(_policy(OK), omitStages=["RequestRecieved"]), "policy.omitStages[0]: unsupported stage"),
    ("bad-rule-omit-stage", _policy({"level": "None", "omitStages": ["Done"]}), "rules[0].omitStages[0]"),
    ("url-without-slash", _policy({"level": "None", "nonResourceURLs": ["healthz"]}),
     "rules[0].nonResourceURLs[0]: 'healthz': non-resource URL rules must begin with a '/' character; "
     "write '/healthz'"),
    ("url-inner-wildcard", _policy({"level": "None", "nonResourceURLs": ["/api/*/foo"]}),
     "wildcards '*' must be the final character"),
    ("mixed-resources-and-urls", _policy({"level": "None", "nonResourceURLs": ["/metrics"],
                                          "resources": [{"group": "", "resources": ["pods"]}]}),
     "rules[0].nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs"),
    ("mixed-namespaces-and-urls", _policy({"level": "None", "nonResourceURLs": ["/metrics"],
                                           "namespaces": ["default"]}), "cannot apply to both"),
    ("uppercase-group", _policy({"level": "None", "resources": [{"group": "RBAC.authorization.k8s.io"}]}),
     "rules[0].resources[0].group: 'RBAC.authorization.k8s.io': API groups are lower case"),
    ("versioned-group", _policy({"level": "None", "resources": [{"group": "rbac.authorization.k8s.io/v1"}]}),
     "without a version, e.g. 'rbac.authorization.k8s.io'"),
    ("group-wildcard", _policy({"level": "None", "resources": [{"group": "*"}]}), "there is no group wildcard"),
    ("resource-names-without-resources",
     _policy({"level": "None", "resources": [{"group": "", "resourceNames": ["kube-root-ca.crt"]}]}),
     "rules[0].resources[0].resourceNames: using resourceNames requires at least one resource"),
    ("typo-field", _policy({"level": "None", "resource": [{"group": ""}]}), "rules[0]: unknown field 'resource'"),
    ("verbs-not-list", _policy({"level": "None", "verbs": "get"}), "rules[0].verbs: must be a list of strings"),
    ("resources-not-mappings", _policy({"level": "None", "resources": ["secrets"]}),
     "rules[0].resources[0]: must be a mapping"),
    ("rule-not-mapping", _policy("Metadata"), "rules[0]: must be a mapping"),
    ("policy-not-mapping", ["Metadata"], "policy: must be a mapping"),
    # metadata is decoded into ObjectMeta: the apiserver refuses the file when a type is wrong.
    ("metadata-not-mapping", dict(_policy(OK), metadata="audit"), "policy.metadata: must be a mapping"),
    ("metadata-name-number", dict(_policy(OK), metadata={"name": 5}), "policy.metadata.name: must be a string; got 5"),
    ("metadata-annotation-number", dict(_policy(OK), metadata={"annotations": {"a": 1}}),
     'policy.metadata.annotations["a"]: must be a string; got 1 (quote it)'),
    ("metadata-labels-list", dict(_policy(OK), metadata={"labels": ["a"]}),
     "policy.metadata.labels: must be a mapping"),
    ("metadata-bad-time", dict(_policy(OK), metadata={"creationTimestamp": "yesterday"}),
     "policy.metadata.creationTimestamp: must be an RFC 3339 time"),
    ("metadata-bad-date", dict(_policy(OK), metadata={"creationTimestamp": "2026-02-30T00:00:00Z"}),
     "must be an RFC 3339 time"),
    ("metadata-generation-string", dict(_policy(OK), metadata={"generation": "1"}),
     "policy.metadata.generation: must be an integer"),
    ("metadata-finalizers", dict(_policy(OK), metadata={"finalizers": "x"}), "policy.metadata.finalizers"),
    ("metadata-owner-controller", dict(_policy(OK), metadata={"ownerReferences": [{"controller": "yes"}]}),
     "policy.metadata.ownerReferences[0].controller: must be true or false"),
]

# Accepted by the apiserver, but the rule can never match as written: (id, policy, warning fragment).
WARNED = [
    ("unknown-verb", _policy({"level": "None", "verbs": ["read"]}),
     "rules[0].verbs[0]: unknown verb 'read' never matches a request"),
    ("uppercase-verb", _policy({"level": "None", "verbs": ["GET"]}), "verbs are lower case"),
    ("star-verb", _policy({"level": "None", "verbs": ["*"]}), "omit verbs to match every verb"),
    ("users-null", _policy({"level": "None", "users": None}),
     "rules[0].users: null is the same as leaving it out (the rule then does not select by users)"),
    ("metadata-unknown-field", dict(_policy(OK), metadata={"nmae": "x"}),
     "policy.metadata: unknown field 'nmae' is ignored"),
]


@pytest.mark.parametrize("policy,fragment", [(p, f) for _, p, f in WARNED], ids=[i for i, _, _ in WARNED])
def test_accepted_but_surely_wrong_is_a_warning(policy, fragment):
    warnings = ap.validate_policy(policy)
    assert any(fragment in w for w in warnings), warnings


VALID_METADATA = [
    {"name": "audit", "labels": {"a": "b"}, "annotations": {"y": "n", "n": None}},
    {"creationTimestamp": "2026-01-31T12:00:00Z", "deletionTimestamp": "2026-01-31T12:00:00.5+01:00"},
    {"generation": 3, "finalizers": ["x"], "ownerReferences": [{"name": "x", "controller": True}]},
    {"name": None, "creationTimestamp": None},
]


@pytest.mark.parametrize("meta", VALID_METADATA)
def test_valid_metadata(meta):
    assert ap.validate_policy(dict(_policy(OK), metadata=meta)) == []


@pytest.mark.parametrize("policy,fragment", [(p, f) for _, p, f in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_policies_are_rejected_with_a_message(policy, fragment):
    with pytest.raises(ap.PolicyError) as info:
        ap.validate_policy(policy)
    assert any(fragment in e for e in info.value.errors), info.value.errors


def test_table_is_large_enough():
    assert len(INVALID) >= 12 and len(WARNED) >= 5


def test_every_problem_is_reported_at_once():
    with pytest.raises(ap.PolicyError) as info:
        ap.validate_policy(_policy({"level": "x"}, {"level": "None", "nonResourceURLs": ["a"]}))
    assert len(info.value.errors) == 2
    assert info.value.errors[0].startswith("rules[0]") and info.value.errors[1].startswith("rules[1]")


VALID_RULES = [
    {"level": "None", "nonResourceURLs": ["*"]},
    {"level": "None", "nonResourceURLs": ["/"]},
    {"level": "Request", "resources": [{"group": ""}]},
    {"level": "Request", "resources": [{"resources": ["pods/*", "*/status", "*"]}]},
    {"level": "Request", "resources": [{"group": "apps", "resources": ["deployments"], "resourceNames": ["x"]}]},
    {"level": "Metadata", "users": ["system:kube-proxy"], "userGroups": ["system:nodes"], "namespaces": [""]},
    {"level": "None", "verbs": ["post", "head", "options", "deletecollection", "proxy"]},
    {"level": "RequestResponse", "omitStages": ["Panic"], "omitManagedFields": True},
]


@pytest.mark.parametrize("rule", VALID_RULES)
def test_valid_rules(rule):
    assert ap.validate_policy(_policy(rule)) == []


def test_catch_all_rule_warns_about_dead_rules():
    warnings = ap.validate_policy(_policy({"level": "Metadata"}, {"level": "None", "verbs": ["get"]}))
    assert warnings and "rules 1 come after rule 0" in warnings[0]


def test_render_round_trips_and_is_stable():
    policy = ap.default_policy()
    text = ap.render_policy(policy, header="managed")
    assert text.startswith('# managed\napiVersion: "audit.k8s.io/v1"\nkind: "Policy"\n')
    assert yaml.safe_load(text) == policy
    assert ap.render_policy(copy.deepcopy(policy), header="managed") == text


# The module, in-process.

def test_module_writes_validated_policy_atomically(run_module, tmp_path):
    path = tmp_path / "etc" / "kubernetes" / "audit" / "audit-policy.yml"
    args = {"path": str(path), "owner": "", "group": ""}
    result, failed = run_module(audit_policy_module, args, check=True, diff=True)
    assert not failed and result["changed"] and not path.exists()
    assert result["diff"]["before"] == "" and "RequestResponse" in result["diff"]["after"]

    result, failed = run_module(audit_policy_module, args)
    assert not failed and result["changed"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == ap.default_policy()
    assert result["sha256"] == ap.policy_sha256(path.read_text())

    result, failed = run_module(audit_policy_module, args)
    assert not failed and not result["changed"]
    result, failed = run_module(audit_policy_module, args, check=True)
    assert not result["changed"]


def test_module_refuses_invalid_policy_before_writing(run_module, tmp_path):
    path = tmp_path / "audit-policy.yml"
    path.write_text("previous\n")
    result, failed = run_module(audit_policy_module, {
        "path": str(path), "owner": "", "group": "",
        "rules": [{"level": "None", "nonResourceURLs": ["healthz"]}]})
    assert failed
    assert "rules[0].nonResourceURLs[0]" in result["msg"] and "nothing written" in result["msg"]
    assert path.read_text() == "previous\n"


def test_module_backs_up_outside_and_validate_false_bypasses(run_module, tmp_path):
    path = tmp_path / "audit" / "audit-policy.yml"
    backups = tmp_path / "backups"
    path.parent.mkdir()
    path.write_text("previous\n")
    result, failed = run_module(audit_policy_module, {
        "path": str(path), "owner": "", "group": "", "validate": False, "backup_dir": str(backups),
        "policy": {"apiVersion": "audit.k8s.io/v1beta1", "kind": "Policy", "rules": []}})
    assert not failed and result["changed"]
    assert os.path.dirname(result["backup_file"]) == str(backups)
    with open(result["backup_file"]) as handle:
        assert handle.read() == "previous\n"
    assert sorted(os.listdir(path.parent)) == ["audit-policy.yml"]


def test_backups_are_pruned_to_the_newest_ten(tmp_path):
    from ansible_collections.homelab.observability.plugins.module_utils.audit import files  # noqa: PLC0415

    target = tmp_path / "kube-apiserver.yaml"
    backups = tmp_path / "tmp"
    made = []
    for i in range(13):
        target.write_text(str(i))
        made.append(files.backup_file(str(target), str(backups), stamp="20260101T0000%02d" % i))
        os.utime(made[-1], (1000 + i, 1000 + i))
    (backups / "unrelated.yaml.20260101T000000").parent.mkdir(exist_ok=True)
    (backups / "unrelated.yaml.20260101T000000").write_text("x")
    files.prune_backups(str(backups), "kube-apiserver.yaml")
    kept = sorted(p.name for p in backups.iterdir() if p.name.startswith("kube-apiserver"))
    assert kept == sorted(os.path.basename(m) for m in made[-10:])
    assert (backups / "unrelated.yaml.20260101T000000").exists()


def test_role_defaults_hold_the_same_rules_as_the_module():
    from pathlib import Path  # noqa: PLC0415

    defaults = yaml.safe_load((Path(__file__).parents[3] / "roles/apiserver_audit/defaults/main.yml").read_text())
    rules = defaults["apiserver_audit_policy_rules"]
    # the infrastructure rule lists its subresources from a variable (the one Jinja expression)
    infrastructure = rules[6]["resources"][0]
    assert infrastructure["resources"] == (
        "{{ ['namespaces', 'nodes', 'persistentvolumes'] + apiserver_audit_infrastructure_subresources }}")
    infrastructure["resources"] = ap.INFRASTRUCTURE + defaults["apiserver_audit_infrastructure_subresources"]
    assert defaults["apiserver_audit_infrastructure_subresources"] == ap.INFRASTRUCTURE_SUBRESOURCES
    assert "nodes/status" not in ap.INFRASTRUCTURE_SUBRESOURCES
    assert rules == ap.DEFAULT_RULES
    assert defaults["apiserver_audit_policy_omit_stages"] == ap.DEFAULT_OMIT_STAGES
    assert ap.validate_policy(ap.default_policy(defaults["apiserver_audit_policy_rules"])) == []


@pytest.mark.parametrize("content,fragment", [
    ("", "is empty: the apiserver would not start with it, and it is not taken as the default policy"),
    ("# only a comment\n", "is empty"),
    (None, "is a directory; give the policy file itself"),
    ("rules: [\n", "is not valid YAML"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  users: [y]\n",
     "rules[0].users: must be a list of strings"),
], ids=["empty", "comment-only", "directory", "broken", "unquoted-y"])
def test_module_src_refuses_what_the_apiserver_would_not_load(run_module, tmp_path, content, fragment):
    src = tmp_path / "policy.yml"
    if content is None:
        src.mkdir()
    else:
        src.write_text(content)
    path = tmp_path / "out" / "audit-policy.yml"
    result, failed = run_module(audit_policy_module, {"path": str(path), "owner": "", "group": "", "src": str(src)})
    assert failed and fragment in result["msg"] and "nothing written" in result["msg"], result["msg"]
    assert not path.exists()


def test_module_src_is_validated_and_written_quoted(run_module, tmp_path):
    src = tmp_path / "policy.yml"
    src.write_text('apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  users: ["y", "1e3"]\n')
    path = tmp_path / "audit-policy.yml"
    result, failed = run_module(audit_policy_module, {"path": str(path), "owner": "", "group": "", "src": str(src)})
    assert not failed and result["changed"]
    assert yaml11.go_load(path.read_text())["rules"][0]["users"] == ["y", "1e3"]
