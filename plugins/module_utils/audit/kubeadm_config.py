# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry the audit flags and volumes into kubeadm's ClusterConfiguration.

``kubeadm upgrade`` regenerates the static pod manifests from the ClusterConfiguration kept in
the ConfigMap ``kube-system/kubeadm-config``; flags and volumes that are only in the manifest are
lost. ``apiServer.extraArgs`` is a map in ``kubeadm.k8s.io/v1beta3`` and a list of
``{name, value}`` from ``v1beta4`` (kubeadm 1.31) on; ``apiServer.extraVolumes`` is a list of
``{name, hostPath, mountPath, readOnly, pathType}`` in both.

Also a minimal client for the ConfigMap: the k8s group's connection options, the kubeconfig's embedded
or referenced certificates and ``ansible.module_utils.urls.open_url`` (no Kubernetes Python client on the host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import os

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_YAML = False

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url

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
    if _is_v1beta3(cfg):
        extra = dict(api.get("extraArgs") or {})
        for name in dropped:
            extra.pop(name, None)
        for name, value in args.items():
            if state == "present":
                extra[name] = value
            else:
                extra.pop(name, None)
    else:
        extra = []
        for entry in api.get("extraArgs") or []:
            if entry.get("name") in args or entry.get("name") in dropped:
                continue  # re-added below, once; or no longer set
            extra.append(entry)
        if state == "present":
            extra.extend({"name": name, "value": value} for name, value in args.items())
    if extra:
        api["extraArgs"] = extra
    else:
        api.pop("extraArgs", None)

    wanted = [{"name": vol["name"], "hostPath": vol["hostPath"]["path"], "mountPath": mount["mountPath"],
               "readOnly": bool(mount.get("readOnly")), "pathType": vol["hostPath"]["type"]}
              for vol, mount in volumes]
    names = [w["name"] for w in wanted]
    vols = [v for v in api.get("extraVolumes") or [] if v.get("name") not in names]
    if state == "present":
        vols.extend(wanted)
    if vols:
        api["extraVolumes"] = vols
    else:
        api.pop("extraVolumes", None)
    return cfg, _normalized(cfg) != _normalized(cluster_config)


def _normalized(cfg):
    """Compare with extraArgs order ignored (kubeadm sorts them itself)."""
    cfg = copy.deepcopy(cfg) or {}
    api = cfg.get("apiServer") or {}
    if isinstance(api.get("extraArgs"), list):
        api["extraArgs"] = sorted(api["extraArgs"], key=lambda e: (e.get("name", ""), str(e.get("value", ""))))
    if isinstance(api.get("extraVolumes"), list):
        api["extraVolumes"] = sorted(api["extraVolumes"], key=lambda v: v.get("name", ""))
    return cfg


class KubeconfigClient:
    """GET/PUT with the connection options of the k8s group (``kube.client.resolve_auth``).

    With ``host`` the kubeconfig is not read; otherwise the ``context`` (default: the current one) of
    the kubeconfig gives the server and credentials, and ``api_key``, ``ca_cert``, ``client_cert``
    and ``client_key`` replace what it holds.
    """

    def __init__(self, auth, tmpdir):
        self.validate_certs = auth.get("validate_certs") is not False
        cluster, user = {}, {}
        base = ""
        if not auth.get("host"):
            cluster, user = self._context(auth["kubeconfig"], auth.get("context"))
            base = os.path.dirname(os.path.abspath(auth["kubeconfig"]))
        self.server = (auth.get("host") or cluster.get("server") or "").rstrip("/")
        if not self.server:
            raise KubeadmConfigError("%s: no server in the context; set 'host'" % auth["kubeconfig"])
        self.ca = auth.get("ca_cert") or self._file(cluster, "certificate-authority", base, tmpdir)
        self.cert = auth.get("client_cert") or self._file(user, "client-certificate", base, tmpdir)
        self.key = auth.get("client_key") or self._file(user, "client-key", base, tmpdir)
        self.token = auth.get("api_key") or user.get("token")
        for option in ("ca_cert", "client_cert", "client_key"):
            if auth.get(option) and not os.path.isfile(auth[option]):
                raise KubeadmConfigError("%s %s does not exist; point it at a readable PEM file"
                                         % (option, auth[option]))

    @staticmethod
    def _context(kubeconfig_path, name):
        """(cluster, user) sections of context ``name`` (default: the current context)."""
        with open(kubeconfig_path) as handle:
            conf = yaml.safe_load(handle) or {}
        contexts = {c["name"]: c.get("context") or {} for c in conf.get("contexts") or []}
        if name and name not in contexts:
            raise KubeadmConfigError("no context %r (it has: %s); set 'context' to one of them"
                                     % (name, ", ".join(sorted(contexts)) or "none"))
        ctx_name = name or conf.get("current-context")
        ctx = contexts.get(ctx_name) or (list(contexts.values())[0] if contexts else {})
        clusters = {c["name"]: c.get("cluster") or {} for c in conf.get("clusters") or []}
        users = {u["name"]: u.get("user") or {} for u in conf.get("users") or []}
        return clusters.get(ctx.get("cluster")) or {}, users.get(ctx.get("user")) or {}

    @staticmethod
    def _file(section, key, base, tmpdir):
        if section.get(key + "-data"):
            path = os.path.join(tmpdir, key)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.b64decode(section[key + "-data"]))
            return path
        if section.get(key):
            return os.path.join(base, section[key])
        return None

    def request(self, method, path, body=None):
        """(HTTP status, JSON body); an unreachable server raises KubeadmConfigError."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer %s" % self.token
        try:
            resp = open_url(self.server + path, method=method, headers=headers,
                            data=json.dumps(body) if body is not None else None,
                            validate_certs=self.validate_certs,
                            ca_path=self.ca, client_cert=self.cert, client_key=self.key, timeout=30, use_proxy=False)
            return resp.getcode(), json.loads(resp.read() or b"{}")
        except HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}")
            except ValueError:
                detail = {}
            return exc.code, detail
        except OSError as exc:  # URLError, refused, TLS: the server is not reachable with these options
            raise KubeadmConfigError("cannot reach the API server %s: %s; check 'host' or the kubeconfig's server"
                                     % (self.server, exc)) from exc
