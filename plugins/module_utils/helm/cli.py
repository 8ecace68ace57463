# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The helm CLI (v3 and v4): status, history, values, dry-run renders, upgrade --install, rollback.

Only the commands and JSON shapes both major versions share are used. The connection is the one
the Python client resolves from the same options (kube/args.py, kube/connection.py): each call gets
a private kubeconfig written from it (server, token, CA, client certificate, ``validate_certs``),
removed when the call returns, so helm and the API client always authenticate the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.homelab.observability.plugins.module_utils.kube import client as kube_client
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import resolve_auth
from ansible_collections.homelab.observability.plugins.module_utils.kube.connection import private_kubeconfig
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


class HelmError(KubeError):
    def __init__(self, message, stderr="", cmd=None):
        self.stderr = stderr
        self.cmd = cmd
        super().__init__(message)


class ReleaseNotFound(HelmError):
    pass


def _release_not_found(stderr):
    return "release: not found" in stderr or re.search(r"release\S*:? not found", stderr) is not None


class Helm:
    def __init__(self, binary="helm", auth=None, environ=None, runner=None, *, connection=None, before_write=None):
        """``connection``: the module's resolved ``Connection`` (its KubeApi's); resolved from ``auth`` when None.
        ``before_write``: called before each command that changes a release (upgrade, rollback, uninstall)."""
        self.binary = binary
        self.before_write = before_write
        self.auth = resolve_auth(auth or {}, environ)
        # HELM_KUBE* (token, apiserver, CA, context, impersonation) would override the kubeconfig given to helm
        self.environ = {k: v for k, v in (os.environ if environ is None else environ).items()
                        if not k.startswith("HELM_KUBE")}
        self.runner = runner or subprocess.run
        self._tmp = None
        self._connection = connection
        self._major = None
        self.calls = []
        self.retry_seconds = 30

    # -- plumbing --------------------------------------------------------------------------------
    def close(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def tmpdir(self):
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="homelab-helm-")
            os.chmod(self._tmp, 0o700)
        return self._tmp

    def connection(self):
        """The Python client's connection, so helm authenticates the same way."""
        if self._connection is None:
            self._connection = kube_client.connection(self.auth, self.environ)
        return self._connection

    def _before_write(self):
        if self.before_write is not None:
            self.before_write()

    def run(self, args, connect=True):
        if not connect:
            return self._run([self.binary] + list(args), args)
        # a kubeconfig file per call, removed at once: the token never reaches the command line
        with private_kubeconfig(self.connection()) as path:
            return self._run([self.binary] + list(args) + ["--kubeconfig", path], args)

    def _run(self, cmd, args):
        self.calls.append(args[0] if args else "")
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.5
        while True:
            try:
                proc = self.runner(cmd, capture_output=True, text=True, env=self.environ, check=False)
            except OSError as exc:
                raise HelmError(
                    "cannot run helm (%s): install helm v3 or v4, or set binary_path to its location" % exc, cmd=cmd
                ) from exc
            # helm checks the connection before it does anything: nothing happened yet, try again
            if proc.returncode == 0 or "Kubernetes cluster unreachable" not in (proc.stderr or ""):
                break
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        if proc.returncode != 0:
            stderr = (proc.stderr or "").strip()
            if _release_not_found(stderr):
                raise ReleaseNotFound(stderr, stderr, cmd)
            raise HelmError("helm %s failed: %s" % (" ".join(args[:2]), stderr or proc.stdout), stderr, cmd)
        return proc.stdout

    _versions = {}  # binary -> ``helm version --short``, read once per process

    def version(self):
        """``helm version --short`` of this binary (v3.19.5+g...)."""
        if self.binary not in Helm._versions:
            Helm._versions[self.binary] = self.run(["version", "--short"], connect=False).strip()
        return Helm._versions[self.binary]

    def major(self):
        if self._major is None:
            out = self.version()
            match = re.search(r"v(\d+)\.", out)
            if not match:
                raise HelmError("cannot tell the helm version from %r" % out)
            if int(match.group(1)) not in (3, 4):
                raise HelmError("helm %s is not supported: use helm v3 or v4" % out)
            self._major = int(match.group(1))
        return self._major

    # -- queries (read only) ---------------------------------------------------------------------
    def status(self, name, namespace):
        """The stored release (dict with info, chart, config, manifest, version) or None."""
        try:
            return json.loads(self.run(["status", name, "-n", namespace, "-o", "json"]))
        except ReleaseNotFound:
            return None

    def history(self, name, namespace, limit=256):
        try:
            return json.loads(self.run(["history", name, "-n", namespace, "-o", "json", "--max", str(limit)]))
        except ReleaseNotFound:
            return []

    def get_values(self, name, namespace):
        out = self.run(["get", "values", name, "-n", namespace, "-o", "json"])
        return json.loads(out) or {}

    def get_manifest(self, name, namespace):
        return self.run(["get", "manifest", name, "-n", namespace])

    # -- render and change -----------------------------------------------------------------------
    def values_file(self, values):
        path = os.path.join(self.tmpdir(), "values-%d.yaml" % len(os.listdir(self.tmpdir())))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # JSON (a subset of YAML) so that no string can change type in Go's decoder: PyYAML writes
        # "y", "n" or "1e3" unquoted, which helm reads as true, false and 1000.
        with os.fdopen(fd, "w") as handle:
            json.dump(values or {}, handle)
        return path

    @staticmethod
    def chart_args(chart):
        args = [chart["ref"]]
        if chart.get("repo_url"):
            args += ["--repo", chart["repo_url"]]
        if chart.get("version"):
            args += ["--version", str(chart["version"])]
        return args

    def upgrade(self, name, namespace, chart, values, *, create_namespace=False, dry_run=None, extra=None):
        """helm upgrade --install; returns the release JSON (the would-be release when dry_run)."""
        args = ["upgrade", name] + self.chart_args(chart) + ["--install", "-n", namespace, "--reset-values"]
        args += ["-f", self.values_file(values), "-o", "json"]
        if create_namespace:
            args.append("--create-namespace")
        if dry_run:
            args.append("--dry-run=%s" % dry_run)
        else:
            self._before_write()
        args += list(extra or [])
        return _json_tail(self.run(args))

    def template(self, name, namespace, chart, values, *, kube_version=None, is_upgrade=False, hooks=True):
        """A client-side render (no cluster access): ``kube_version`` stands in for the cluster's;
        ``hooks=False`` leaves the hooks out, as a release's stored manifest does."""
        args = ["template", name] + self.chart_args(chart) + ["-n", namespace, "-f", self.values_file(values)]
        if not hooks:
            args.append("--no-hooks")
        if kube_version:
            args += ["--kube-version", kube_version]
        if is_upgrade:
            args.append("--is-upgrade")
        return self.run(args, connect=False)

    def rollback(self, name, namespace, revision):
        self._before_write()
        self.run(["rollback", name, str(revision), "-n", namespace])

    def uninstall(self, name, namespace, wait=False):
        self._before_write()
        args = ["uninstall", name, "-n", namespace]
        if wait:
            args.append("--wait")
        try:
            self.run(args)
            return True
        except ReleaseNotFound:
            return False


def _json_tail(out):
    """The JSON document of helm's output (v3 may print warnings or notes before it)."""
    start = out.find("{")
    if start < 0:
        raise HelmError("helm printed no JSON: %s" % out[:500])
    return json.loads(out[start:])


def last_deployed(history, before=None):
    """The newest revision whose status is deployed or superseded, older than ``before``."""
    candidates = [
        r for r in history
        if r.get("status") in ("deployed", "superseded") and (before is None or r.get("revision", 0) < before)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda r: r.get("revision", 0))
