"""The collection builds into a Galaxy tarball and every module's documentation renders."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def run(*args, cwd=ROOT):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True, env=dict(os.environ)).stdout


def test_galaxy_build_ships_plugins_and_roles_but_no_test_tooling(tmp_path):
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path))
    tarball = tmp_path / "homelab-observability-0.1.0.tar.gz"
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "MANIFEST.json" in names
    assert "meta/runtime.yml" in names
    assert all(("plugins/modules/%s.py" % m) in names for m in MODULES)
    assert not [n for n in names if n.split("/")[0] in ("tests", "tools", "molecule", ".ci", ".build", ".lab")]


def test_ansible_doc_lists_and_renders_every_module():
    listed = json.loads(run(str(BIN / "ansible-doc"), "-t", "module", "-l", "homelab.observability", "--json"))
    assert sorted(name.split(".")[-1] for name in listed) == MODULES
    for module in MODULES:
        doc = json.loads(run(str(BIN / "ansible-doc"), "--json", "homelab.observability.%s" % module))
        entry = doc["homelab.observability.%s" % module]
        assert entry["doc"]["short_description"], module
        assert entry["examples"].strip(), module
        assert entry["return"], module

