# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edits of a YAML text that change only the nodes they own and keep every other byte.

PyYAML drops comments and reformats on dump, and ruamel.yaml is not on the managed hosts. So the
text is parsed twice by the caller: ``yaml.compose`` gives the node tree with the exact character
positions of every scalar, ``yaml.safe_load`` gives the data. The functions here then change the
text of the nodes they are given (the ``--flag=value`` items of a command list, the items of a
list of named mappings, the keys of ``metadata.annotations``), insert new items with the
indentation of their neighbours (in sorted position when the list is sorted), and return what the
data should be afterwards, so that the caller can parse the result again and compare.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

from ansible_collections.homelab.observability.plugins.module_utils.audit import command_line as cl
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml11

_DASH_PREFIX = re.compile(r"^[ ]*-[ ]+$")
_PLAIN_FIRST_CHAR_UNSAFE = "!&*[]{}|>'\"%@`#,?:-" + "\t"


class EditError(ValueError):
    """A layout the editor does not change safely; the message names the field and the fix."""


# ---------------------------------------------------------------------------------------------
# nodes and their text


def mapping_get(node, key):
    """(key node, value node) of ``key`` in a mapping node, (None, None) when absent or not a mapping."""
    if not isinstance(node, yaml.MappingNode):
        return None, None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None, None


def mapping_value(node, key):
    return mapping_get(node, key)[1]


def block_sequence(node, what):
    """``node`` when it is a block list; EditError otherwise."""
    if not isinstance(node, yaml.SequenceNode):
        raise EditError("%s: expected a list" % what)
    if node.flow_style:
        raise EditError("%s: is a flow list [...]; rewrite it in block style (one '- item' per line)" % what)
    return node


def _line_start(text, index):
    return text.rfind("\n", 0, index) + 1


def _line_end(text, index):
    """Index just past the newline ending the line that holds ``index - 1`` (the node's last char)."""
    nl = text.find("\n", max(index - 1, 0))
    return len(text) if nl < 0 else nl + 1


