# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit settings of a kubeadm kube-apiserver static pod manifest: which flags, volumes and mounts.

The text is changed through yaml_text_editor, which keeps comments and layout: only the flag
items of the container's ``command``, the audit volumes and mounts and the role's annotations
change, new items land in kubeadm's sorted position. The result is parsed again and compared with
the same change applied to the data; any difference stops the edit before it is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

from ansible_collections.homelab.observability.plugins.module_utils.audit import command_line as cl
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml_text_editor as ed

KUBEADM_MANIFESTS = ("etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml")
POLICY_ANNOTATION = "audit.homelab.observability/policy-sha256"
RESTART_ANNOTATION = "audit.homelab.observability/restarted-at"
# The flags the role set, comma-separated: what it removes when they leave its variables or on state absent.
FLAGS_ANNOTATION = "audit.homelab.observability/flags"
ROLE_ANNOTATIONS = (POLICY_ANNOTATION, RESTART_ANNOTATION, FLAGS_ANNOTATION)
BASE_FLAGS = ("--audit-log-format", "--audit-log-maxage", "--audit-log-maxbackup", "--audit-log-maxsize",
              "--audit-log-path", "--audit-policy-file")
# kubeadm's own volumes of the apiserver pod: never taken for a stale audit mount.
KUBEADM_VOLUMES = ("ca-certs", "etc-ca-certificates", "etc-pki", "k8s-certs", "usr-local-share-ca-certificates",
                   "usr-share-ca-certificates")
POLICY_VOLUME = "audit-policy"
LOG_VOLUME = "audit-log"

# The editor's errors name the field and the fix, as the manifest's own do.
ManifestError = ed.EditError


def audit_flags(policy_file, log_path, log_format="json", *, maxage=7, maxbackup=3, maxsize=100, extra=None):
    """The apiserver flags, in the order kubeadm would sort them."""
    flags = {
        "--audit-log-format": log_format,
        "--audit-log-maxage": str(maxage),
        "--audit-log-maxbackup": str(maxbackup),
        "--audit-log-maxsize": str(maxsize),
        "--audit-log-path": log_path,
        "--audit-policy-file": policy_file,
    }
    for name, value in (extra or {}).items():
        key = "--" + name.lstrip("-")
        flags[key] = _flag_value(value)
    return dict(sorted(flags.items()))


def _flag_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def audit_volumes(policy_file, log_path):
    """(volume, mount) pairs: the policy file read-only, the log directory DirectoryOrCreate."""
    log_dir = os.path.dirname(log_path.rstrip("/")) or "/"
    return [
        ({"hostPath": {"path": log_dir, "type": "DirectoryOrCreate"}, "name": LOG_VOLUME},
         {"mountPath": log_dir, "name": LOG_VOLUME}),
        ({"hostPath": {"path": policy_file, "type": "File"}, "name": POLICY_VOLUME},
         {"mountPath": policy_file, "name": POLICY_VOLUME, "readOnly": True}),
    ]


def _normalize_mount(mount):
    out = dict(mount)
    if not out.get("readOnly"):
        out.pop("readOnly", None)
    return out


class StaticPod:
    """The parsed manifest and the container the flags go to, as nodes (positions) and as data; the
    text edits so far and the data the edited text must parse to. Shared with control_plane/static_pod_flags."""

    def __init__(self, text, container_name):
        self.text = text
        self.data, self.root = _parse(text)
        self.spec_node = ed.mapping_value(self.root, "spec")
        self.container_node, self.index = _find_container(self.spec_node, self.data, container_name)
        self.container = self.data["spec"]["containers"][self.index]
        self.edits = ed.TextEdits(text)
        self.expected = copy.deepcopy(self.data)  # the data the edited text must parse to

    def expected_container(self):
        return self.expected["spec"]["containers"][self.index]


