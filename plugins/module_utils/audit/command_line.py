# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one reading of a Kubernetes component's command line: ``--flag=value`` and ``--flag value`` items.

pflag lets a flag that takes a value have it in the next item; without the flags' types the reading
is that the next item is the value when it is not itself a flag. The manifest editor, the plan of
the flags and the check of the running process all read a command line through here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def flag_entries(entries, split=None):
    """[(item indexes, flag name or None, value or None)]; ``--flag value`` pairs are one entry.

    ``split(name)`` says whether a ``--flag`` without ``=`` may take the next item as its value
    (default: every flag may).
    """
    out = []
    i = 0
    while i < len(entries):
        item = entries[i]
        if not item.startswith("--"):
            out.append(([i], None, None))
            i += 1
            continue
        name, eq, value = item.partition("=")
        if (not eq and i + 1 < len(entries) and not entries[i + 1].startswith("--")
                and (split is None or split(name))):
            out.append(([i, i + 1], name, entries[i + 1]))
            i += 2
            continue
        out.append(([i], name, value if eq else None))
        i += 1
    return out


def flag_values(entries):
    """{--flag: value} of a command line; the last occurrence wins, as it does for the component.

    A ``--flag`` with no value (a boolean switch) maps to ``""``.
    """
    return {name: value or "" for _indexes, name, value in flag_entries(entries) if name is not None}
