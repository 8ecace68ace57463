# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``access`` option in module_utils/probes/args.py (and ``prometheus_access``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  access:
    description:
      - How to reach the service.
      - By default through the Kubernetes API server's service proxy
        (C(/api/v1/namespaces/<namespace>/services/<scheme>:<service>:<port>/proxy/)) with the
        connection options, so no ingress, DNS or port-forward is needed.
      - Set O(access.url) to reach the service directly instead.
    type: dict
    default: {}

    suboptions:
      url:
        description:
          - Base URL of the service, for example V(https://prometheus.homelab.local).
          - When set, the service is reached directly and the service proxy options are ignored.
        type: str
      namespace:
        description:
          - Namespace of the Service reached through the apiserver's service proxy.
          - Defaults to the module's chart default (see the module description).
        type: str
      service:
        description:
          - Name of the Service reached through the apiserver's service proxy.
        type: str
      port:
        description:
          - Port name or number of the Service.
        type: str
      scheme:
        description:
          - Scheme the apiserver uses towards the Service.
        type: str
        choices: [http, https]
        default: http
      validate_certs:
        description:
          - Verify the TLS certificate of O(access.url) (direct access only; the service proxy uses the
            API server's TLS settings from the connection options).
          - Verification stays on unless this is set to V(false) explicitly.
        type: bool
        default: true
      ca_cert:
        description:
          - CA bundle for O(access.url).
        type: path
      timeout:
        description:
          - Seconds to wait for one HTTP answer.
        type: float
        default: 10.0
"""

    # the same suboptions, for a module that also reaches Prometheus (verify_alertmanager); a second literal
    # because ansible-test reads doc fragments as plain string assignments, not expressions
    PROMETHEUS_ACCESS = r"""
options:
  prometheus_access:
    description:
      - How to reach the Prometheus that should send alerts to this Alertmanager, as O(access).
      - Defaults to the kube-prometheus-stack Prometheus service
        C(monitoring/kube-prometheus-stack-prometheus:9090) through the service proxy.
    type: dict
    default: {}

    suboptions:
      url:
        description:
          - Base URL of the service, for example V(https://prometheus.homelab.local).
          - When set, the service is reached directly and the service proxy options are ignored.
        type: str
      namespace:
        description:
          - Namespace of the Service reached through the apiserver's service proxy.
          - Defaults to the module's chart default (see the module description).
        type: str
      service:
        description:
          - Name of the Service reached through the apiserver's service proxy.
        type: str
      port:
        description:
          - Port name or number of the Service.
        type: str
      scheme:
        description:
          - Scheme the apiserver uses towards the Service.
        type: str
        choices: [http, https]
        default: http
      validate_certs:
        description:
          - Verify the TLS certificate of O(prometheus_access.url) (direct access only; the service proxy uses the
            API server's TLS settings from the connection options).
          - Verification stays on unless this is set to V(false) explicitly.
        type: bool
        default: true
      ca_cert:
        description:
          - CA bundle for O(prometheus_access.url).
        type: path
      timeout:
        description:
          - Seconds to wait for one HTTP answer.
        type: float
        default: 10.0
"""