def _parse(text):
    if not HAS_YAML:  # pragma: no cover
        raise ManifestError("PyYAML is required on the managed host (python3-yaml)")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ManifestError("the manifest is not valid YAML (%s); fix it or restore it from a backup" % exc) from exc
    if not isinstance(data, dict) or data.get("kind") != "Pod":
        raise ManifestError("the manifest is not a Pod (kind: %r)" % (data or {}).get("kind"))
    if "\r\n" in text:
        raise ManifestError("the manifest uses CRLF line ends; convert it to LF (dos2unix) first")
    return data, root


def _find_container(spec, data, name):
    containers = ed.mapping_value(spec, "containers")
    if containers is None:
        raise ManifestError("spec.containers: not found; is this a Pod manifest?")
    ed.block_sequence(containers, "spec.containers")
    found = [i for i, c in enumerate(data["spec"]["containers"]) if isinstance(c, dict) and c.get("name") == name]
    if not found:
        if len(containers.value) != 1:
            raise ManifestError("spec.containers: no container named %r; set container_name" % name)
        found = [0]
    return containers.value[found[0]], found[0]


def _stale_audit_mounts(container, paths, own_names):
    """Names of mounts at an audit path (old or new log directory or policy file) under a name not the role's."""
    stale = []
    for mount in container.get("volumeMounts") or []:
        if not isinstance(mount, dict) or mount.get("name") in own_names:
            continue
        if mount.get("mountPath") in paths:
            if mount.get("name") in KUBEADM_VOLUMES:
                raise ManifestError(
                    "%s is already mounted as kubeadm's %r volume; choose a log_path/policy_file outside it"
                    % (mount.get("mountPath"), mount.get("name")))
            stale.append(mount.get("name"))
    return stale


def owned_flags(data):
    """Flags the role set on an earlier run (its annotation), plus the audit flags it always manages."""
    annotations = (data.get("metadata") or {}).get("annotations") or {}
    listed = [f for f in str(annotations.get(FLAGS_ANNOTATION) or "").split(",") if f.startswith("--")]
    return sorted(set(listed) | set(BASE_FLAGS))


def edit_manifest(text, flags, volumes, annotation=None, *, state="present", container_name="kube-apiserver"):
    """Return the manifest text with the audit flags, volumes/mounts and annotation applied.

    ``flags``: {"--name": "value"}; ``volumes``: [(volume, mount)] as from audit_volumes();
    ``annotation``: (key, value) or None. The role owns every flag it ever set (listed in the
    annotation FLAGS_ANNOTATION): one no longer in ``flags`` is removed, and ``state=absent``
    removes them all with the volumes and annotations. An audit volume under another name at an
    audit path (the old or new log directory or policy file) is replaced, not left behind.
    Raises ManifestError, naming the field and the fix, when the manifest has a layout this editor
    does not change safely.
    """
    pod = StaticPod(text, container_name)
    _edit_command(pod, flags, state)
    _edit_volumes(pod, volumes, _audit_paths(volumes, current_flags(text, container_name)), state)
    _edit_role_annotations(pod, _annotation_changes(flags, annotation, state))
    new_text = pod.edits.apply()
    verify_edit(new_text, pod.expected)
    return new_text


def _edit_command(pod, flags, state):
    """The role's flags in the container's command (or args), every flag it owns and no longer sets gone."""
    owned = sorted(set(owned_flags(pod.data)) | set(flags))
    edit_command(pod, flags if state == "present" else {}, owned)


def edit_command(pod, flags, remove):
    """Set ``flags`` ({--name: value}) once each in the container's command (or args); delete ``remove``'s others."""
    seq_key = "command" if "command" in pod.container else "args" if "args" in pod.container else None
    if seq_key is None:
        raise ManifestError("spec.containers[%d]: has neither command nor args" % pod.index)
    what = "spec.containers[%d].%s" % (pod.index, seq_key)
    seq_node = ed.block_sequence(ed.mapping_value(pod.container_node, seq_key), what)
    pod.expected_container()[seq_key] = ed.edit_flags(
        pod.text, pod.edits, seq_node, pod.container[seq_key], flags=flags, remove=remove, what=what)


