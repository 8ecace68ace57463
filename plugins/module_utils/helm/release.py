# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan and apply one Helm release without writing when nothing changed.

The plan compares the stored release (``helm status -o json``: chart, user values, manifest,
status) with what an upgrade would produce (``helm upgrade --install --dry-run=server -o json``,
which renders against the cluster's real capabilities and lookups, exactly as the upgrade will).
Only a difference in chart, values or rendered objects, or a release not in ``deployed`` state,
leads to ``helm upgrade``; then kube/waiter.py decides health (never helm's own ``--wait``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import tarfile

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML; the sanity import test has none
    yaml = None
from ansible_collections.homelab.observability.plugins.module_utils.helm import chart_source, render_memo, storage
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import (
    PENDING,
    HelmError,
    last_deployed,
)
from ansible_collections.homelab.observability.plugins.module_utils.kube import drift as kd
from ansible_collections.homelab.observability.plugins.module_utils.kube import goyaml
from ansible_collections.homelab.observability.plugins.module_utils.kube.apply import install_order, redact  # noqa: F401
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import Ref

_MISSING_KIND = ("no matches for kind", "ensure CRDs are installed first", "resource mapping not found",
                 "namespaces \"", "could not find the requested resource")


class PendingRelease(KubeError):
    pass


def deep_merge(base, override):
    """Helm's coalescing of values files: maps merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged_values(values_files, values):
    merged = {}
    for path in values_files or []:
        try:
            with open(path) as handle:
                doc = goyaml.load(handle) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise KubeError("values file %s cannot be read: %s" % (path, exc)) from exc
        if not isinstance(doc, dict):
            raise KubeError("values file %s must hold a mapping at the top level" % path)
        merged = deep_merge(merged, doc)
    return deep_merge(merged, values or {})


def parse_manifest(text):
    objs = []
    for doc in goyaml.load_all(text or ""):
        if isinstance(doc, dict) and doc.get("kind"):
            objs.append(doc)
    return objs


def _index(objs, namespace):
    return {Ref.of(o, namespace).key(): o for o in objs}


def manifest_changes(before_objs, after_objs, namespace):
    """Per-object diff items between two renders; cluster-scoped objects keep the release namespace
    in their key on both sides, which is harmless for the comparison."""
    before = _index(before_objs, namespace)
    after = _index(after_objs, namespace)
    items = []
    for key in list(after) + [k for k in before if k not in after]:
        old, new = before.get(key), after.get(key)
        if old == new:
            action = "none"
        elif old is None:
            action = "create"
        elif new is None:
            action = "delete"
        else:
            action = "update"
        ref = Ref.of(new or old, namespace)
        items.append(
            {
                "key": key,
                "kind": ref.kind,
                "namespace": (new or old).get("metadata", {}).get("namespace") or namespace,
                "name": ref.name,
                "action": action,
                "before_header": "%s (release)" % ref,
                "after_header": "%s (planned)" % ref,
                "before": redact(old, new) if old is not None else {},
                "after": redact(new, old) if new is not None else {},
            }
        )
    return items


def public_diff(items):
    """The diff items as the modules return them: changes only, without the internal object key."""
    return [{k: v for k, v in item.items() if k != "key"} for item in items if item["action"] != "none"]


def chart_id(release):
    meta = ((release or {}).get("chart") or {}).get("metadata") or {}
    return (meta.get("name"), meta.get("version"))


class HelmPlan:
    """What a helm release would do; built by ``plan_release``."""

    def __init__(self):
        self.action = "none"  # install, upgrade, recover+upgrade, none
        self.reasons = []
        self.current = None
        self.planned = None
        self.planned_objects = []
        self.diff = []
        self.recover = None  # ("rollback", revision) or ("uninstall", None)
        self.history = []
        self.fast_reasons = []
        self.note = None
        self.cluster_read = set()
        self.drift = []


def plan_release(helm, name, namespace, chart, values, *, create_namespace, recover_pending, check_mode,
                 kube_version=None, api=None):
    """Read-only: the stored release, the dry-run render, and the verdict."""
    plan = HelmPlan()
    plan.current, plan.history = _stored_release(helm, name, namespace, api)
    target = (name, namespace, chart, values)
    status = _status(plan.current)
    current = plan.current
    if status in PENDING:
        current = _plan_recovery(plan, name, namespace, recover_pending)
    if current is None:
        plan.action = "install"
        plan.reasons.append("release does not exist")
        if check_mode:
            _server_plan(plan, helm, target, create_namespace=create_namespace, check_mode=check_mode)
        # otherwise the install's own output is the plan (deploy/chart.py): no render twice
        return plan
    if not (status == "deployed" and not plan.recover and _settled_fast(plan, helm, target,
                                                                        kube_version=kube_version,
                                                                        check_mode=check_mode)):
        _server_plan(plan, helm, target, create_namespace=create_namespace, check_mode=check_mode)
        _verdict(plan, plan.planned)
    if plan.action == "none" and api is not None:
        _drift_verdict(plan, api, namespace)
    return plan


def _drift_verdict(plan, api, namespace):
    """A release helm sees as unchanged is upgraded anyway when its live objects drifted from the
    stored manifest (deleted or edited out of band): helm's own state cannot show that."""
    plan.drift = kd.find(api, parse_manifest(plan.current.get("manifest")), namespace)
    if plan.drift:
        plan.action = "upgrade"
        shown = ", ".join(str(d) for d in plan.drift[:10])
        more = len(plan.drift) - 10
        plan.reasons.append("live objects drifted from the release: %s%s"
                            % (shown, " and %d more" % more if more > 0 else ""))


def _status(release):
    return ((release or {}).get("info") or {}).get("status")


def _config(release):
    return (release or {}).get("config") or {}


def _stored_release(helm, name, namespace, api):
    """(latest release or None, history): one LIST of the release Secrets when helm stores them there."""
    if api is not None and storage.supported(helm.environ):
        return storage.read(api, name, namespace)
    current = helm.status(name, namespace)
    return current, helm.history(name, namespace) if current else []


def _plan_recovery(plan, name, namespace, recover_pending):
    """A pending release: refused without recover_pending, else rolled back to the last deployed
    revision or, when there is none, uninstalled. Returns the release to plan against (None to install)."""
    current = plan.current
    target = last_deployed(plan.history, before=current.get("version"))
    if not recover_pending:
        raise PendingRelease(_pending_message(name, namespace, current, target))
    plan.recover = ("rollback", target["revision"]) if target else ("uninstall", None)
    plan.reasons.append("release was %s: %s" % (_status(current), "rollback to revision %d" % target["revision"]
                                                if target else "uninstall"))
    return current if target else None


def _pending_message(name, namespace, current, target):
    hint = (
        "roll back with recover_pending=true (to revision %d), which the roles take as <role>_recover_pending "
        "and the stack as stack_recover_pending, or `helm rollback %s %d -n %s`"
        % (target["revision"], name, target["revision"], namespace)
        if target
        else "no deployed revision exists to roll back to: set recover_pending=true (<role>_recover_pending, "
        "or stack_recover_pending for the stack) to uninstall and install again, or run "
        "`helm uninstall %s -n %s`" % (name, namespace)
    )
    return (
        "release %s in namespace %s is stuck in %s (revision %s): an earlier helm operation was interrupted "
        "or is still running. Make sure no other deploy is in progress, then %s"
        % (name, namespace, _status(current), current.get("version"), hint)
    )


def _settled_fast(plan, helm, target, *, kube_version, check_mode):
    """True when the client-side verdict settles a deployed release's plan without a server dry run."""
    fast = _fast_verdict(plan, helm, target, kube_version=kube_version)
    if fast is None or (fast and check_mode):
        return False
    if fast:
        # the values or the chart differ: an upgrade is certain, and its output is the plan
        plan.action = "upgrade"
        plan.reasons.extend(plan.fast_reasons)
    else:
        plan.planned = {"manifest": plan.current.get("manifest"), "config": _config(plan.current)}
        plan.diff = []
    plan.planned_objects = install_order(parse_manifest(plan.current.get("manifest")))
    return True


def _server_plan(plan, helm, target, *, create_namespace, check_mode):
    """The accurate plan: what ``helm upgrade`` would store, rendered against the cluster."""
    name, namespace, chart, values = target
    current = plan.current if not (plan.recover and plan.recover[0] == "uninstall") else None
    planned = _server_render(plan, helm, target, current, create_namespace=create_namespace, check_mode=check_mode)
    if planned is None:
        text = helm.template(name, namespace, chart, values)
        planned = {"manifest": text, "config": values, "chart": {"metadata": {}}}
    plan.planned = planned
    plan.planned_objects = install_order(parse_manifest(planned.get("manifest")))
    current_objs = parse_manifest((current or {}).get("manifest")) if current else []
    plan.diff = manifest_changes(current_objs, plan.planned_objects, namespace)
    plan.cluster_read = cluster_read_keys(chart, ((current or {}).get("manifest"), planned.get("manifest")),
                                          namespace)


def _server_render(plan, helm, target, current, *, create_namespace, check_mode):
    """``helm upgrade --dry-run=server``, or None (with a note) where only a client-side render works."""
    name, namespace, chart, values = target
    status = _status(current)
    if status in PENDING:
        # helm refuses even a dry-run upgrade while a release is pending: render client-side
        plan.note = "planned from a client-side render: the release is %s" % status
        return None
    try:
        return helm.upgrade(name, namespace, chart, values, create_namespace=create_namespace, dry_run="server")
    except HelmError as exc:
        # The chart's custom resources need CRDs that are not installed yet: the chart's own crds/
        # (helm installs them first) or, in check mode, an earlier wave. Render client-side.
        if not any(w in exc.stderr for w in _MISSING_KIND):
            raise
        if not check_mode and current is not None and status == "deployed":
            raise
        plan.note = "planned from a client-side render: %s" % " ".join(exc.stderr.split())[:300]
    return None


def _stored_chart(plan):
    current = plan.current or {}
    return next((r.get("chart") for r in plan.history if r.get("revision") == current.get("version")), None)


def _verdict(plan, planned):
    if plan.recover and plan.recover[0] == "uninstall":
        plan.action = "install"
        return
    status = _status(plan.current)
    if status not in ("deployed",) and not plan.recover:
        plan.reasons.append("release status is %s" % status)
    _chart_reason(plan, planned)
    same_values = _config(plan.current) == _config(planned)
    same_inputs = not plan.reasons and same_values
    if not same_values:
        plan.reasons.append("values differ")
    read = plan.cluster_read if same_inputs else set()
    if real_changes(plan.diff, read):
        plan.reasons.append("rendered objects differ")
    if plan.reasons:
        plan.action = "upgrade"


def _chart_reason(plan, planned):
    stored_chart = _stored_chart(plan)
    planned_chart = "%s-%s" % chart_id(planned)
    if chart_id(planned)[0] and stored_chart != planned_chart:
        plan.reasons.append("chart %s -> %s" % (stored_chart, planned_chart))


def local_chart_id(chart):
    """(name, version) of the chart to deploy, when known without asking a repository."""
    ref = chart["ref"]
    path = os.path.expanduser(ref)
    meta = None
    try:
        if os.path.isdir(path):
            with open(os.path.join(path, "Chart.yaml")) as handle:
                meta = goyaml.load(handle) or {}
        elif os.path.isfile(path) and tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                member = next((m for m in archive.getmembers() if m.name.count("/") == 1
                               and m.name.endswith("/Chart.yaml")), None)
                if member is None:
                    return None
                meta = goyaml.load(archive.extractfile(member).read().decode("utf-8")) or {}
    except (OSError, tarfile.TarError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if meta is not None:
        return (meta.get("name"), str(meta.get("version")))
    if chart.get("version") and not os.path.exists(path):
        return (ref.rstrip("/").rsplit("/", 1)[-1], str(chart["version"]))
    return None


def _fast_verdict(plan, helm, target, *, kube_version):
    """True when a change is certain (values or chart differ), False when a client-side render shows
    nothing changed, None when unsure. ``target`` is (name, namespace, chart, values).

    Unchanged needs: the same user values, the same chart name-version, and a client-side render
    (the cluster's Kubernetes version, install/upgrade flags as stored, no hooks: the stored manifest
    holds none) equal to the stored manifest, document for document (compared as text first, which
    costs nothing for a large CRD chart, then object for object). Objects rendered by templates that
    read the cluster (``lookup``) are judged by chart and values alone: a render can never reproduce
    what they read. Anything else goes to the server-side dry run, which decides for real (a chart
    that reads the cluster's API versions renders differently client-side). A match is remembered
    (helm/render_memo.py): the same inputs and stored manifest later skip the render.
    """
    name, namespace, chart, values = target
    current = plan.current
    ident = local_chart_id(chart)
    reasons = []
    if _config(current) != (values or {}):
        reasons.append("values differ")
    if ident is not None and _stored_chart(plan) != "%s-%s" % ident:
        reasons.append("chart %s -> %s-%s" % ((_stored_chart(plan),) + tuple(ident)))
    if reasons:
        plan.fast_reasons = reasons
        return True
    if ident is None:
        return None
    is_upgrade = (current.get("version") or 1) > 1
    stored = current.get("manifest") or ""
    memo = render_memo.fingerprint(helm.version(), target, kube_version=kube_version, is_upgrade=is_upgrade,
                                   stored_manifest=stored)
    if render_memo.seen(memo, name, namespace):
        plan.note = "unchanged: the same chart, values and stored manifest as a render that matched before"
        return False
    try:
        text = helm.template(name, namespace, chart, values, kube_version=kube_version, is_upgrade=is_upgrade,
                             hooks=False)
    except HelmError:
        return None
    if not render_matches(stored, text, chart, namespace):
        return None
    render_memo.remember(memo, name, namespace)
    return False


def render_matches(stored, text, chart, namespace):
    """The render holds what the release stored: the same documents as text (costs nothing for a large CRD
    chart), else the same objects apart from those read from the cluster."""
    if same_documents(stored, text):
        return True
    items = manifest_changes(parse_manifest(stored), parse_manifest(text), namespace)
    return not real_changes(items, cluster_read_keys(chart, (stored, text), namespace))


def same_documents(before, after):
    """True when two rendered manifests hold the same documents, in any order, as text."""
    def docs(text):
        return sorted(doc.strip() for _src, doc in chart_source.sources(text))
    return docs(before) == docs(after)


def cluster_read_keys(chart, manifests, namespace):
    """Object keys (Ref.key) in ``manifests`` rendered by templates of ``chart`` that call lookup."""
    lookups = chart_source.lookup_templates(chart["ref"])
    keys = set()
    if not lookups:
        return keys
    for text in manifests:
        for source, doc in chart_source.sources(text):
            if source not in lookups:
                continue
            for obj in goyaml.load_all(doc):
                if isinstance(obj, dict) and obj.get("kind"):
                    keys.add(Ref.of(obj, namespace).key())
    return keys


def real_changes(items, cluster_read):
    """The diff items that are changes to deploy: an update of an object whose template reads the
    cluster is not one when chart and values are the same (the caller checked those)."""
    return [
        item for item in items
        if item["action"] != "none"
        and not (item["action"] == "update" and item.get("key") in cluster_read)
    ]


_SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key", "privatekey")


def redact_values(values):
    """Values with anything named like a credential replaced (values files often carry them)."""
    if isinstance(values, dict):
        return {
            k: ("<redacted>" if isinstance(v, (str, int)) and any(w in k.lower() for w in _SECRET_WORDS)
                else redact_values(v))
            for k, v in values.items()
        }
    if isinstance(values, list):
        return [redact_values(v) for v in values]
    return values


def values_diff(plan):
    before = (plan.current or {}).get("config") or {}
    after = (plan.planned or {}).get("config") or {}
    if before == after:
        return None
    return {
        "kind": "HelmValues",
        "namespace": None,
        "name": "values",
        "action": "update" if plan.current else "create",
        "before_header": "user-supplied values (release)",
        "after_header": "user-supplied values (planned)",
        "before": redact_values(before),
        "after": redact_values(after),
    }
