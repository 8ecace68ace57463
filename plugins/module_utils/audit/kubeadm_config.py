# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry the audit flags and volumes into kubeadm's ClusterConfiguration.

``kubeadm upgrade`` regenerates the static pod manifests from the ClusterConfiguration kept in
the ConfigMap ``kube-system/kubeadm-config``; flags and volumes that are only in the manifest are
lost. ``apiServer.extraArgs`` is a map in ``kubeadm.k8s.io/v1beta3`` and a list of
``{name, value}`` from ``v1beta4`` (kubeadm 1.31) on; ``apiServer.extraVolumes`` is a list of
``{name, hostPath, mountPath, readOnly, pathType}`` in both.

The ConfigMap is read and written with the collection's kube client (``KubeApi``) over the resolved
``Connection`` of the k8s group's options, sent with ``ansible.module_utils.urls.open_url``: no
Kubernetes Python client on the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

try:
    # the module reads and writes the ClusterConfiguration with it (kc.yaml)
    import yaml  # noqa: F401  # pylint: disable=unused-import

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import UrlSession
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi

CONFIGMAP_PATH = "/api/v1/namespaces/kube-system/configmaps/kubeadm-config"
KEY = "ClusterConfiguration"


class KubeadmConfigError(ValueError):
    pass


def _is_v1beta3(cfg):
    return str(cfg.get("apiVersion", "")).endswith("/v1beta3")


def carry(cluster_config, flags, volumes, state="present", remove=()):
    """(new ClusterConfiguration object, changed) with the audit ``flags`` and ``volumes`` set (or removed).

    ``remove``: flags the role set before and no longer sets (the manifest's record); they go too.
    """
    cfg = copy.deepcopy(cluster_config) if isinstance(cluster_config, dict) else {}
    if not str(cfg.get("apiVersion", "")).startswith("kubeadm.k8s.io/"):
        raise KubeadmConfigError("ClusterConfiguration has apiVersion %r, not kubeadm.k8s.io/*; is this kubeadm?"
                                 % cfg.get("apiVersion"))
    api = cfg.get("apiServer") or {}
    cfg["apiServer"] = api
    args = {name.lstrip("-"): str(value) for name, value in flags.items()}
    dropped = {name.lstrip("-") for name in remove} - (set(args) if state == "present" else set())
    merge = _extra_args_map if _is_v1beta3(cfg) else _extra_args_list
    _set_or_drop(api, "extraArgs", merge(api.get("extraArgs"), args, dropped, state == "present"))
    _set_or_drop(api, "extraVolumes", _extra_volumes(api.get("extraVolumes"), volumes, state == "present"))
    return cfg, _normalized(cfg) != _normalized(cluster_config)


def _extra_args_map(current, args, dropped, present):
    """v1beta3: ``{name: value}``."""
    extra = dict(current or {})
    for name in dropped:
        extra.pop(name, None)
    for name, value in args.items():
        if present:
            extra[name] = value
        else:
            extra.pop(name, None)
    return extra


def _extra_args_list(current, args, dropped, present):
    """v1beta4 on: ``[{name, value}]``; each of ``args`` once, at the end."""
    extra = [entry for entry in current or [] if entry.get("name") not in args and entry.get("name") not in dropped]
    if present:
        extra.extend({"name": name, "value": value} for name, value in args.items())
    return extra


def _extra_volumes(current, volumes, present):
    wanted = [{"name": vol["name"], "hostPath": vol["hostPath"]["path"], "mountPath": mount["mountPath"],
               "readOnly": bool(mount.get("readOnly")), "pathType": vol["hostPath"]["type"]}
              for vol, mount in volumes]
    names = [w["name"] for w in wanted]
    vols = [v for v in current or [] if v.get("name") not in names]
    if present:
        vols.extend(wanted)
    return vols


def _set_or_drop(section, key, value):
    if value:
        section[key] = value
    else:
        section.pop(key, None)


def _normalized(cfg):
    """Compare with extraArgs order ignored (kubeadm sorts them itself)."""
    cfg = copy.deepcopy(cfg) or {}
    api = cfg.get("apiServer") or {}
    if isinstance(api.get("extraArgs"), list):
        api["extraArgs"] = sorted(api["extraArgs"], key=lambda e: (e.get("name", ""), str(e.get("value", ""))))
    if isinstance(api.get("extraVolumes"), list):
        api["extraVolumes"] = sorted(api["extraVolumes"], key=lambda v: v.get("name", ""))
    return cfg


def client(conn):
    """The collection's kube client over ``conn`` (``open_url``, as the host has no kubernetes library)."""
    return KubeApi(UrlSession(conn, timeout=30))


def request(api, method, path, body=None):
    """(HTTP status, JSON body); an unreachable server raises KubeadmConfigError."""
    try:
        resp = api.send(method, path, body=body, headers={"Accept": "application/json"}, timeout=30)
    except KubeError as exc:  # refused, TLS: the server is not reachable with these options
        raise KubeadmConfigError("cannot reach the API server %s: %s; check 'host' or the kubeconfig's server"
                                 % (api.host, exc.__cause__ or exc)) from exc
    try:
        return resp.status, json.loads(resp.body or b"{}")
    except ValueError:
        if resp.ok:
            raise
        return resp.status, {}
