# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structural edits of a kubeadm kube-apiserver static pod manifest that keep everything else.

PyYAML drops comments and reformats on dump, and ruamel.yaml is not on the managed hosts. So the
manifest is parsed twice: ``yaml.compose`` gives the node tree with the exact character positions
of every scalar, ``yaml.safe_load`` gives the data. The editor then changes only the text of the
nodes it owns (flag items of the container's ``command``, the audit volumes and mounts, one
annotation), inserts new items with the indentation of their neighbours (in kubeadm's sorted
position when the list is sorted), and leaves every other byte alone. The result is parsed again
and compared with the same change applied to the data; any difference stops the edit before it
is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml11

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
_DASH_PREFIX = re.compile(r"^[ ]*-[ ]+$")


class ManifestError(ValueError):
    pass


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


# ---------------------------------------------------------------------------------------------
# node helpers


def _mapping_get(node, key):
    if not isinstance(node, yaml.MappingNode):
        return None, None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None, None


def _mapping_value(node, key):
    return _mapping_get(node, key)[1]


def _line_start(text, index):
    return text.rfind("\n", 0, index) + 1


def _line_end(text, index):
    """Index just past the newline ending the line that holds ``index - 1`` (the node's last char)."""
    nl = text.find("\n", max(index - 1, 0))
    return len(text) if nl < 0 else nl + 1


def _last_index(node):
    """End index of the last scalar inside ``node`` (block collections' own end marks overshoot)."""
    if isinstance(node, yaml.ScalarNode):
        return node.end_mark.index
    if isinstance(node, yaml.SequenceNode):
        if node.flow_style:
            return node.end_mark.index
        return max([_last_index(n) for n in node.value] or [node.start_mark.index])
    if isinstance(node, yaml.MappingNode):
        if node.flow_style:
            return node.end_mark.index
        ends = [max(_last_index(k), _last_index(v)) for k, v in node.value]
        return max(ends or [node.start_mark.index])
    return node.end_mark.index


def _item_extent(text, item, what):
    """(start, end) of a block sequence item: from its dash line to the end of its last line."""
    start = _line_start(text, item.start_mark.index)
    prefix = text[start:item.start_mark.index]
    if not _DASH_PREFIX.match(prefix):
        raise ManifestError("%s: unsupported layout at line %d (expected '- ' before the item on the same line); "
                            "reformat the list in block style, one '- item' per line"
                            % (what, item.start_mark.line + 1))
    return start, _line_end(text, _last_index(item)), prefix


def _block_sequence(node, what):
    if not isinstance(node, yaml.SequenceNode):
        raise ManifestError("%s: expected a list" % what)
    if node.flow_style:
        raise ManifestError("%s: is a flow list [...]; rewrite it in block style (one '- item' per line)" % what)
    return node


def format_scalar(value):
    """A YAML scalar that loads back as exactly ``value`` (plain when safe, else double-quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain_ok = bool(text) and all((
        text == text.strip(),
        "\n" not in text,
        ": " not in text,
        " #" not in text,
        not text.endswith(":"),
        text[0] not in "!&*[]{}|>'\"%@`#,?:-" + "\t",
    ))
    if text.startswith("--") or text.startswith("-"):
        # flags such as --audit-log-path=/x are plain in kubeadm manifests
        plain_ok = bool(text) and "\n" not in text and ": " not in text and " #" not in text and text == text.strip()
    if plain_ok:
        try:
            # plain only when both PyYAML and the kubelet's YAML 1.1 reader (1e5, y, 0o17) keep the string
            if yaml.safe_load(text) == text and yaml11.resolve_plain(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text)


def _render_mapping(data, indent):
    """Lines of a block mapping with sorted keys (kubeadm's JSON-to-YAML style)."""
    lines = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, dict):
            lines.append("%s%s:" % (" " * indent, key))
            lines.extend(_render_mapping(value, indent + 2))
        else:
            lines.append("%s%s: %s" % (" " * indent, key, format_scalar(value)))
    return lines


def _render_item(data, prefix):
    lines = _render_mapping(data, len(prefix))
    lines[0] = prefix + lines[0][len(prefix):]
    return "\n".join(lines) + "\n"


def _normalize_mount(mount):
    out = dict(mount)
    if not out.get("readOnly"):
        out.pop("readOnly", None)
    return out


# ---------------------------------------------------------------------------------------------
# the editor