def _last_index(node):
    """End index of the last scalar inside ``node`` (block collections' own end marks overshoot)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return node.end_mark.index
    if isinstance(node, yaml.SequenceNode):
        return max([_last_index(n) for n in node.value] or [node.start_mark.index])
    if isinstance(node, yaml.MappingNode):
        ends = [max(_last_index(k), _last_index(v)) for k, v in node.value]
        return max(ends or [node.start_mark.index])
    return node.end_mark.index


def _item_extent(text, item, what):
    """(start, end, dash prefix) of a block sequence item: from its dash line to the end of its last line."""
    start = _line_start(text, item.start_mark.index)
    prefix = text[start:item.start_mark.index]
    if not _DASH_PREFIX.match(prefix):
        raise EditError("%s: unsupported layout at line %d (expected '- ' before the item on the same line); "
                        "reformat the list in block style, one '- item' per line" % (what, item.start_mark.line + 1))
    return start, _line_end(text, _last_index(item)), prefix


def _plain_candidate(text):
    """True when ``text`` might be written without quotes; the round trip in format_scalar decides."""
    if not text or text != text.strip() or "\n" in text or ": " in text or " #" in text:
        return False
    # A leading dash is fine for command-line flags (--name=value is plain in kubeadm manifests).
    return text.startswith("-") or (not text.endswith(":") and text[0] not in _PLAIN_FIRST_CHAR_UNSAFE)


def format_scalar(value):
    """A YAML scalar that loads back as exactly ``value`` (plain when safe, else double-quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _plain_candidate(text):
        try:
            # plain only when both PyYAML and the kubelet's YAML 1.1 reader (1e5, y, 0o17) keep the string
            if yaml.safe_load(text) == text and yaml11.resolve_plain(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text)


def _render_mapping(data, indent):
    """Lines of a block mapping with sorted keys (the JSON-to-YAML style of kubeadm and kubectl)."""
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


def _sorted_insert_before(names, new_name):
    """Index of the first existing name after ``new_name`` when ``names`` is sorted, else None (append)."""
    if list(names) != sorted(names):
        return None
    for i, existing in enumerate(names):
        if existing > new_name:
            return i
    return None


class TextEdits:
    """Replacements of character ranges of one text, applied together (they must not overlap)."""

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
                raise EditError("internal: overlapping edits at %d-%d; nothing written" % (start, end))
            out = out[:start] + replacement + out[end:]
            last_start = start
        return out


# ---------------------------------------------------------------------------------------------
# a command list of --flag=value items


def _parse_command(items, seq_data, owned, what):
    """[(item indexes, flag name or None)] of the command list; an owned ``--flag value`` pair is one entry."""
    entries = []
    for indexes, name, value in cl.flag_entries([str(e) for e in seq_data], split=lambda n: n in owned):
        if name in owned and value is None:
            raise EditError("%s[%d]: %r has no '=value'; write it as %s=<value>" % (what, indexes[0], name, name))
        entries.append((indexes, name))
    return entries


def _scalar_items(seq_node, what):
    items = seq_node.value
    if not items:
        raise EditError("%s: is empty; expected the command and its flags" % what)
    for i, item in enumerate(items):
        if not isinstance(item, yaml.ScalarNode):
            raise EditError("%s[%d]: expected a string" % (what, i))
    return items


def _extents(text, items, indexes, what):
    return [_item_extent(text, items[k], "%s[%d]" % (what, k))[:2] for k in indexes]


def _rewrite_flag(edits, items, seq_data, indexes, *, wanted, what):
    """Make the entry at ``indexes`` the single item ``wanted`` (``--flag=value``)."""
    extents = _extents(edits.text, items, indexes, what)
    first = items[indexes[0]]
    if len(indexes) == 2 or str(seq_data[indexes[0]]) != wanted:
        edits.add(first.start_mark.index, first.end_mark.index, format_scalar(wanted))
    for start, end in extents[1:]:
        edits.add(start, end, "")


def _insert_flags(edits, items, kept, missing, what):
    """Add the ``--flag=value`` items of ``missing`` ([(name, value)], sorted); updates ``kept`` in place."""
    text = edits.text
    if not missing:
        return
    prefix = _item_extent(text, items[-1], "%s[%d]" % (what, len(items) - 1))[2]
    end_of_list = _line_end(text, _last_index(items[-1]))
    for name, value in missing:
        wanted = "%s=%s" % (name, value)
        line = prefix + format_scalar(wanted) + "\n"
        flag_positions = [k for k, entry in enumerate(kept) if entry[1] is not None]
        before = _sorted_insert_before([kept[k][1] for k in flag_positions], name)
        if before is None:
            edits.add(end_of_list, end_of_list, line)
            kept.append((None, name, wanted))
            continue
        # The first flag after it is an existing item: the missing names come in sorted order.
        pos = flag_positions[before]
        anchor_at = _line_start(text, items[kept[pos][0]].start_mark.index)
        edits.add(anchor_at, anchor_at, line)
        kept.insert(pos, (None, name, wanted))


def edit_flags(text, edits, seq_node, seq_data, *, flags, remove, what):
    """Set the ``--flag=value`` items of ``flags`` once each, delete those of ``remove``; the new list.

    ``--flag value`` (two items) becomes ``--flag=value``; duplicates are deleted (a program that
    takes the last one would run with one value while the text says two). New flags go into
    sorted position when the existing flags are sorted, else after the last item.
    """
    items = _scalar_items(seq_node, what)
    owned = set(flags) | set(remove)
    kept = []  # (first item index or None for a new item, flag name or None, text)
    seen = set()
    for indexes, name in _parse_command(items, seq_data, owned, what):
        if name not in owned:
            kept.append((indexes[0], name, str(seq_data[indexes[0]])))
        elif name in flags and name not in seen:
            seen.add(name)
            wanted = "%s=%s" % (name, flags[name])
            _rewrite_flag(edits, items, seq_data, indexes, wanted=wanted, what=what)
            kept.append((indexes[0], name, wanted))
        else:  # no longer wanted, or a duplicate
            for start, end in _extents(text, items, indexes, what):
                edits.add(start, end, "")
    _insert_flags(edits, items, kept, [(n, flags[n]) for n in sorted(flags) if n not in seen], what)
    return [entry[2] for entry in kept]


# ---------------------------------------------------------------------------------------------
# a list of mappings identified by their "name"


def _add_list(edits, parent_node, key, seq, wanted):
    """Write ``key:`` with the items of ``wanted`` at the parent mapping's key column; the new list."""
    text = edits.text
    kcol = parent_node.value[0][0].start_mark.column
    items = sorted(wanted, key=lambda w: w["name"])
    block = "%s%s:\n%s" % (" " * kcol, key, "".join(_render_item(w, " " * kcol + "- ") for w in items))
    if seq is not None:  # an empty "key:" line
        key_node = mapping_get(parent_node, key)[0]
        edits.add(_line_start(text, key_node.start_mark.index), _line_end(text, _last_index(seq)), block)
    else:
        at = _line_end(text, _last_index(parent_node))
        edits.add(at, at, block)
    return items


def _edit_existing_items(edits, seq, current, wanted, *, state, options):
    """Rewrite, keep or delete each existing item; ([(index, name, mapping)] kept, names done)."""
    what, drop, normalize = options
    text = edits.text
    wanted_names = [w["name"] for w in wanted]
    kept = []
    done = set()
    for i, item in enumerate(seq.value):
        value = current[i]
        name = value.get("name") if isinstance(value, dict) else None
        if name not in wanted_names and name not in drop:
            kept.append((i, name, value))
            continue
        start, end, prefix = _item_extent(text, item, "%s[%d]" % (what, i))
        if state == "absent" or name in done or name not in wanted_names:
            edits.add(start, end, "")  # removed, a duplicate, or a stale entry under another name
            continue
        want = wanted[wanted_names.index(name)]
        done.add(name)
        kept.append((i, name, want))
        if normalize(value) != normalize(want):
            edits.add(start, end, _render_item(want, prefix))
    return kept, done


def _insert_items(edits, seq, kept, missing, *, key, what):
    """Add the mappings of ``missing``, in sorted position when the list is sorted; updates ``kept``."""
    text = edits.text
    if not missing:
        return
    if not seq.value:
        raise EditError("%s: is an empty list; remove the empty '%s: []' or add one entry by hand" % (what, key))
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


def edit_named_items(text, edits, parent_node, parent_data, *, key, wanted, state, what, drop=(),
                     normalize=lambda x: x):
    """Make the list ``parent[key]`` hold each mapping of ``wanted`` (by name) exactly once, none of ``drop``.

    ``state=absent`` removes the items of ``wanted`` instead. Returns the list as it is afterwards.
    """
    seq = mapping_value(parent_node, key)
    current = list(parent_data.get(key) or [])
    if seq is None or (isinstance(seq, yaml.ScalarNode) and not current):
        return current if state == "absent" else _add_list(edits, parent_node, key, seq, wanted)
    block_sequence(seq, what)
    kept, done = _edit_existing_items(edits, seq, current, wanted, state=state, options=(what, drop, normalize))
    missing = [w for w in wanted if w["name"] not in done] if state != "absent" else []
    _insert_items(edits, seq, kept, missing, key=key, what=what)
    return [entry[2] for entry in kept]


# ---------------------------------------------------------------------------------------------
# metadata.annotations


def _applied(original, changes):
    out = dict(original)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _is_null(node):
    return isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~")


def _add_annotations(edits, meta, annotations_key, original, changes):
    """Write an ``annotations:`` mapping where there is none (or only a null one)."""
    text = edits.text
    ann_key, ann = annotations_key
    kcol = meta.value[0][0].start_mark.column
    sets = sorted((k, v) for k, v in changes.items() if v is not None and original.get(k) != v)
    lines = "%sannotations:\n" % (" " * kcol) + "".join(
        "%s%s: %s\n" % (" " * (kcol + 2), k, format_scalar(v)) for k, v in sets)
    if ann is not None:
        edits.add(_line_start(text, ann_key.start_mark.index), _line_end(text, ann.end_mark.index), lines)
    else:
        at = _line_start(text, meta.value[0][0].start_mark.index)
        edits.add(at, at, lines)


def _edit_annotation_keys(text, edits, ann, changes):
    kcol = ann.value[0][0].start_mark.column
    at = _line_end(text, _last_index(ann))
    for key, value in sorted(changes.items()):
        k, v = mapping_get(ann, key)
        if k is None:
            if value is not None:
                edits.add(at, at, "%s%s: %s\n" % (" " * kcol, key, format_scalar(value)))
        elif value is None:
            edits.add(_line_start(text, k.start_mark.index), _line_end(text, _last_index(v)), "")
        elif v.value != value:
            edits.add(v.start_mark.index, v.end_mark.index, format_scalar(value))


def edit_annotations(text, edits, root, data, changes):
    """Apply ``changes`` ({key: value, or None to remove}) to metadata.annotations; the new mapping or None."""
    meta = mapping_value(root, "metadata")
    if not isinstance(meta, yaml.MappingNode) or meta.flow_style:
        raise EditError("metadata: expected a block mapping")
    ann_key, ann = mapping_get(meta, "annotations")
    original = dict((data.get("metadata") or {}).get("annotations") or {})
    annotations = _applied(original, changes)
    if annotations == original:
        return original
    if ann is None or _is_null(ann):
        _add_annotations(edits, meta, (ann_key, ann), original, changes)
        return annotations
    if not isinstance(ann, yaml.MappingNode) or ann.flow_style:
        raise EditError("metadata.annotations: expected a block mapping; rewrite it in block style")
    if not annotations:  # every annotation was removed: the key goes too
        edits.add(_line_start(text, ann_key.start_mark.index), _line_end(text, _last_index(ann)), "")
        return None
    _edit_annotation_keys(text, edits, ann, changes)
    return annotations
