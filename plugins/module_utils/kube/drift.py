# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which objects of a set the cluster no longer holds as they were applied: one LIST per kind and namespace.

An object drifted when it is missing, or when a field it sets holds another value live (only the
fields the object sets count, compared as kube/apply.py compares them: quantities by value, empty
values the API omits). Objects of one kind and namespace are read by one LIST: by name when there
is one, else by the labels they all carry (fewer bytes than the whole namespace's ConfigMaps).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.kube import apply as ap
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref, UnknownKind, scoped_ref

MISSING = "missing"
_NOT_COMPARED = ("apiVersion", "kind", "status")


class Drift:
    """One drifted object: ``what`` is MISSING or the path of the first field that differs."""

    __slots__ = ("ref", "what", "desired", "live")

    def __init__(self, ref, what, desired, live=None):
        self.ref = ref
        self.what = what
        self.desired = desired
        self.live = live

    def result(self):
        return {"kind": self.ref.kind, "namespace": self.ref.namespace, "name": self.ref.name, "drift": self.what}

    def __str__(self):
        return "%s (%s)" % (self.ref, self.what if self.what == MISSING else "field " + self.what)

    def diff(self):
        """A diff item (kube/apply.py's shape): the live object against the object as applied."""
        action = "create" if self.live is None else "update"
        return ap.Change(self.ref, action, self.desired, self.live, self.desired, note="drifted: %s" % self).diff()


def find(api, objs, default_namespace):
    """The Drift of every object of ``objs`` the cluster does not hold as given, in the order given."""
    groups, out = {}, []
    for obj in objs:
        try:
            ref = scoped_ref(api, obj, default_namespace)
        except UnknownKind:
            # the kind is not served: its CRD is gone, and with it every object of the kind
            out.append(Drift(Ref.of(obj, default_namespace), MISSING, obj))
            continue
        groups.setdefault((ref.api_version, ref.kind, ref.namespace), []).append((ref, obj))
    for (api_version, kind, namespace), members in groups.items():
        live = {(item.get("metadata") or {}).get("name"): item
                for item in api.list(api_version, kind, namespace, **_selector(members))}
        for ref, obj in members:
            drift = _compare(ref, obj, live.get(ref.name))
            if drift is not None:
                out.append(drift)
    return out


def _selector(members):
    """The narrowest LIST that still returns every member: its name, or the labels all members carry."""
    if len(members) == 1:
        return {"field_selector": "metadata.name=%s" % members[0][0].name}
    common = None
    for _ref, obj in members:
        labels = set((((obj.get("metadata") or {}).get("labels")) or {}).items())
        common = labels if common is None else common & labels
    if not common:
        return {}
    return {"label_selector": ",".join("%s=%s" % pair for pair in sorted(common))}


def _compare(ref, desired, live):
    if live is None:
        return Drift(ref, MISSING, desired)
    wanted = {k: v for k, v in ap.comparable(desired).items() if k not in _NOT_COMPARED}
    meta = dict(wanted.get("metadata") or {})
    meta.pop("namespace", None)  # the LIST was of this namespace; cluster-scoped objects have none live
    wanted["metadata"] = meta
    path = ap.difference(wanted, live)
    return None if path is None else Drift(ref, path, desired, live)
