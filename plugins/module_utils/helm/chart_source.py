# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a local chart's templates read from the cluster.

A template that calls ``lookup`` renders from live objects (the Grafana chart copies its PVC's
``volumeName``, Loki reads its StatefulSet), so its output can differ between two renders of the
same chart and values without anything to deploy. The release plan needs to know which rendered
objects come from such templates: a template uses ``lookup`` itself or includes (``include`` /
``template``, transitively) a named template that does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tarfile

_ACTION = re.compile(r"{{-?(.*?)-?}}", re.S)
_OPENERS = ("if", "range", "with", "define", "block")
_CALL = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"")
_DEFINE = re.compile(r"^\s*(?:define|block)\s+\"([^\"]+)\"")
_LOOKUP = re.compile(r"(^|[\s(|])lookup\s")
_SOURCE = re.compile(r"^# Source: (.+)$", re.M)
_CACHE = {}


def _template_files(ref):
    """{path inside the archive or directory (as helm's ``# Source:`` names it): text}."""
    files = {}
    path = os.path.expanduser(ref)
    if os.path.isdir(path):
        # helm names sources after the chart's name, not its directory's
        top = _chart_name(path) or os.path.basename(os.path.abspath(path))
        for root, _dirs, names in os.walk(path):
            for name in names:
                full = os.path.join(root, name)
                rel = os.path.join(top, os.path.relpath(full, path))
                if "/templates/" in rel and name.endswith((".yaml", ".yml", ".tpl", ".txt")):
                    with open(full, errors="replace") as handle:
                        files[rel] = handle.read()
    elif os.path.isfile(path) and tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                if member.isfile() and "/templates/" in member.name:
                    files[member.name] = archive.extractfile(member).read().decode("utf-8", "replace")
    return files


def _chart_name(path):
    try:
        with open(os.path.join(path, "Chart.yaml")) as handle:
            match = re.search(r"^name:\s*['\"]?([^'\"\s]+)", handle.read(), re.M)
    except OSError:
        return None
    return match.group(1) if match else None


def _actions(text):
    """The template actions of ``text`` without comments, each as its trimmed inner text."""
    return [a.strip() for a in _ACTION.findall(text) if not a.strip().startswith("/*")]


def _scan(text):
    """(direct lookup use outside any define, names called outside defines, {define: (uses_lookup, calls)})."""
    defines = {}
    stack = []
    top_lookup, top_calls = False, set()
    for action in _actions(text):
        word = action.split(None, 1)[0] if action else ""
        if word == "end":
            if stack:
                stack.pop()
            continue
        target = None
        for frame in reversed(stack):
            if frame is not None:
                target = frame
                break
        uses = bool(_LOOKUP.search(" " + action))
        calls = set(_CALL.findall(action))
        if target is None:
            top_lookup = top_lookup or uses
            top_calls |= calls
        else:
            entry = defines.setdefault(target, [False, set()])
            entry[0] = entry[0] or uses
            entry[1] |= calls
        if word in _OPENERS:
            match = _DEFINE.match(action)
            stack.append(match.group(1) if match else None)
            if match:
                defines.setdefault(match.group(1), [False, set()])
    return top_lookup, top_calls, defines


def lookup_templates(ref):
    """The template paths of the local chart ``ref`` whose output depends on ``lookup``; an empty set for
    charts that are not local (nothing is known about them)."""
    path = os.path.expanduser(ref)
    try:
        stamp = (os.path.abspath(path), os.path.getmtime(path))
    except OSError:
        return frozenset()
    if stamp not in _CACHE:
        _CACHE[stamp] = _lookup_templates(_template_files(ref))
    return _CACHE[stamp]


def _lookup_templates(files):
    scanned = {name: _scan(text) for name, text in files.items()}
    uses = _defines_using_lookup([defines for _top, _calls, defines in scanned.values()])
    return frozenset(
        name for name, (top, top_calls, _defines) in scanned.items()
        if not os.path.basename(name).startswith("_") and (top or any(uses.get(c) for c in top_calls))
    )


def _defines_using_lookup(define_maps):
    """{define name: True when it calls lookup itself or through the defines it includes, transitively}."""
    uses, calls = {}, {}
    for defines in define_maps:
        for define, (direct, called) in defines.items():
            uses[define] = uses.get(define, False) or direct
            calls.setdefault(define, set()).update(called)
    changed = True
    while changed:
        changed = False
        for define, used in uses.items():
            if not used and any(uses.get(c) for c in calls[define]):
                uses[define] = changed = True
    return uses


def sources(manifest):
    """[(source template path or None, document text)] of a rendered manifest, in order."""
    out = []
    for doc in re.split(r"^---[ \t]*$", manifest or "", flags=re.M):
        if not doc.strip():
            continue
        match = _SOURCE.search(doc)
        out.append((match.group(1).strip() if match else None, doc))
    return out
