"""Import time of each module of the collection (run by `make bench`; prints a table, asserts nothing).

Every run of a module starts a fresh Python that imports the module and all it uses before it sends
a single request, so for a no-op run (the waves or release module finding nothing to do, a verify
module) the imports are most of its cost. For each module this imports it ``BENCH_IMPORT_RUNS``
times (default 7) in a fresh interpreter under ``python -X importtime`` and prints the fastest run:
the whole import, the part that is ansible-core's own ``AnsibleModule`` (every module of every
collection pays it), the collection's own share, and whether the kubernetes library or ansible's
``urls`` module (which loads cryptography) were imported at all.

Wall time on a shared 2-core machine swings by a factor of two or three with the load, so with
``BENCH_IMPORT_INSTRUCTIONS=1`` it also counts the instructions each import executes under valgrind's
callgrind (about 20 s a module; the same count whatever else the machine does) for the modules of the
hot path: the waves and release no-op runs and the verify modules.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
PACKAGE = "ansible_collections.homelab.observability.plugins.modules"
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def modules():
    return sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def one_run(module):
    """{top-level import name: cumulative microseconds} and every name imported, for one fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import %s.%s" % (PACKAGE, module)],
                          env=env, capture_output=True, text=True, check=True)
    cumulative, names = {}, set()
    for match in LINE.finditer(proc.stderr):
        names.add(match.group(4))
        cumulative[match.group(4)] = int(match.group(2))
    return cumulative, names


def measure(module, runs):
    best = None
    for _ in range(runs):
        cumulative, names = one_run(module)
        total = cumulative["%s.%s" % (PACKAGE, module)]
        if best is None or total < best[0]:
            best = (total, cumulative.get("ansible.module_utils.basic", 0), names)
    total, basic, names = best
    return {
        "module": module,
        "total_ms": total / 1000.0,
        "ansible_basic_ms": basic / 1000.0,
        "own_ms": (total - basic) / 1000.0,
        "kubernetes": any(n == "kubernetes" or n.startswith("kubernetes.") for n in names),
        "urls": "ansible.module_utils.urls" in names,
    }


HOT_PATH = ("waves", "release", "verify_prometheus", "verify_alertmanager", "verify_loki", "verify_report")


def instructions(code):
    """Instructions (callgrind's I refs) a fresh interpreter executes for ``code``."""
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr).group(1).replace(",", ""))


def print_instructions():
    basic = instructions("import ansible.module_utils.basic")
    print("\nInstructions executed by the import (millions; callgrind)")
    print("%-24s %8s %14s %8s" % ("module", "total", "AnsibleModule", "own"))
    for module in HOT_PATH:
        total = instructions("import %s.%s" % (PACKAGE, module))
        print("%-24s %8d %14d %8d" % (module, total / 1e6, basic / 1e6, (total - basic) / 1e6))


def main():
    if not (COLLECTIONS / "ansible_collections" / "homelab" / "observability").exists():
        sys.exit("bench_imports: run `make collection-link` first")
    runs = int(os.environ.get("BENCH_IMPORT_RUNS", "7"))
    print("Module import time (fastest of %d fresh interpreters, ms)" % runs)
    print("%-24s %8s %14s %8s %11s %5s" % ("module", "total", "AnsibleModule", "own", "kubernetes", "urls"))
    for module in modules():
        row = measure(module, runs)
        print("%-24s %8.1f %14.1f %8.1f %11s %5s" % (
            row["module"], row["total_ms"], row["ansible_basic_ms"], row["own_ms"],
            "yes" if row["kubernetes"] else "no", "yes" if row["urls"] else "no"))
    if os.environ.get("BENCH_IMPORT_INSTRUCTIONS"):
        print_instructions()


if __name__ == "__main__":
    main()