def _audit_paths(volumes, previous):
    """Where an audit mount may be: the new and the previous log directory and policy file."""
    paths = {pair[1]["mountPath"] for pair in volumes}
    if previous.get("--audit-log-path", "").startswith("/"):
        paths.add(os.path.dirname(previous["--audit-log-path"]))
    if previous.get("--audit-policy-file"):
        paths.add(previous["--audit-policy-file"])
    return paths


def _edit_volumes(pod, volumes, paths, state):
    wanted_mounts = [pair[1] for pair in volumes]
    stale = _stale_audit_mounts(pod.container, paths, [m["name"] for m in wanted_mounts])
    new_mounts = ed.edit_named_items(
        pod.text, pod.edits, pod.container_node, pod.container, key="volumeMounts", wanted=wanted_mounts,
        state=state, what="spec.containers[%d].volumeMounts" % pod.index, drop=stale, normalize=_normalize_mount)
    new_volumes = ed.edit_named_items(
        pod.text, pod.edits, pod.spec_node, pod.data["spec"], key="volumes", wanted=[pair[0] for pair in volumes],
        state=state, what="spec.volumes", drop=stale)
    _set_or_drop(pod.expected_container(), "volumeMounts", new_mounts, pod.container)
    _set_or_drop(pod.expected["spec"], "volumes", new_volumes, pod.data["spec"])


def _annotation_changes(flags, annotation, state):
    """{annotation: value or None to remove}: the owned flags and ``annotation``, or none of the role's."""
    if state != "present":
        return {key: None for key in ROLE_ANNOTATIONS}
    changes = {FLAGS_ANNOTATION: ",".join(sorted(flags))}
    if annotation is not None:
        changes[annotation[0]] = annotation[1]
    return changes


def _edit_role_annotations(pod, changes):
    anns = ed.edit_annotations(pod.text, pod.edits, pod.root, pod.data, changes)
    if anns is None:
        pod.expected["metadata"].pop("annotations", None)
    elif anns != ((pod.data.get("metadata") or {}).get("annotations") or {}):
        pod.expected["metadata"]["annotations"] = anns


def _set_or_drop(target, key, value, original):
    if value or key in original:
        target[key] = value


def _normalized(data):
    """Compare manifests with false readOnly and missing readOnly as equal."""
    data = copy.deepcopy(data)
    for c in (data.get("spec") or {}).get("containers") or []:
        if isinstance(c, dict) and isinstance(c.get("volumeMounts"), list):
            c["volumeMounts"] = [_normalize_mount(m) if isinstance(m, dict) else m for m in c["volumeMounts"]]
    return data


def verify_edit(new_text, expected):
    try:
        got = yaml.safe_load(new_text)
    except yaml.YAMLError as exc:
        raise ManifestError("internal: the edited manifest does not parse (%s); nothing written" % exc) from exc
    if _normalized(got) != _normalized(expected):
        raise ManifestError("internal: the edited manifest differs from the intended change; nothing written. "
                            "Please report this with the manifest's layout")


def current_flags(text, container_name="kube-apiserver"):
    """{--flag: value} of the container's command (last occurrence wins, like the apiserver)."""
    data = yaml.safe_load(text) or {}
    for c in (data.get("spec") or {}).get("containers") or []:
        if c.get("name") == container_name or len(data["spec"]["containers"]) == 1:
            return cl.flag_values([str(e) for e in (c.get("command") or []) + (c.get("args") or [])])
    return {}


def stale_files(manifests_dir, allowed=KUBEADM_MANIFESTS):
    """Files the kubelet would run that are not known manifests (backups, editor files, copies)."""
    try:
        names = sorted(os.listdir(manifests_dir))
    except OSError:
        return []
    return [n for n in names if not n.startswith(".") and n not in allowed]
