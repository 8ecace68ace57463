"""Makes the checkout importable as ``ansible_collections.homelab.observability``.

The repository root is the collection, so tests import it through a link tree under
``.build/collections`` (the same one the Makefile gives Ansible).
"""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".build" / "collections"
LINK = COLLECTIONS / "ansible_collections" / "homelab" / "observability"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        LINK.symlink_to(ROOT, target_is_directory=True)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))


@pytest.fixture(autouse=True)
def render_cache(tmp_path_factory, monkeypatch):
    """Every test its own cache of remembered renders (helm/render_memo.py): a verdict one test left must not
    spare another test's render."""
    path = tmp_path_factory.mktemp("render-cache")
    monkeypatch.setenv("HOMELAB_OBSERVABILITY_CACHE_HOME", str(path))
    return path


@pytest.fixture
def run_module(tmp_path):
    """run_module(name, args, env=None) -> the module's JSON result, run as Ansible runs it (a process of its own
    reading its arguments from a file), so no_log masking and exit paths are the real ones. Adds ``_stdout``."""

    def run(name, args, env=None):
        path = tmp_path / ("args-%s.json" % name)
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        proc = subprocess.run(
            [sys.executable, "-m", "ansible_collections.homelab.observability.plugins.modules.%s" % name, str(path)],
            cwd=COLLECTIONS, env=dict(os.environ, PYTHONPATH=str(COLLECTIONS), **(env or {})),
            capture_output=True, text=True, timeout=120, check=False,
        )
        result = json.loads(proc.stdout)
        result["_stdout"] = proc.stdout
        return result

    return run
