"""The lab's certificates and keys, laid out like kubeadm's /etc/kubernetes/pki.

Three CAs (cluster, etcd, front proxy), serving certificates for the apiserver and etcd,
client certificates for every component and the admin, and the service-account key pair.
Existing files are kept, so certificates survive `down`/`up` and kubeconfigs stay valid.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)
ADMIN_USER = "kubernetes-admin"


@dataclass(frozen=True)
class CertSpec:
    name: str  # path below pki/ without the extension
    ca: str
    cn: str
    orgs: tuple = ()
    server: bool = False
    client: bool = False
    dns: tuple = ()
    ips: tuple = field(default_factory=tuple)


def _name(cn: str, orgs: tuple = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _load_key(path: Path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)


def make_ca(pki: Path, name: str, cn: str) -> None:
    crt, key_path = pki / f"{name}.crt", pki / f"{name}.key"
    if crt.exists() and key_path.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(cn)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(_now()).not_valid_after(_now() + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    crt.parent.mkdir(parents=True, exist_ok=True)
    _write_key(key_path, key)
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_cert(pki: Path, spec: CertSpec) -> None:
    crt, key_path = pki / f"{spec.name}.crt", pki / f"{spec.name}.key"
    if crt.exists() and key_path.exists():
        return
    ca_cert = x509.load_pem_x509_certificate((pki / f"{spec.ca}.crt").read_bytes())
    ca_key = _load_key(pki / f"{spec.ca}.key")
    key = ec.generate_private_key(ec.SECP256R1())
    usages = []
    if spec.server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if spec.client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder().subject_name(_name(spec.cn, spec.orgs)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(_now()).not_valid_after(_now() + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
    )
    sans = [x509.DNSName(d) for d in spec.dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    crt.parent.mkdir(parents=True, exist_ok=True)
    _write_key(key_path, key)
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_service_account_keys(pki: Path) -> None:
    if (pki / "sa.key").exists() and (pki / "sa.pub").exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki / "sa.key", key)
    (pki / "sa.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def cert_specs(node: str) -> list[CertSpec]:
    apiserver_dns = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local", "localhost", node)
    local = ("localhost", node)
    return [
        CertSpec("apiserver", "ca", "kube-apiserver", server=True, dns=apiserver_dns,
                 ips=("127.0.0.1", "10.96.0.1", "10.250.0.1")),
        CertSpec("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",),
                 client=True),
        CertSpec("front-proxy-client", "front-proxy-ca", "front-proxy-client", client=True),
        CertSpec("etcd/server", "etcd/ca", node, server=True, client=True, dns=local, ips=("127.0.0.1",)),
        CertSpec("etcd/peer", "etcd/ca", node, server=True, client=True, dns=local, ips=("127.0.0.1",)),
        CertSpec("etcd/healthcheck-client", "etcd/ca", "kube-etcd-healthcheck-client", client=True),
        CertSpec("apiserver-etcd-client", "etcd/ca", "kube-apiserver-etcd-client", client=True),
        # client identities of the components (kubeadm embeds these in the .conf files)
        CertSpec("clients/admin", "ca", ADMIN_USER, ("system:masters",), client=True),
        CertSpec("clients/controller-manager", "ca", "system:kube-controller-manager", client=True),
        CertSpec("clients/scheduler", "ca", "system:kube-scheduler", client=True),
        # kwok plays every kubelet; the provisioner plays an external storage provisioner
        CertSpec("clients/kwok", "ca", "kwok-controller", ("system:masters",), client=True),
        CertSpec("clients/provisioner", "ca", "lab-provisioner", ("system:masters",), client=True),
        # runs the real operator in place of its pod, impersonating the pod's ServiceAccount
        CertSpec("clients/prometheus-operator", "ca", "lab-prometheus-operator-host", ("system:masters",),
                 client=True),
    ]


def ensure_pki(pki: Path, node: str) -> None:
    make_ca(pki, "ca", "kubernetes")
    make_ca(pki, "etcd/ca", "etcd-ca")
    make_ca(pki, "front-proxy-ca", "front-proxy-ca")
    for spec in cert_specs(node):
        make_cert(pki, spec)
    make_service_account_keys(pki)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, pki: Path, *, client: str, user: str, cluster: str = "lab") -> None:
    """A kubeconfig with the certificates embedded (as kubeadm writes admin.conf)."""
    context = f"{user}@{cluster}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster,
                      "cluster": {"server": server, "certificate-authority-data": _b64(pki / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(pki / f"{client}.crt"),
                                          "client-key-data": _b64(pki / f"{client}.key")}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
