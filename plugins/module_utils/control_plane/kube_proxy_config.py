# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube-proxy's metrics address in kubeadm's ``kube-system/kube-proxy`` ConfigMap, and its rollout.

kubeadm writes ``metricsBindAddress: ""`` into the ConfigMap's ``config.conf`` (a
KubeProxyConfiguration), which kube-proxy reads as 127.0.0.1:10249. Only that line changes; the
rest of the text is kept byte for byte and the result is parsed again and compared with the
intended change. The value before the change is kept in an annotation of the ConfigMap, so that
``state=absent`` puts it back. kube-proxy reads its configuration at start only: the DaemonSet's
pod template carries the sha256 of the configuration its pods were started for, and the pods are
replaced (that annotation changed) whenever it differs from the ConfigMap's. The stamp, not this
run's change of the ConfigMap, decides: a run that wrote the ConfigMap and failed before the restart
is finished by the next run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

from ansible_collections.homelab.observability.plugins.module_utils.audit.yaml_text_editor import format_scalar

KEY = "metricsBindAddress"
ORIGINAL_ANNOTATION = "control-plane.homelab.observability/original-metrics-bind-address"
CONFIG_HASH_ANNOTATION = "control-plane.homelab.observability/config-sha256"
_LINE = re.compile(r"^%s:[^\n]*$" % KEY, re.M)


class ConfigError(ValueError):
    """A ConfigMap this module does not change safely; the message names the field and the fix."""


def parse(text, where):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("%s is not valid YAML (%s)" % (where, exc)) from exc
    if not isinstance(data, dict) or data.get("kind") != "KubeProxyConfiguration":
        raise ConfigError("%s is not a KubeProxyConfiguration (kind: %r); is this kubeadm's kube-proxy ConfigMap?"
                          % (where, (data or {}).get("kind") if isinstance(data, dict) else None))
    return data


def set_address(text, address, where="config.conf"):
    """``text`` with metricsBindAddress set to ``address``, every other byte kept."""
    data = parse(text, where)
    lines = _LINE.findall(text)
    if len(lines) > 1:
        raise ConfigError("%s sets %s %d times; keep one" % (where, KEY, len(lines)))
    line = "%s: %s" % (KEY, format_scalar(address) if address else '""')
    new = _LINE.sub(lambda _m: line, text) if lines else text.rstrip("\n") + "\n" + line + "\n"
    if lines == [] and KEY in data:
        raise ConfigError("%s sets %s in a form this module does not edit (indented or in flow style); write it "
                          "as one top-level line" % (where, KEY))
    got = parse(new, where)
    if got != dict(data, **{KEY: address}):
        raise ConfigError("internal: the edited %s differs from the intended change; nothing written" % where)
    return new


def plan(configmap, address, state, key="config.conf"):
    """(new config text, annotation changes {key: value or None}) for the ConfigMap object."""
    where = "kube-system/%s data[%s]" % (configmap["metadata"]["name"], key)
    text = (configmap.get("data") or {}).get(key)
    if text is None:
        raise ConfigError("%s is missing; set configmap_key to the key that holds the KubeProxyConfiguration" % where)
    current = parse(text, where).get(KEY, "") or ""
    annotations = configmap["metadata"].get("annotations") or {}
    if state == "absent":
        if ORIGINAL_ANNOTATION not in annotations:
            return text, {}
        return set_address(text, annotations[ORIGINAL_ANNOTATION], where), {ORIGINAL_ANNOTATION: None}
    original = annotations.get(ORIGINAL_ANNOTATION, current)
    changes = {} if ORIGINAL_ANNOTATION in annotations else {ORIGINAL_ANNOTATION: original}
    return (text if current == address else set_address(text, address, where)), changes


def config_hash(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp(daemonset):
    """The config hash the DaemonSet's pod template was stamped with, or None."""
    template = ((daemonset or {}).get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}).get(CONFIG_HASH_ANNOTATION)


def untouched(before, after, annotations, where="config.conf"):
    """True when this module never changed the address: the run leaves the text as it was, and nothing is
    recorded or the recorded original is the current value (``annotations``: the ConfigMap's after the run).
    kube-proxy then runs what kubeadm configured, stamped or not."""
    if before != after:
        return False
    if ORIGINAL_ANNOTATION not in annotations:
        return True
    return annotations[ORIGINAL_ANNOTATION] == (parse(after, where).get(KEY, "") or "")


def needs_restart(daemonset, text, untouched_config):
    """The DaemonSet's pods do not run ``text``: its stamp differs from the text's hash. A DaemonSet never
    stamped counts as running it only when the module never changed the address (no restart of a cluster
    kubeadm already configured, nor on absent of one never changed)."""
    current = stamp(daemonset)
    if current is None and untouched_config:
        return False
    return current != config_hash(text)


def restart_patch(text):
    """The merge patch that stamps the pod template with ``text``'s hash, so the DaemonSet replaces its pods."""
    return {"spec": {"template": {"metadata": {"annotations": {CONFIG_HASH_ANNOTATION: config_hash(text)}}}}}
