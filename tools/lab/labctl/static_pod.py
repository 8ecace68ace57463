"""Static pods as the kubelet runs them, for a host root instead of a container runtime.

``apiserver_manifest`` writes what kubeadm writes to /etc/kubernetes/manifests/kube-apiserver.yaml.
``resolve`` turns any such Pod into a command line: the image names the binary (built by
build.sh at the image tag's version), hostPath volumes are checked like the kubelet checks them
(DirectoryOrCreate, Directory, FileOrCreate, File) and every absolute path in the flags is mapped
through the container's volumeMounts to the host root. A path outside every mount points into the
(empty) container filesystem, so a flag whose file has no volume fails as it would in a real pod.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .paths import CONTROL_PLANE_NODE, Binaries

APISERVER_IMAGE = "registry.k8s.io/kube-apiserver"
AUDIT_POLICY = "/etc/kubernetes/audit/policy.yaml"
AUDIT_LOG = "/var/log/kubernetes/audit/audit.log"


class PodError(Exception):
    """The pod cannot start (the kubelet would report it in the pod's events)."""


# The control-plane node's InternalIP (lab-cp-0's address). The apiserver listens on 127.0.0.1 only;
# it advertises this address in the `kubernetes` Endpoints, which may not hold a loopback address.
ADVERTISE_ADDRESS = "10.250.0.1"


def apiserver_manifest(version: str, port: int, etcd_port: int, node: str = CONTROL_PLANE_NODE) -> dict:
    pki = "/etc/kubernetes/pki"
    flags = {
        "advertise-address": ADVERTISE_ADDRESS,
        "allow-privileged": "true",
        "audit-log-format": "json",
        "audit-log-maxage": "7",
        "audit-log-maxbackup": "3",
        "audit-log-maxsize": "100",
        "audit-log-path": AUDIT_LOG,
        "audit-policy-file": AUDIT_POLICY,
        "authorization-mode": "Node,RBAC",
        "bind-address": "127.0.0.1",
        "client-ca-file": f"{pki}/ca.crt",
        "enable-admission-plugins": "NodeRestriction",
        # the aggregated APIs (metrics-server's metrics.k8s.io) are dialled at their pods' addresses,
        # which the real nodes' bridge routes; this machine routes no Service address (network_guard)
        "enable-aggregator-routing": "true",
        "enable-bootstrap-token-auth": "true",
        "etcd-cafile": f"{pki}/etcd/ca.crt",
        "etcd-certfile": f"{pki}/apiserver-etcd-client.crt",
        "etcd-keyfile": f"{pki}/apiserver-etcd-client.key",
        "etcd-servers": f"https://127.0.0.1:{etcd_port}",
        "kubelet-client-certificate": f"{pki}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{pki}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{pki}/front-proxy-client.crt",
        "proxy-client-key-file": f"{pki}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(port),
        "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
        "service-account-key-file": f"{pki}/sa.pub",
        "service-account-signing-key-file": f"{pki}/sa.key",
        "service-cluster-ip-range": "10.96.0.0/12",
        # close watches within 2 s on SIGTERM instead of waiting out --request-timeout (60 s),
        # past the kubelet's 30 s grace period: restarts take seconds, not half a minute
        "shutdown-send-retry-after": "true",
        "tls-cert-file": f"{pki}/apiserver.crt",
        "tls-private-key-file": f"{pki}/apiserver.key",
    }

    def probe(path: str, failures: int, initial: int = 10) -> dict:
        return {"failureThreshold": failures, "httpGet": {"host": "127.0.0.1", "path": path, "port": port,
                                                           "scheme": "HTTPS"},
                "initialDelaySeconds": initial, "periodSeconds": 10, "timeoutSeconds": 15}

    volumes = [  # (name, host path, mount path, type, read only)
        ("ca-certs", "/etc/ssl/certs", "/etc/ssl/certs", "DirectoryOrCreate", True),
        ("etc-ca-certificates", "/etc/ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate", True),
        ("k8s-certs", pki, pki, "DirectoryOrCreate", True),
        ("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates", "/usr/local/share/ca-certificates",
         "DirectoryOrCreate", True),
        ("usr-share-ca-certificates", "/usr/share/ca-certificates", "/usr/share/ca-certificates",
         "DirectoryOrCreate", True),
        ("audit-policy", os.path.dirname(AUDIT_POLICY), os.path.dirname(AUDIT_POLICY), "DirectoryOrCreate", True),
        ("audit-log", os.path.dirname(AUDIT_LOG), os.path.dirname(AUDIT_LOG), "DirectoryOrCreate", False),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": {
                "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{ADVERTISE_ADDRESS}:{port}"},
            "labels": {"component": "kube-apiserver", "tier": "control-plane"},
            "name": "kube-apiserver",
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [{
                "command": ["kube-apiserver"] + [f"--{k}={v}" for k, v in flags.items()],
                "image": f"{APISERVER_IMAGE}:{version}",
                "imagePullPolicy": "IfNotPresent",
                "livenessProbe": probe("/livez", 8),
                "name": "kube-apiserver",
                "readinessProbe": probe("/readyz", 3, 0) | {"periodSeconds": 1},
                "resources": {"requests": {"cpu": "250m"}},
                "startupProbe": probe("/livez", 24),
                "volumeMounts": [{"mountPath": m, "name": n, "readOnly": ro} for n, _h, m, _t, ro in volumes],
            }],
            "hostNetwork": True,
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"hostPath": {"path": h, "type": t}, "name": n} for n, h, _m, t, _ro in volumes],
        },
        "status": {},
    }


def dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def pod_hash(doc: dict) -> str:
    """Like the kubelet, a change is a change of the Pod object, not of the file's bytes."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass
class Launch:
    key: str  # namespace/name-node, as the kubelet names the mirror pod
    container: str
    argv: list
    env: dict
    probe: dict | None  # {"port", "path", "scheme", "host"}
    warnings: list = field(default_factory=list)


def _binary(image: str, command0: str, bins: Binaries) -> Path:
    repo, _, tag = image.rpartition(":")
    if not repo or "/" in tag:
        repo, tag = image, ""
    name = repo.rsplit("/", 1)[-1]
    if name not in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        raise PodError(f"image {image!r}: the lab runs only kube-apiserver, kube-controller-manager, "
                       f"kube-scheduler and etcd images")
    if os.path.basename(command0) != name:
        raise PodError(f"command {command0!r} does not match image {image!r}")
    if name == "etcd":
        version = "v" + tag.split("-")[0].lstrip("v") if tag else bins.versions["ETCD_VERSION"]
        path = bins.root / f"etcd-{version}" / "etcd"
    else:
        path = bins.kubernetes(name, tag or None)
    if not os.access(path, os.X_OK):
        raise PodError(f'Failed to pull image "{image}": no lab binary at {path} (pin the version in '
                       f"tools/lab/versions.env and run make lab-build)")
    return path


def _check_host_path(host_root: Path, volume: dict) -> Path:
    hp = volume["hostPath"]
    path = host_root / hp["path"].lstrip("/")
    kind = hp.get("type", "")
    name = volume["name"]
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        raise PodError(f'MountVolume.SetUp failed for volume "{name}": hostPath type check failed: '
                       f"{hp['path']} is not a directory")
    elif kind == "FileOrCreate":
        if not path.exists():
            if not path.parent.is_dir():
                raise PodError(f'MountVolume.SetUp failed for volume "{name}": the parent directory of '
                               f"{hp['path']} does not exist")
            path.touch()
    elif kind == "File" and not path.is_file():
        raise PodError(f'MountVolume.SetUp failed for volume "{name}": hostPath type check failed: '
                       f"{hp['path']} is not a file")
    elif kind not in ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File"):
        raise PodError(f'volume "{name}": hostPath type {kind!r} is not supported by the lab')
    return path


def resolve(doc: dict, host_root: Path, container_root: Path, bins: Binaries, node: str = CONTROL_PLANE_NODE) -> Launch:
    if not isinstance(doc, dict) or doc.get("kind") != "Pod" or doc.get("apiVersion") != "v1":
        raise PodError("not a v1 Pod")
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    if not meta.get("name"):
        raise PodError("metadata.name is missing")
    key = f"{meta.get('namespace') or 'default'}/{meta['name']}-{node}"
    containers = spec.get("containers") or []
    if len(containers) != 1:
        raise PodError("the lab runs pods with exactly one container")
    c = containers[0]
    command = list(c.get("command") or []) + list(c.get("args") or [])
    if not command:
        raise PodError(f"container {c.get('name')!r} has no command")
    binary = _binary(c.get("image", ""), command[0], bins)

    volumes = {}
    for v in spec.get("volumes") or []:
        if "hostPath" not in v:
            raise PodError(f"volume {v.get('name')!r}: only hostPath volumes are supported by the lab")
        volumes[v["name"]] = v
    mounts = []  # (mount path, lab path)
    for m in c.get("volumeMounts") or []:
        if m["name"] not in volumes:
            raise PodError(f"volumeMount {m['name']!r} refers to a volume that does not exist")
        lab_path = _check_host_path(host_root, volumes[m["name"]])
        mounts.append((m["mountPath"].rstrip("/") or "/", lab_path))
    mounts.sort(key=lambda item: len(item[0]), reverse=True)

    warnings = []

    def map_path(p: str) -> str:
        for mount, lab_path in mounts:
            if p == mount or p.startswith(mount + "/"):
                return str(lab_path) + p[len(mount):]
        warnings.append(f"{p} is not under any volumeMount: the container cannot see a host file there")
        return str(container_root) + p

    def map_value(value: str) -> str:
        return ",".join(map_path(v) if v.startswith("/") else v for v in value.split(","))

    argv = [str(binary)]
    for arg in command[1:]:
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            argv.append(f"{flag}={map_value(value)}")
        else:
            argv.append(map_value(arg) if arg.startswith("/") else arg)

    probe = None
    for name in ("readinessProbe", "startupProbe", "livenessProbe"):
        get = (c.get(name) or {}).get("httpGet")
        if get:
            probe = {"host": get.get("host") or "127.0.0.1", "port": get["port"], "path": get.get("path", "/"),
                     "scheme": get.get("scheme", "HTTP").lower()}
            break
    env = {e["name"]: str(e.get("value", "")) for e in c.get("env") or [] if "name" in e}
    return Launch(key, c.get("name", "main"), argv, env, probe, warnings)
