"""Benchmark of the real stack on the lab (run by `make bench`; prints a table, asserts nothing).

playbooks/deploy.yml with inventory/lab and the real pinned chart archives, twice: the seconds of
each wave on the first run and on the no-change rerun, the write requests of the rerun (from the
apiserver's audit log, as the admin), and the no-change check of the 4 MB CRD release against its
goal (under 3 s). The first run installs only on a lab without the stack: LAB_DIR=/tmp/some-dir
gives a fresh lab (started and stopped by this run).
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "lab"))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "stack"))

from deploy_playbook import deploy, wave_seconds  # noqa: E402
from labctl import audit  # noqa: E402
from labctl.control import Lab  # noqa: E402
from labctl.pki import ADMIN_USER  # noqa: E402

CRD_NOOP_GOAL_SECONDS = 3.0


def main() -> int:
    lab = Lab.discover()
    info = lab.up(owner="bench")
    env = os.environ | {"KUBECONFIG": str(lab.paths.kubeconfig), "LAB_DIR": str(lab.paths.root)}
    try:
        rc, first, _stats, first_s = deploy(env)
        if rc != 0:
            print("bench_real_stack: the first deploy failed: %s" % first.get("msg"))
            return 1
        since = datetime.datetime.now(datetime.UTC)
        rc, second, stats, second_s = deploy(env)
        time.sleep(0.5)
        writes = list(audit.events(Path(lab.info()["audit_log"]), since, ADMIN_USER, audit.WRITE_VERBS))
        before, after = wave_seconds(first), wave_seconds(second)
        print("\nbench_real_stack: lab %s (%s)" % (lab.paths.root, "started" if not info["reused"] else "reused"))
        print("%-6s %-9s %-9s %s" % ("wave", "first s", "rerun s", "components"))
        for wave in sorted(before):
            print("%-6s %-9.1f %-9.1f %s" % (wave, before[wave][0], after.get(wave, (0.0,))[0],
                                             ", ".join(before[wave][1])))
        print("%-6s %-9.1f %-9.1f" % ("all", first_s, second_s))
        crds = second["components"]["prometheus-operator-crds"]["duration"]
        print("rerun: changed=%d, write requests %d; CRD release no-change check %.1fs (goal < %.0fs: %s)"
              % (stats["localhost"]["changed"], len(writes), crds, CRD_NOOP_GOAL_SECONDS,
                 "met" if crds < CRD_NOOP_GOAL_SECONDS else "NOT met"))
    finally:
        if not info["reused"] and not os.environ.get("LAB_KEEP"):
            lab.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
