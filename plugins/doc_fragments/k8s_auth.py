# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the connection options in module_utils/kube/args.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
notes:
  - Where a module runs C(helm), helm gets the same connection as the Python client, through a kubeconfig written from the
    resolved options (server, token, CA, client certificate, O(validate_certs)) into a private temporary file that
    is removed when the helm command returns. The token is never on helm's command line, and C(HELM_KUBE*)
    environment variables (token, apiserver, context) are not passed to helm.
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG) or C(~/.kube/config), then the in-cluster service account.
    type: path
  context:
    description:
      - The kubeconfig context to use. Falls back to E(K8S_AUTH_CONTEXT), then the current context.
    type: str
  host:
    description:
      - URL of the Kubernetes API server. When set, the kubeconfig is not read.
      - Falls back to E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. Falls back to E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - Verify the API server's TLS certificate. Falls back to E(K8S_AUTH_VERIFY_SSL).
      - Verification stays on unless this is set to V(false) explicitly; a kubeconfig's
        C(insecure-skip-tls-verify) is not honoured.
      - The first request of a run (C(GET /version)) fails at once, without retries, when the certificate
        cannot be verified, the connection is refused, or O(context) is not defined in the kubeconfig; the
        message names the kubeconfig, context and cluster. Timeouts, 429 and 5xx answers are retried.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - CA bundle that signs the API server's certificate. Falls back to E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate for TLS client authentication. Falls back to E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key of O(client_cert). Falls back to E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
requirements:
  - kubernetes >= 24.2.0 (Python library)
"""
