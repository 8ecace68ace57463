"""Runs playbooks/deploy.yml with inventory/lab against a lab, as `make lab` does, and returns the
waves module's result; shared by tests/integration/stack and tests/bench/bench_real_stack.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from labctl.paths import charts_dir

ROOT = Path(__file__).resolve().parents[3]
ROLLOUT_TASK = "Roll out the components in waves"


def deploy(env: dict, extra_vars: dict | None = None) -> tuple[int, dict, dict, float]:
    """(return code, the rollout task's result, the play stats, wall seconds); ``env`` targets the lab
    (KUBECONFIG, LAB_DIR, PATH), ``extra_vars`` are passed with -e (as JSON). The result also holds
    ``messages``: {task name: msg} of the play's debug tasks (the plan and the final table)."""
    env = env | {
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "LAB_CHARTS": str(charts_dir()),
    }
    binary = Path(sys.executable).with_name("ansible-playbook")
    t0 = time.monotonic()
    extra = ["-e", json.dumps(extra_vars)] if extra_vars else []
    proc = subprocess.run([str(binary), "-i", "inventory/lab", "playbooks/deploy.yml", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    try:
        doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError as exc:
        tail = (proc.stdout[-3000:], proc.stderr[-3000:])
        raise AssertionError("deploy.yml printed no JSON:\n%s\n%s" % tail) from exc
    # a component role's own plan and table are skipped inside the stack: keep the tasks that ran
    messages = {task["task"]["name"].split(" : ")[-1]: task["hosts"]["localhost"].get("msg")
                for play in doc["plays"] for task in play["tasks"]
                if "localhost" in task["hosts"] and not task["hosts"]["localhost"].get("skipped")}
    for play in doc["plays"]:
        for task in play["tasks"]:
            outcome = task["hosts"].get("localhost") or {}
            # a component role's own call is skipped inside the stack, which rolls out every role's at once
            if task["task"]["name"].endswith(ROLLOUT_TASK) and not outcome.get("skipped"):
                return proc.returncode, outcome | {"messages": messages}, doc["stats"], elapsed
    raise AssertionError("no rollout task in deploy.yml's output (rc %s):\n%s" % (proc.returncode, proc.stderr[-3000:]))


def verify(env: dict, extra_vars: dict | None = None) -> subprocess.CompletedProcess:
    """playbooks/verify.yml with inventory/lab, as `make lab` ends; the default output."""
    env = env | {
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    }
    binary = Path(sys.executable).with_name("ansible-playbook")
    extra = ["-e", json.dumps(extra_vars)] if extra_vars else []
    return subprocess.run([str(binary), "-i", "inventory/lab", "playbooks/verify.yml", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)


def wave_seconds(result: dict) -> dict:
    """{wave: (seconds, [components])} of a rollout result."""
    return {w["wave"]: (w["duration"], w["components"]) for w in result.get("waves", [])}
