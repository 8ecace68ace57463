#!/usr/bin/env python3
"""Fills a directory with exactly the chart archives of charts.lock.yml, checked by sha256.

    tools/charts.py fetch --dest DIR [--mirror DIR] [--helm PATH]   (make charts)
    tools/charts.py lock --from DIR                                 record the digests found in DIR

Each archive is <name>-<version>.tgz. It is taken from the mirror directory when one is given,
else pulled with `helm pull --repo`. An archive already in DEST with the right digest is kept;
a wrong digest or a missing version is an error that names the chart, the version and where it
looked, and nothing is left half-written in DEST.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "charts.lock.yml"


class ChartError(Exception):
    pass


def load_lock(path=LOCK):
    entries = (yaml.safe_load(Path(path).read_text()) or {}).get("charts") or []
    for entry in entries:
        entry["version"] = str(entry["version"])
    return entries


def archive_name(entry):
    return "%s-%s.tgz" % (entry["name"], entry["version"])


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pull(entry, helm, workdir):
    if not helm:
        raise ChartError(
            "%s %s: no mirror given and no helm to pull it with (set CHARTS_MIRROR=dir or build helm: make lab-build)"
            % (entry["name"], entry["version"])
        )
    proc = subprocess.run(
        [helm, "pull", entry["name"], "--repo", entry["repo"], "--version", entry["version"], "-d", workdir],
        capture_output=True, text=True, check=False,
    )
    path = Path(workdir) / archive_name(entry)
    if proc.returncode != 0 or not path.is_file():
        raise ChartError(
            "%s %s: `helm pull` from %s failed: %s"
            % (entry["name"], entry["version"], entry["repo"], (proc.stderr or proc.stdout).strip()[-500:])
        )
    return path, entry["repo"]


def _source(entry, mirror, helm, workdir):
    if mirror:
        path = Path(mirror) / archive_name(entry)
        if not path.is_file():
            have = sorted(p.name for p in Path(mirror).glob("%s-*.tgz" % entry["name"]))
            raise ChartError(
                "%s %s: not in the mirror %s (looked for %s; it has %s)"
                % (entry["name"], entry["version"], mirror, path, ", ".join(have) or "no archive of this chart")
            )
        return path, str(path)
    return _pull(entry, helm, workdir)


def app_version(archive, name):
    """appVersion of the chart's Chart.yaml inside ``archive`` (None when it has none)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("%s/Chart.yaml" % name)
        return None if member is None else (yaml.safe_load(member.read()) or {}).get("appVersion")


def _check_app_version(entry, path, where):
    want = entry.get("app_version")
    if want is None:
        return
    try:
        got = app_version(path, entry["name"])
    except (tarfile.TarError, KeyError) as exc:
        raise ChartError("%s %s from %s is not a chart archive with %s/Chart.yaml: %s"
                         % (entry["name"], entry["version"], where, entry["name"], exc)) from exc
    if str(got) != str(want):
        raise ChartError("%s %s from %s has appVersion %s, but charts.lock.yml says %s"
                         % (entry["name"], entry["version"], where, got, want))


def fetch(entries, dest, mirror=None, helm=None):
    """Returns [(archive, 'kept' | 'copied from ...')]; raises ChartError before replacing anything
    in ``dest`` with an archive that does not match the lock."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    report = []
    with tempfile.TemporaryDirectory(dir=dest) as workdir:
        for entry in entries:
            target = dest / archive_name(entry)
            if target.is_file() and sha256(target) == entry["sha256"]:
                report.append((target.name, "kept"))
                continue
            path, where = _source(entry, mirror, helm, workdir)
            digest = sha256(path)
            if digest != entry["sha256"]:
                raise ChartError(
                    "%s %s from %s has sha256 %s, but charts.lock.yml pins %s: use the archive the lock names, "
                    "or record this one with `tools/charts.py lock` after checking it"
                    % (entry["name"], entry["version"], where, digest, entry["sha256"])
                )
            _check_app_version(entry, path, where)
            staged = Path(workdir) / (target.name + ".part")
            shutil.copyfile(path, staged)
            os.replace(staged, target)
            report.append((target.name, "copied from %s" % where))
    return report


def lock(entries, source, path=LOCK):
    """Rewrites the sha256 lines of the lock with the digests of the archives in ``source``."""
    text = Path(path).read_text()
    for entry in entries:
        archive = Path(source) / archive_name(entry)
        if not archive.is_file():
            raise ChartError("%s %s: no archive %s to record" % (entry["name"], entry["version"], archive))
        text = text.replace(entry["sha256"], sha256(archive))
    Path(path).write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_p = sub.add_parser("fetch")
    fetch_p.add_argument("--dest", required=True)
    fetch_p.add_argument("--mirror", default="")
    fetch_p.add_argument("--helm", default="")
    fetch_p.add_argument("--lock", default=str(LOCK))
    lock_p = sub.add_parser("lock")
    lock_p.add_argument("--from", dest="source", required=True)
    lock_p.add_argument("--lock", default=str(LOCK))
    args = parser.parse_args(argv)
    try:
        entries = load_lock(args.lock)
        if args.command == "lock":
            lock(entries, args.source, args.lock)
            print("charts: recorded %d digests from %s" % (len(entries), args.source))
            return 0
        for name, what in fetch(entries, args.dest, args.mirror or None, args.helm or None):
            print("charts: %s %s" % (name, what))
    except ChartError as exc:
        print("charts: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
