"""Every member of an action group accepts the group's options through module_defaults.

A play sets ``module_defaults: group/homelab.observability.<group>`` to every option of the group and
calls each member with only its required options. The members fail afterwards (no cluster, no
apiserver host: the API address is a closed local port), which is fine; what must not happen is
Ansible refusing a group option, and each option must reach the module with the group's value.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.homelab.observability.plugins.module_utils.audit.args import audit_log_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ARG_SPEC

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
GROUPS = RUNTIME["action_groups"]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
# Share no option with a group (a policy file, a readiness probe, a report on disk, a manifest's flags), so
# they are in none.
UNGROUPED = {"apiserver_wait", "audit_policy", "static_pod_flags", "verify_report"}
NO_LOG = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def group_defaults(tmp_path):
    """{group: options}: a value for every option of the group's shared argument spec."""
    return {
        "k8s": {
            "kubeconfig": str(tmp_path / "no-kubeconfig"),
            "context": "group-context",
            "host": "https://127.0.0.1:9",
            "api_key": "group-token",
            "validate_certs": False,
            "ca_cert": str(tmp_path / "ca.pem"),
            "client_cert": str(tmp_path / "client.pem"),
            "client_key": str(tmp_path / "client-key.pem"),
        },
        "host": {
            "policy_file": "/etc/group/audit-policy.yml",
            "log_path": "/var/log/group/audit.log",
            "log_format": "legacy",
            "log_maxage": 30,
            "log_maxbackup": 10,
            "log_maxsize": 50,
            "extra_args": {"audit-log-compress": "true"},
            "host_root": str(tmp_path / "host"),
            "disk_check": False,
        },
    }


# what each member needs besides the group's options
REQUIRED = {
    "release": {"name": "group-test", "namespace": "group-test"},
    "waves": {"components": []},
    "verify_http": {"endpoints": []},
    "verify_report": {"checks": [], "dest": "/nonexistent"},
}
SHARED_SPEC = {"k8s": set(AUTH_ARG_SPEC), "host": set(audit_log_argument_spec())}


def run_members(tmp_path, defaults_key, defaults, members):
    """Run each member under ``module_defaults: {defaults_key: defaults}``; {member: result}."""
    tasks = [{"name": m, "homelab.observability.%s" % m: REQUIRED.get(m, {}), "check_mode": True,
              "ignore_errors": True} for m in members]
    play = [{"name": "module_defaults", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable},
             "module_defaults": {defaults_key: defaults}, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    # the json callback keeps each result's invocation (the module's final arguments); registered results do not
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               K8S_AUTH_KUBECONFIG="", KUBECONFIG=str(tmp_path / "no-kubeconfig"))
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                           str(tmp_path / "play.yml")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.stdout.lstrip().startswith("{"), proc.stdout[-3000:] + proc.stderr[-3000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    return {t["task"]["name"]: t["hosts"]["localhost"] for t in tasks}


def test_groups_cover_the_modules_and_share_a_spec():
    assert set(GROUPS) == {"k8s", "host"}
    grouped = {m for members in GROUPS.values() for m in members}
    assert grouped | UNGROUPED == set(MODULES) and not grouped & UNGROUPED


@pytest.mark.parametrize("group", ["k8s", "host"])
def test_every_member_accepts_the_group_options_through_module_defaults(group, tmp_path):
    defaults = group_defaults(tmp_path)[group]
    assert set(defaults) == SHARED_SPEC[group]  # the test sets every shared option
    results = run_members(tmp_path, "group/homelab.observability.%s" % group, defaults, GROUPS[group])
    assert sorted(results) == sorted(GROUPS[group])
    for member, result in results.items():
        assert "Unsupported parameters" not in result.get("msg", ""), (member, result.get("msg"))
        args = result.get("invocation", {}).get("module_args")
        assert args is not None, (member, result)
        for name, value in defaults.items():
            expected = NO_LOG if name == "api_key" else value
            assert args.get(name) == expected, (member, name, args.get(name))


def test_a_module_outside_the_group_refuses_its_options(tmp_path):
    """The check above would see a refusal: audit_policy given the k8s options fails on them."""
    results = run_members(tmp_path, "homelab.observability.audit_policy",
                          {"kubeconfig": "/x", "context": "c"}, ["audit_policy"])
    assert "Unsupported parameters" in results["audit_policy"]["msg"]
    assert "context" in results["audit_policy"]["msg"] and "kubeconfig" in results["audit_policy"]["msg"]