class _Edits:
    def __init__(self, text):
        self.text = text
        self.edits = []  # (start, end, replacement, order)

    def add(self, start, end, replacement):
        self.edits.append((start, end, replacement, len(self.edits)))

    def apply(self):
        out = self.text
        last_start = None
        for start, end, replacement, _order in sorted(self.edits, key=lambda e: (e[0], e[1], e[3]), reverse=True):
            if last_start is not None and end > last_start:
                raise ManifestError("internal: overlapping edits at %d-%d; nothing written" % (start, end))
            out = out[:start] + replacement + out[end:]
            last_start = start
        return out


def _find_container(text, root, data, name):
    spec = _mapping_value(root, "spec")
    containers = _mapping_value(spec, "containers")
    if containers is None:
        raise ManifestError("spec.containers: not found; is this a Pod manifest?")
    _block_sequence(containers, "spec.containers")
    found = [i for i, c in enumerate(data["spec"]["containers"]) if isinstance(c, dict) and c.get("name") == name]
    if not found:
        if len(containers.value) == 1:
            found = [0]
        else:
            raise ManifestError("spec.containers: no container named %r; set container_name" % name)
    return spec, containers.value[found[0]], found[0]


def _sorted_insert_before(names, new_name):
    """Index of the first existing name after ``new_name`` when ``names`` is sorted, else None (append)."""
    if list(names) != sorted(names):
        return None
    for i, existing in enumerate(names):
        if existing > new_name:
            return i
    return None


def _split_value(items, seq_data, i, name, owned):
    """True when item ``i`` is an owned ``--flag`` written ``--flag value``: its value is item ``i + 1``."""
    return (name in owned and "=" not in str(seq_data[i]) and i + 1 < len(items)
            and not str(seq_data[i + 1]).startswith("--"))


def _parse_command(items, seq_data, owned, what):
    """[(item indexes, flag name or None)] of the command list; ``--flag value`` pairs are one entry."""
    entries = []
    i = 0
    while i < len(items):
        value = str(seq_data[i])
        name = value.split("=", 1)[0] if value.startswith("--") else None
        if _split_value(items, seq_data, i, name, owned):
            entries.append(([i, i + 1], name))
            i += 2
            continue
        if name in owned and "=" not in value:
            raise ManifestError("%s[%d]: %r has no '=value'; write it as %s=<value>" % (what, i, value, name))
        entries.append(([i], name))
        i += 1
    return entries


def _edit_flags(text, edits, seq_node, seq_data, *, flags, remove, what):
    """Set the ``--flag=value`` items of ``flags`` once each, delete those of ``remove``; the new list.

    ``--flag value`` (two items) becomes ``--flag=value``; duplicates are deleted (the apiserver takes
    the last one, the manifest then says two things). New flags go into kubeadm's sorted position
    when the existing flags are sorted, else after the last item.
    """
    items = seq_node.value
    if not items:
        raise ManifestError("%s: is empty; expected kube-apiserver and its flags" % what)
    for i, item in enumerate(items):
        if not isinstance(item, yaml.ScalarNode):
            raise ManifestError("%s[%d]: expected a string" % (what, i))
    owned = set(flags) | set(remove)
    kept = []  # (first item index or None for a new item, flag name or None, text)
    seen = set()
    for indexes, name in _parse_command(items, seq_data, owned, what):
        if name not in owned:
            kept.append((indexes[0], name, str(seq_data[indexes[0]])))
            continue
        extents = [_item_extent(text, items[k], "%s[%d]" % (what, k))[:2] for k in indexes]
        if name not in flags or name in seen:
            for start, end in extents:
                edits.add(start, end, "")
            continue
        seen.add(name)
        wanted = "%s=%s" % (name, flags[name])
        first = items[indexes[0]]
        if len(indexes) == 2 or str(seq_data[indexes[0]]) != wanted:
            edits.add(first.start_mark.index, first.end_mark.index, format_scalar(wanted))
        for start, end in extents[1:]:
            edits.add(start, end, "")
        kept.append((indexes[0], name, wanted))
    missing = sorted(n for n in flags if n not in seen)
    if missing:
        prefix = _item_extent(text, items[-1], "%s[%d]" % (what, len(items) - 1))[2]
        end_of_list = _line_end(text, _last_index(items[-1]))
        for name in missing:
            wanted = "%s=%s" % (name, flags[name])
            names = [entry[1] for entry in kept if entry[1] is not None]
            before = _sorted_insert_before(names, name)
            if before is None:
                edits.add(end_of_list, end_of_list, prefix + format_scalar(wanted) + "\n")
                kept.append((None, name, wanted))
                continue
            # The first flag after it is an existing item: the missing names come in sorted order.
            pos = [k for k, entry in enumerate(kept) if entry[1] is not None][before]
            anchor_at = _line_start(text, items[kept[pos][0]].start_mark.index)
            edits.add(anchor_at, anchor_at, prefix + format_scalar(wanted) + "\n")
            kept.insert(pos, (None, name, wanted))
    return [entry[2] for entry in kept]


