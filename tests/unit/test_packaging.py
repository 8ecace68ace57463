"""The collection builds into a Galaxy tarball that holds what a user runs, and every module's documentation renders."""

import ast
import json
import os
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def run(*args, cwd=ROOT):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True, env=dict(os.environ)).stdout


GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
TARBALL_NAME = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
# What a user of the installed collection runs or reads, and nothing else at the top level.
SHIPPED_TOP_LEVEL = {"CHANGELOG.md", "FILES.json", "LICENSE", "MANIFEST.json", "README.md", "changelogs", "docs",
                     "inventory", "meta", "playbooks", "plugins", "roles"}
# Development only: the lab inventory reads the checkout's .lab/, the rest is lint, test and build tooling.
NOT_SHIPPED = ["inventory/lab", ".ansible-lint", ".yamllint", "ansible.cfg", ".config", "tests", "tools", "molecule",
               ".ci", ".build", ".lab", "Makefile", "requirements.txt", "pyproject.toml", "docs/conventions.md",
               "changelogs/fragments", "changelogs/config.yaml"]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out))
    return out / TARBALL_NAME


@pytest.fixture(scope="module")
def shipped(tarball):
    with tarfile.open(tarball) as archive:
        return {m.name for m in archive.getmembers() if m.isfile()}


def tracked_files():
    return set(run("git", "ls-files", "--cached", "--others", "--exclude-standard").split())


def test_tarball_ships_plugins_roles_playbooks_and_runtime_metadata(shipped):
    assert {n.split("/")[0] for n in shipped} == SHIPPED_TOP_LEVEL
    for name in ["LICENSE", "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt",
                 "changelogs/changelog.yaml"]:
        assert name in shipped, name
    assert all(("plugins/modules/%s.py" % m) in shipped for m in MODULES)
    playbooks = {p.name for p in (ROOT / "playbooks").glob("*.yml")}
    assert {n.split("/")[-1] for n in shipped if n.startswith("playbooks/")} == playbooks
    roles = {p.parent.parent.name for p in (ROOT / "roles").glob("*/tasks/main.yml")}
    assert {n.split("/")[1] for n in shipped if n.startswith("roles/")} == roles


def test_tarball_leaves_out_development_files(shipped):
    leaked = [n for n in shipped for bad in NOT_SHIPPED if n == bad or n.startswith(bad + "/")]
    assert not leaked
    # nothing built or left behind locally gets in: every shipped file (but Galaxy's manifests) is in git
    untracked = shipped - tracked_files() - {"MANIFEST.json", "FILES.json"}
    assert not untracked


def test_license_file_matches_the_declared_license(shipped):
    assert GALAXY["license"] == ["GPL-3.0-or-later"]
    text = (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text


def runtime_requirements():
    """The requirements meta/execution-environment.yml points ansible-builder at."""
    ee = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert ee["version"] == 1
    text = (ROOT / ee["dependencies"]["python"]).read_text()
    return [Requirement(line) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _third_party_imports():
    names = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ansible", "ansible_collections"}


# import name -> distribution name, where they differ
DISTRIBUTIONS = {"yaml": "pyyaml"}


def test_execution_environment_declares_every_runtime_import():
    runtime = runtime_requirements()
    declared = {r.name.lower() for r in runtime}
    imported = {DISTRIBUTIONS.get(name, name).lower() for name in _third_party_imports()}
    assert imported == declared
    # the development venv (requirements.txt, not shipped) satisfies the runtime ranges: the tests run what a user gets
    for req in runtime:
        assert req.specifier.contains(metadata.version(req.name)), (req, metadata.version(req.name))


def test_ansible_doc_lists_and_renders_every_module():
    listed = json.loads(run(str(BIN / "ansible-doc"), "-t", "module", "-l", "homelab.observability", "--json"))
    assert sorted(name.split(".")[-1] for name in listed) == MODULES
    for module in MODULES:
        doc = json.loads(run(str(BIN / "ansible-doc"), "--json", "homelab.observability.%s" % module))
        entry = doc["homelab.observability.%s" % module]
        assert entry["doc"]["short_description"], module
        assert entry["examples"].strip(), module
        assert entry["return"], module


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory):
    """A fresh project: the tarball installed with ansible-galaxy, no ansible.cfg; (project dir, env)."""
    project = tmp_path_factory.mktemp("project")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(project / "none.cfg"), ANSIBLE_COLLECTIONS_PATH=str(project / "collections"),
               ANSIBLE_HOME=str(project / "home"))
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p",
                    str(project / "collections")], cwd=project, check=True, capture_output=True, text=True, env=env)
    return project, env


def test_installed_tarball_runs_its_playbooks_by_fqcn(installed):
    project, env = installed
    assert (project / "collections" / "ansible_collections" / "homelab" / "observability" / "playbooks").is_dir()
    inventory = project / "hosts.yml"
    inventory.write_text("all:\n  children:\n    control_plane:\n      hosts:\n        cp1:\n")
    for playbook in sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml")):
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check",
                               "homelab.observability.%s" % playbook],
                              cwd=project, capture_output=True, text=True, env=env, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[WARNING]" not in proc.stderr, proc.stderr


def test_ansible_builder_finds_the_runtime_requirements_of_the_installed_collection(installed):
    project, env = installed
    out = subprocess.run([str(BIN / "ansible-builder"), "introspect", str(project / "collections")],
                         capture_output=True, text=True, env=env, check=True).stdout
    found = yaml.safe_load(out)["python"]
    ours = {Requirement(line.split("#")[0]).name.lower() for line in found
            if line.endswith("from collection homelab.observability")}
    declared = {r.name.lower() for r in runtime_requirements()}
    # ansible-builder leaves out what ansible-core itself depends on (PyYAML): the EE has it already
    core = {Requirement(r).name.lower() for r in metadata.requires("ansible-core")}
    assert ours == declared - core and "kubernetes" in ours
