# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolves the connection to the cluster from module options, K8S_AUTH_* variables or a kubeconfig.

Order of precedence, as in kubernetes.core: an option set on the task, then its K8S_AUTH_*
environment variable, then the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), then the
in-cluster service account.

The kubernetes library takes about a second to import, longer than a no-op run of a module. A
kubeconfig context that holds only a server, a CA and a token or client certificate (what kubeadm,
k3s and rke2 write) is read here (``plain_connection``) and never imports it; anything else (exec
and auth-provider plugins, token files, basic auth, several KUBECONFIG files, proxies, the in-cluster
account) is loaded by the library, exactly as kubernetes.core loads it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import os
import shutil
import tempfile

from ansible_collections.homelab.observability.plugins.module_utils.kube import kubeconfig as kc
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import AUTH_ENV
from ansible_collections.homelab.observability.plugins.module_utils.kube.connection import Connection
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError
from ansible_collections.homelab.observability.plugins.module_utils.kube.http import PoolSession
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi

_TRUE = ("1", "true", "yes", "on")
# What a kubeconfig context may hold for it to be read without the kubernetes library.
_PLAIN_USER = frozenset(("token", "client-certificate", "client-certificate-data", "client-key", "client-key-data"))
_PLAIN_CLUSTER = frozenset(("server", "certificate-authority", "certificate-authority-data",
                            "insecure-skip-tls-verify", "extensions"))


def _kubernetes():
    """(client, config) modules of the kubernetes library, imported on first use."""
    try:
        from kubernetes import client as k8s_client  # noqa: PLC0415 - about a second; see the module docstring
        from kubernetes import config as k8s_config  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the controller's Python
        raise KubeConfigError(
            "the Python 'kubernetes' library is required on the controller for this kubeconfig "
            "(pip install kubernetes): %s" % exc
        ) from exc
    return k8s_client, k8s_config


def resolve_auth(params, environ=None):
    """Merge task options with their K8S_AUTH_* variables; task options win."""
    environ = os.environ if environ is None else environ
    merged = {}
    for name, var in AUTH_ENV.items():
        value = params.get(name)
        if value is None and environ.get(var) not in (None, ""):
            value = environ[var]
            if name == "validate_certs":
                value = value.strip().lower() in _TRUE
        merged[name] = value
    if merged["validate_certs"] is None:
        merged["validate_certs"] = True
    return merged


def build_configuration(params, environ=None):
    """A ``kubernetes.client.Configuration`` for the resolved options."""
    k8s_client = _kubernetes()[0]
    auth = resolve_auth(params, environ)
    configuration = k8s_client.Configuration()
    if auth["host"]:
        configuration.host = auth["host"]
    else:
        _load_kubeconfig(auth, configuration)
    if auth["api_key"]:
        configuration.api_key = {"authorization": "Bearer %s" % auth["api_key"]}
    if auth["ca_cert"]:
        configuration.ssl_ca_cert = auth["ca_cert"]
    if auth["client_cert"]:
        configuration.cert_file = auth["client_cert"]
    if auth["client_key"]:
        configuration.key_file = auth["client_key"]
    configuration.verify_ssl = bool(auth["validate_certs"])
    return configuration


def _load_kubeconfig(auth, configuration):
    """Fill ``configuration`` from the kubeconfig (or the in-cluster account when there is none)."""
    kubeconfig = auth["kubeconfig"]
    if kubeconfig and not os.path.exists(kubeconfig):
        raise KubeConfigError(
            "kubeconfig %s does not exist: set 'kubeconfig' (or K8S_AUTH_KUBECONFIG) to a readable file" % kubeconfig
        )
    has_file = kubeconfig or os.environ.get("KUBECONFIG") or os.path.exists(os.path.expanduser("~/.kube/config"))
    if has_file:
        # the library's own message ("Expected object with name ...") names neither the file nor the choices
        files = kc.paths(kubeconfig)
        problem = kc.context_error(kc.load(files), files, auth["context"])
        if problem:
            raise KubeConfigError(problem)
    k8s_config = _kubernetes()[1]
    try:
        if has_file:
            k8s_config.load_kube_config(config_file=kubeconfig, context=auth["context"],
                                        client_configuration=configuration)
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)
    except Exception as exc:  # the library raises several unrelated types here
        raise KubeConfigError(
            "cannot load Kubernetes credentials (%s): pass 'kubeconfig', or 'host' with 'api_key'" % exc
        ) from exc


