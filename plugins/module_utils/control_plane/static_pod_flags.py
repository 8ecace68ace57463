# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flags of one container of a static pod manifest, set and taken back again.

kubeadm binds the metrics of kube-controller-manager, kube-scheduler and etcd to 127.0.0.1; the
control_plane_metrics role changes those flags. The manifest is edited as the audit role edits the
apiserver's (audit/manifest.py over audit/yaml_text_editor.py: comments and unrelated bytes kept,
the result parsed again and compared with the intended data before anything is written).

A flag the role changes had a value before (kubeadm's ``--bind-address=127.0.0.1``) or none. Both
are recorded, as JSON, in the annotation ORIGINAL_ANNOTATION, so that a flag the role no longer sets
and ``state=absent`` put back exactly what kubeadm wrote: removing ``--bind-address`` would not
restore 127.0.0.1, it would bind every address (the flag's default).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml_text_editor as ed

ORIGINAL_ANNOTATION = "control-plane.homelab.observability/original-flags"
# kubeadm's probes ask these components on 127.0.0.1: a bind address must keep that reachable
WILDCARDS = ("0.0.0.0", "::")

FlagsError = ed.EditError


def normalized(flags):
    """{--name: str value} of ``flags`` given with or without the leading dashes; booleans as true/false."""
    out = {}
    for name, raw in (flags or {}).items():
        if not str(name).strip("-") or "=" in str(name) or " " in str(name):
            raise FlagsError("flags: %r is not a flag name; write it as bind-address or --bind-address" % (name,))
        value = ("true" if raw else "false") if isinstance(raw, bool) else raw
        if value is None or str(value) == "":
            raise FlagsError("flags: %s has no value; give one (a flag set to nothing is a different setting)"
                             % name)
        out["--" + str(name).lstrip("-")] = str(value)
    return out


def recorded(data):
    """{--flag: the value before the role changed it, or None when it was not there} from the annotation."""
    annotations = (data.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(ORIGINAL_ANNOTATION)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise FlagsError("metadata.annotations[%s]: is not JSON (%s); restore the manifest from a backup or "
                         "remove the annotation by hand" % (ORIGINAL_ANNOTATION, exc)) from exc
    if not isinstance(value, dict):
        raise FlagsError("metadata.annotations[%s]: expected a JSON object of flags" % ORIGINAL_ANNOTATION)
    return value


def plan(current, originals, flags, state):
    """(flags to set, flags to delete, the originals to record) for ``flags`` wanted in ``state``."""
    if state == "absent":
        wanted, keep = {}, {}
    else:
        wanted = dict(flags)
        keep = {name: originals.get(name, current.get(name)) for name in flags}
    # a flag set by an earlier run and no longer wanted: back to what kubeadm wrote
    for name, original in originals.items():
        if name not in wanted and original is not None:
            wanted[name] = original
    remove = sorted(name for name, original in originals.items() if original is None and name not in flags)
    if state == "absent":
        remove = sorted(name for name, original in originals.items() if original is None)
    return wanted, remove, keep


def edit(text, flags, *, container_name, state="present"):
    """The manifest text with ``flags`` ({--name: value}, see normalized) set in the container, or taken back."""
    pod = mf.StaticPod(text, container_name)
    originals = recorded(pod.data)
    wanted, remove, keep = plan(mf.current_flags(text, container_name), originals, flags, state)
    mf.edit_command(pod, wanted, remove)
    change = {ORIGINAL_ANNOTATION: json.dumps(keep, sort_keys=True, separators=(",", ":")) if keep else None}
    annotations = ed.edit_annotations(pod.text, pod.edits, pod.root, pod.data, change)
    if annotations is None:
        pod.expected["metadata"].pop("annotations", None)
    else:
        pod.expected["metadata"]["annotations"] = annotations
    new_text = pod.edits.apply()
    mf.verify_edit(new_text, pod.expected)
    return new_text


def bind_address_errors(flags, probes_host="127.0.0.1"):
    """A --bind-address that would take the components off 127.0.0.1, where kubeadm's probes ask them."""
    address = flags.get("--bind-address")
    if address is None or address in WILDCARDS or address == probes_host:
        return []
    return ["--bind-address=%s: kubeadm's liveness and startup probes ask %s, so the kubelet would restart the "
            "component forever; use 0.0.0.0 (the secure port still asks for a token)" % (address, probes_host)]
