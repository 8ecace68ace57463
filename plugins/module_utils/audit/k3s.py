# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit flags for k3s and rke2 as a drop-in under ``/etc/rancher/<flavor>/config.yaml.d/``.

Both read ``config.yaml`` then every ``config.yaml.d/*.yaml`` in lexical order. A list key with a
trailing ``+`` (``kube-apiserver-arg+``) appends to the value set so far; without it the drop-in
replaces the apiserver args of every earlier file. k3s runs the apiserver in its own process and
reads host paths directly; rke2 runs it as a static pod, so the policy and the log directory are
also mounted with ``kube-apiserver-extra-mount+``. Either needs a service restart to apply.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

FLAVORS = ("k3s", "rke2")
DROPIN_NAME = "90-homelab-observability-audit.yaml"
ARG_KEY = "kube-apiserver-arg"
MOUNT_KEY = "kube-apiserver-extra-mount"
SERVICES = {"k3s": "k3s", "rke2": "rke2-server"}


def config_dir(flavor):
    return "/etc/rancher/%s/config.yaml.d" % flavor


def render_dropin(flavor, flags, policy_file, log_path, policy_sha256=None):
    """The drop-in's YAML text. ``flags``: {"--audit-log-path": "/x", ...} as from manifest.audit_flags()."""
    if flavor not in FLAVORS:
        raise ValueError("flavor %r: use one of %s" % (flavor, ", ".join(FLAVORS)))
    args = ["%s=%s" % (name.lstrip("-"), value) for name, value in sorted(flags.items())]
    data = {ARG_KEY + "+": args}
    if flavor == "rke2":
        log_dir = os.path.dirname(log_path.rstrip("/"))
        data[MOUNT_KEY + "+"] = ["%s:%s:ro" % (policy_file, policy_file), "%s:%s" % (log_dir, log_dir)]
    header = [
        "# Kubernetes audit logging for %s. Managed by Ansible (homelab.observability.apiserver_k3s_config);" % flavor,
        "# local edits are overwritten. The '+' appends to the apiserver args of earlier config files.",
    ]
    if policy_sha256:
        header.append("# audit policy sha256: %s (a change restarts %s)" % (policy_sha256, SERVICES[flavor]))
    return "\n".join(header) + "\n" + yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=1000)


def _config_files(flavor, root="/"):
    base = os.path.join(root, "etc/rancher/%s" % flavor)
    files = [os.path.join(base, "config.yaml")]
    files += sorted(glob.glob(os.path.join(base, "config.yaml.d", "*.yaml")))
    files += sorted(glob.glob(os.path.join(base, "config.yaml.d", "*.yml")))
    return [f for f in files if os.path.isfile(f)]


def conflicts(flavor, dropin_path, root="/"):
    """Warnings about other config files that would override or duplicate the drop-in's flags."""
    warnings = []
    files = _config_files(flavor, root)
    ours = os.path.abspath(dropin_path)
    for path in files:
        if os.path.abspath(path) == ours:
            continue
        # read after ours: a drop-in in the same directory whose name sorts later
        after = os.path.dirname(os.path.abspath(path)) == os.path.dirname(ours) and (
            os.path.basename(path) > os.path.basename(ours))
        try:
            with open(path) as handle:
                data = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError) as exc:
            warnings.append("%s: could not be read (%s)" % (path, exc))
            continue
        if not isinstance(data, dict):
            continue
        if after and ARG_KEY in data:
            warnings.append("%s sets %s without '+' after %s: it replaces the audit flags; change it to '%s+'"
                            % (path, ARG_KEY, ours, ARG_KEY))
        for key in (ARG_KEY, ARG_KEY + "+"):
            values = data.get(key) or []
            if isinstance(values, str):
                values = [values]
            dup = [v for v in values if str(v).lstrip("-").startswith("audit-")]
            if dup:
                warnings.append("%s also sets %s: remove them there, the apiserver takes the last value"
                                % (path, ", ".join(dup)))
    return warnings