def describe_source(params, environ=None):
    """Where the endpoint and credentials come from, for messages: (text, kubeconfig_skips_tls)."""
    auth = resolve_auth(params, environ)
    if auth["host"]:
        return "the 'host' option (or K8S_AUTH_HOST)", False
    files = kc.paths(auth["kubeconfig"], environ)
    if not auth["kubeconfig"] and not any(os.path.exists(f) for f in files):
        return "the in-cluster service account (no kubeconfig found)", False
    view = kc.load(files)
    context = auth["context"] or view["current-context"]
    cluster_name, cluster = kc.cluster_of(view, context)
    text = "kubeconfig %s (context %s, cluster %s)" % (", ".join(files), context, cluster_name)
    return text, bool(cluster.get("insecure-skip-tls-verify"))


def secrets_of(configuration):
    """The bearer token the client will send, wherever it came from (the option, K8S_AUTH_API_KEY, the
    kubeconfig). Modules add it to ``no_log_values``: Ansible masks the ``api_key`` option by itself, not a
    token from the environment or a kubeconfig, and this way no task needs ``no_log`` for a token.
    """
    out = set()
    # the option sets "authorization", the kubeconfig loader "BearerToken"; both carry "Bearer <token>"
    for value in (getattr(configuration, "api_key", None) or {}).values():
        token = (value or "").strip()
        if token.lower().startswith("bearer "):
            token = token[len("bearer "):].strip()
        if token:
            out.add(token)
    return out


def plain_connection(params, environ=None):
    """The ``Connection`` read without the kubernetes library; None when the library must load it."""
    auth = resolve_auth(params, environ)
    if auth["host"]:
        return Connection.from_auth(auth, _credentials_dir())
    files = kc.paths(auth["kubeconfig"], environ)
    if len(files) != 1 or not os.path.isfile(files[0]):
        return None  # several files to merge, or none: the in-cluster account, or the library's own error
    if not (auth["context"] or kc.load(files)["current-context"]):
        return None  # the library's message says a current-context is expected
    cluster, user = kc.credentials(files[0], auth["context"])
    if not set(user) <= _PLAIN_USER or not set(cluster) <= _PLAIN_CLUSTER:
        return None
    return Connection.from_auth(dict(auth, kubeconfig=files[0]), _credentials_dir())


def _credentials_dir():
    """A private directory for a kubeconfig's embedded certificates, removed when the module exits."""
    path = tempfile.mkdtemp(prefix="homelab-kube-")
    os.chmod(path, 0o700)
    atexit.register(shutil.rmtree, path, True)
    return path


def connection(params, environ=None):
    """The resolved ``Connection`` (endpoint, credentials, TLS) every consumer uses: sessions, helm, messages."""
    plain = plain_connection(params, environ)
    if plain is not None:
        return plain
    configuration = build_configuration(params, environ)
    return Connection.of_configuration(configuration, next(iter(secrets_of(configuration)), None))


def api_client(params, environ=None):
    """A kubernetes ``ApiClient`` (imports the library; the modules use ``kube_session``)."""
    return _kubernetes()[0].ApiClient(build_configuration(params, environ))


def kube_session(params, environ=None):
    """The HTTP session to the cluster, with the bearer tokens it sends in ``secrets`` (for ``no_log_values``).

    The library's own pool when it loaded the credentials, so an exec plugin's token is refreshed.
    """
    plain = plain_connection(params, environ)
    if plain is not None:
        return PoolSession.of_connection(plain)
    client = api_client(params, environ)
    secrets = secrets_of(client.configuration)
    return PoolSession.of_api_client(client, secrets,
                                     Connection.of_configuration(client.configuration, next(iter(secrets), None)))


def kube_api(params, environ=None, retry_seconds=30):
    """The collection's one client (``KubeApi``) for the resolved options."""
    return KubeApi(kube_session(params, environ), retry_seconds=retry_seconds)