def _edit_named_items(text, edits, parent_node, parent_data, *, key, wanted, state, what, drop=(),
                      normalize=lambda x: x):
    """Make the list ``parent[key]`` hold each mapping of ``wanted`` (by name) exactly once, none of ``drop``."""
    seq = _mapping_value(parent_node, key)
    current = list(parent_data.get(key) or [])
    wanted_names = [w["name"] for w in wanted]
    if seq is None or (isinstance(seq, yaml.ScalarNode) and not current):
        if state == "absent":
            return current
        # no list yet: add "key:" with the items at the mapping's own key column
        kcol = parent_node.value[0][0].start_mark.column
        at = _line_end(text, _last_index(parent_node))
        body = "".join(_render_item(w, " " * kcol + "- ") for w in sorted(wanted, key=lambda w: w["name"]))
        if seq is not None:
            key_node = _mapping_get(parent_node, key)[0]
            start = _line_start(text, key_node.start_mark.index)
            edits.add(start, _line_end(text, _last_index(seq)), "%s%s:\n%s" % (" " * kcol, key, body))
        else:
            edits.add(at, at, "%s%s:\n%s" % (" " * kcol, key, body))
        return sorted(wanted, key=lambda w: w["name"])
    _block_sequence(seq, what)
    kept = []  # (item index or None for a new item, name, mapping), in the new list's order
    done = set()
    for i, item in enumerate(seq.value):
        value = current[i]
        name = value.get("name") if isinstance(value, dict) else None
        if name not in wanted_names and name not in drop:
            kept.append((i, name, value))
            continue
        start, end, prefix = _item_extent(text, item, "%s[%d]" % (what, i))
        if state == "absent" or name in done or name not in wanted_names:
            edits.add(start, end, "")  # removed, a duplicate, or a stale audit entry under another name
            continue
        want = wanted[wanted_names.index(name)]
        done.add(name)
        kept.append((i, name, want))
        if normalize(value) != normalize(want):
            edits.add(start, end, _render_item(want, prefix))
    missing = [w for w in wanted if w["name"] not in done] if state != "absent" else []
    if missing and not seq.value:
        raise ManifestError("%s: is an empty list; remove the empty '%s: []' or add one entry by hand" % (what, key))
    if missing:
        prefix = _item_extent(text, seq.value[-1], "%s[%d]" % (what, len(seq.value) - 1))[2]
        end_of_list = _line_end(text, _last_index(seq.value[-1]))
    for want in sorted(missing, key=lambda w: w["name"]):
        names = [entry[1] for entry in kept]
        before = _sorted_insert_before(names, want["name"]) if None not in names else None
        if before is None:
            edits.add(end_of_list, end_of_list, _render_item(want, prefix))
            kept.append((None, want["name"], want))
        else:  # the missing names come in sorted order: the next name is an existing item
            at = _line_start(text, seq.value[kept[before][0]].start_mark.index)
            edits.add(at, at, _render_item(want, prefix))
            kept.insert(before, (None, want["name"], want))
    return [entry[2] for entry in kept]


