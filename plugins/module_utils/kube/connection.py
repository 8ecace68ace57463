# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resolved connection: one endpoint, one set of credentials, one TLS policy for every consumer.

The Python client, helm (through a private kubeconfig written from it) and the kubeadm-config step
on a control-plane host all take their connection from a ``Connection``, so one task cannot reach
the cluster two ways. On the controller it comes from the kubernetes library's loaded
configuration (``kube.client.connection``); on a host without that library, from the kubeconfig
reader in kube/kubeconfig.py (``Connection.from_auth``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import shutil
import tempfile

from ansible_collections.homelab.observability.plugins.module_utils.kube import kubeconfig as kc
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError


class Connection:
    """server, token, ca (file), cert and key (files), validate_certs."""

    __slots__ = ("server", "token", "ca", "cert", "key", "validate_certs")

    def __init__(self, server, *, token=None, ca=None, cert=None, key=None, validate_certs=True):
        self.server = (server or "").rstrip("/")
        self.token = token or None
        self.ca = ca or None
        self.cert = cert or None
        self.key = key or None
        self.validate_certs = validate_certs is not False

    @classmethod
    def of_configuration(cls, configuration, token=None):
        """From a loaded ``kubernetes.client.Configuration`` (``token``: its bearer token, if any)."""
        return cls(configuration.host, token=token, ca=configuration.ssl_ca_cert, cert=configuration.cert_file,
                   key=configuration.key_file, validate_certs=bool(configuration.verify_ssl))

    @classmethod
    def from_auth(cls, auth, tmpdir):
        """From resolved options (``kube.client.resolve_auth``) without the kubernetes library.

        With ``host`` the kubeconfig is not read; otherwise the ``context`` (default: the current one)
        of the kubeconfig gives the server and credentials, and ``api_key``, ``ca_cert``,
        ``client_cert`` and ``client_key`` replace what it holds. Embedded ``*-data`` go to files in
        ``tmpdir`` (mode 0600).
        """
        cluster, user, base = {}, {}, ""
        if not auth.get("host"):
            cluster, user = kc.credentials(auth["kubeconfig"], auth.get("context"))
            base = os.path.dirname(os.path.abspath(auth["kubeconfig"]))
        server = auth.get("host") or cluster.get("server")
        if not server:
            raise KubeConfigError("%s: no server in the context; set 'host'" % auth["kubeconfig"])
        for option in ("ca_cert", "client_cert", "client_key"):
            if auth.get(option) and not os.path.isfile(auth[option]):
                raise KubeConfigError("%s %s does not exist; point it at a readable PEM file" % (option, auth[option]))
        return cls(
            server,
            token=auth.get("api_key") or user.get("token"),
            ca=auth.get("ca_cert") or kc.credential_file(cluster, "certificate-authority", base, tmpdir),
            cert=auth.get("client_cert") or kc.credential_file(user, "client-certificate", base, tmpdir),
            key=auth.get("client_key") or kc.credential_file(user, "client-key", base, tmpdir),
            validate_certs=auth.get("validate_certs"),
        )

    def kubeconfig(self):
        """A kubeconfig document saying exactly this (for helm); carries the token, so keep it private."""
        cluster = {"server": self.server}
        if not self.validate_certs:
            # client-go refuses a CA together with the insecure flag ("not allowed"); unverified, no CA is read
            cluster["insecure-skip-tls-verify"] = True
        elif self.ca:
            cluster["certificate-authority"] = self.ca
        user = {}
        for key, value in (("token", self.token), ("client-certificate", self.cert), ("client-key", self.key)):
            if value:
                user[key] = value
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "target", "cluster": cluster}],
            "users": [{"name": "target", "user": user}],
            "contexts": [{"name": "target", "context": {"cluster": "target", "user": "target"}}],
            "current-context": "target",
        }


@contextlib.contextmanager
def private_kubeconfig(connection):
    """The path of a kubeconfig file for ``connection`` (private directory, mode 0600), removed afterwards."""
    tmpdir = tempfile.mkdtemp(prefix="homelab-kube-")
    try:
        os.chmod(tmpdir, 0o700)
        path = os.path.join(tmpdir, "kubeconfig")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(connection.kubeconfig(), handle)  # JSON is YAML: helm reads it as a kubeconfig
        yield path
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