def _edit_annotations(text, edits, root, data, changes):
    """Apply ``changes`` ({key: value, or None to remove}) to metadata.annotations; the new mapping or None."""
    meta = _mapping_value(root, "metadata")
    if not isinstance(meta, yaml.MappingNode) or meta.flow_style:
        raise ManifestError("metadata: expected a block mapping")
    ann_key, ann = _mapping_get(meta, "annotations")
    original = dict((data.get("metadata") or {}).get("annotations") or {})
    annotations = dict(original)
    for key, value in changes.items():
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    if annotations == original:
        return original
    sets = sorted((k, v) for k, v in changes.items() if v is not None and original.get(k) != v)
    if ann is None or (isinstance(ann, yaml.ScalarNode) and ann.value in ("", "null", "~")):
        kcol = meta.value[0][0].start_mark.column
        lines = "%sannotations:\n" % (" " * kcol) + "".join(
            "%s%s: %s\n" % (" " * (kcol + 2), k, format_scalar(v)) for k, v in sets)
        if ann is not None:
            edits.add(_line_start(text, ann_key.start_mark.index), _line_end(text, ann.end_mark.index), lines)
        else:
            at = _line_start(text, meta.value[0][0].start_mark.index)
            edits.add(at, at, lines)
        return annotations
    if not isinstance(ann, yaml.MappingNode) or ann.flow_style:
        raise ManifestError("metadata.annotations: expected a block mapping; rewrite it in block style")
    if not annotations:  # every annotation was the role's: the key goes too
        edits.add(_line_start(text, ann_key.start_mark.index), _line_end(text, _last_index(ann)), "")
        return None
    kcol = ann.value[0][0].start_mark.column
    at = _line_end(text, _last_index(ann))
    for key, value in sorted(changes.items()):
        k, v = _mapping_get(ann, key)
        if value is None and k is not None:
            edits.add(_line_start(text, k.start_mark.index), _line_end(text, _last_index(v)), "")
        elif value is not None and k is not None and v.value != value:
            edits.add(v.start_mark.index, v.end_mark.index, format_scalar(value))
        elif value is not None and k is None:
            edits.add(at, at, "%s%s: %s\n" % (" " * kcol, key, format_scalar(value)))
    return annotations


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
    spec_node, container_node, cidx = _find_container(text, root, data, container_name)
    container = data["spec"]["containers"][cidx]
    expected = copy.deepcopy(data)
    edits = _Edits(text)
    present = state == "present"

    seq_key = "command" if "command" in container else "args" if "args" in container else None
    if seq_key is None:
        raise ManifestError("spec.containers[%d]: has neither command nor args" % cidx)
    what = "spec.containers[%d].%s" % (cidx, seq_key)
    seq_node = _mapping_value(container_node, seq_key)
    _block_sequence(seq_node, what)
    previous = current_flags(text, container_name)
    owned = sorted(set(owned_flags(data)) | set(flags))
    expected["spec"]["containers"][cidx][seq_key] = _edit_flags(
        text, edits, seq_node, container[seq_key], flags=flags if present else {}, remove=owned, what=what)

    wanted_mounts = [pair[1] for pair in volumes]
    wanted_volumes = [pair[0] for pair in volumes]
    paths = {m["mountPath"] for m in wanted_mounts}
    if previous.get("--audit-log-path", "").startswith("/"):
        paths.add(os.path.dirname(previous["--audit-log-path"]))
    if previous.get("--audit-policy-file"):
        paths.add(previous["--audit-policy-file"])
    stale = _stale_audit_mounts(container, paths, [m["name"] for m in wanted_mounts])
    new_mounts = _edit_named_items(
        text, edits, container_node, container, key="volumeMounts", wanted=wanted_mounts, state=state,
        what="spec.containers[%d].volumeMounts" % cidx, drop=stale, normalize=_normalize_mount)
    new_volumes = _edit_named_items(
        text, edits, spec_node, data["spec"], key="volumes", wanted=wanted_volumes, state=state, what="spec.volumes",
        drop=stale)
    _set_or_drop(expected["spec"]["containers"][cidx], "volumeMounts", new_mounts, container)
    _set_or_drop(expected["spec"], "volumes", new_volumes, data["spec"])

    if present:
        changes = {FLAGS_ANNOTATION: ",".join(sorted(flags))}
        if annotation is not None:
            changes[annotation[0]] = annotation[1]
    else:
        changes = {key: None for key in ROLE_ANNOTATIONS}
    anns = _edit_annotations(text, edits, root, data, changes)
    if anns is None:
        expected["metadata"].pop("annotations", None)
    elif anns != ((data.get("metadata") or {}).get("annotations") or {}):
        expected["metadata"]["annotations"] = anns

    new_text = edits.apply()
    _verify(new_text, expected)
    return new_text


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


def _verify(new_text, expected):
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
            out = {}
            entries = [str(e) for e in (c.get("command") or []) + (c.get("args") or [])]
            for i, entry in enumerate(entries):
                if entry.startswith("--"):
                    name, eq, value = entry.partition("=")
                    if not eq and i + 1 < len(entries) and not entries[i + 1].startswith("--"):
                        value = entries[i + 1]  # --flag value
                    out[name] = value
            return out
    return {}


def stale_files(manifests_dir, allowed=KUBEADM_MANIFESTS):
    """Files the kubelet would run that are not known manifests (backups, editor files, copies)."""
    try:
        names = sorted(os.listdir(manifests_dir))
    except OSError:
        return []
    return [n for n in names if not n.startswith(".") and n not in allowed]
