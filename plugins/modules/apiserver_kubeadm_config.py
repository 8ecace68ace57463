#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apiserver_kubeadm_config
short_description: Keep the audit flags and volumes in kubeadm's ClusterConfiguration
version_added: 0.1.0
description:
  - C(kubeadm upgrade) regenerates the kube-apiserver manifest from the ClusterConfiguration in the ConfigMap
    C(kube-system/kubeadm-config) and drops what is only in the manifest. This module puts the same audit flags
    (C(apiServer.extraArgs)) and volumes (C(apiServer.extraVolumes)) there, for C(kubeadm.k8s.io/v1beta3) (a map)
    and C(v1beta4) (a list of name/value).
  - Talks to the apiserver with the connection options of the C(k8s) action group (by default the credentials of
    kubeadm's C(admin.conf)); needs no Kubernetes Python client on the host.
  - Without the ConfigMap (not a kubeadm cluster) it changes nothing and warns.
  - With O(state=present) it first checks the audit log options and paths on the host as
    M(homelab.observability.apiserver_manifest) does, so C(kubeadm upgrade) never gets settings the apiserver cannot
    start with. In check mode a missing policy file is a warning, not an error.
author:
  - homelab.observability maintainers (@homelab-observability)
extends_documentation_fragment:
  - homelab.observability.audit_log
  - homelab.observability.k8s_auth
options:
  kubeconfig:
    description:
      - Kubeconfig with rights to update ConfigMaps in kube-system.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then kubeadm's C(/etc/kubernetes/admin.conf).
      - A host path, looked up under O(host_root).
    type: path
  disk_check:
    description:
      - Accepted as an option of the C(host) action group; this module writes nothing on the host, so it checks
        no disk. The check runs where the log is enabled (M(homelab.observability.apiserver_manifest)).
    type: bool
    default: true
  host:
    description:
      - URL of the Kubernetes API server. When set, the kubeconfig is not read.
      - Falls back to E(K8S_AUTH_HOST), then the server of the kubeconfig's context.
    type: str
    aliases: [server]
  state:
    description: V(absent) removes the audit flags and volumes from the ClusterConfiguration.
    type: str
    choices: [present, absent]
    default: present
  remove_flags:
    description:
      - Flags (C(--name)) the role set before and no longer sets, removed from C(apiServer.extraArgs) too, e.g.
        RV(homelab.observability.apiserver_manifest#module:removed_flags).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Keep the audit settings across kubeadm upgrade
  homelab.observability.apiserver_kubeadm_config:
    log_maxage: 30
    log_maxbackup: 10
"""

RETURN = r"""
cluster_configuration:
  description: The ClusterConfiguration after the change.
  returned: when the ConfigMap exists
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.audit import files
from ansible_collections.homelab.observability.plugins.module_utils.audit import kubeadm_config as kc
from ansible_collections.homelab.observability.plugins.module_utils.audit import manifest as mf
from ansible_collections.homelab.observability.plugins.module_utils.audit.args import (
    audit_flags_from,
    audit_log_argument_spec,
    on_host,
)
from ansible_collections.homelab.observability.plugins.module_utils.audit.module_preflight import (
    check_audit_log,
    require_yaml,
)
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import resolve_auth
from ansible_collections.homelab.observability.plugins.module_utils.kube.connection import Connection
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeConfigError

ADMIN_CONF = "/etc/kubernetes/admin.conf"


def argument_spec():
    spec = audit_log_argument_spec()
    spec.update(auth_argument_spec())
    spec["host"]["aliases"] = ["server"]  # its name before the k8s action group
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        remove_flags=dict(type="list", elements="str", default=[]),
    )
    return spec


def connect(module):
    """The client of kubeadm's admin credentials (or the k8s group's options)."""
    p = module.params
    auth = resolve_auth(p)
    auth["kubeconfig"] = on_host(p["host_root"], auth["kubeconfig"] or ADMIN_CONF)
    try:
        return kc.client(Connection.from_auth(auth, module.tmpdir))
    except KubeConfigError as exc:  # names the option to fix
        module.fail_json(msg=str(exc))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        module.fail_json(msg="kubeconfig %s: %s; point kubeconfig at kubeadm's admin.conf" % (auth["kubeconfig"], exc))


def read_config(module, client):
    """(the ConfigMap, its ClusterConfiguration text); without the ConfigMap it exits, changing nothing."""
    try:
        code, cm = kc.request(client, "GET", kc.CONFIGMAP_PATH)
    except kc.KubeadmConfigError as exc:
        module.fail_json(msg=str(exc))
    if code == 404:
        module.warn("no ConfigMap kube-system/kubeadm-config: not a kubeadm cluster, nothing to carry")
        module.exit_json(changed=False)
    if code != 200:
        module.fail_json(msg="reading kube-system/kubeadm-config from %s: HTTP %s %s"
                             % (client.server, code, cm.get("message", "")))
    text = (cm.get("data") or {}).get(kc.KEY)
    if not text:
        module.fail_json(msg="kube-system/kubeadm-config has no %s key; run kubeadm init phase upload-config" % kc.KEY)
    return cm, text


def carried(module, text):
    """(ClusterConfiguration after, changed) with the audit flags and volumes carried into it."""
    p = module.params
    flags = audit_flags_from(p)
    volumes = mf.audit_volumes(p["policy_file"], p["log_path"])
    try:
        before = kc.yaml.safe_load(text)
        return kc.carry(before, flags, volumes, p["state"], remove=p["remove_flags"])
    except (kc.yaml.YAMLError, kc.KubeadmConfigError) as exc:
        module.fail_json(msg="kube-system/kubeadm-config: %s" % exc)


def update_config(module, client, cm, new_text):
    cm["data"][kc.KEY] = new_text
    try:
        code, resp = kc.request(client, "PUT", kc.CONFIGMAP_PATH, cm)
    except kc.KubeadmConfigError as exc:
        module.fail_json(msg="updating kube-system/kubeadm-config: %s" % exc)
    if code != 200:
        module.fail_json(msg="updating kube-system/kubeadm-config: HTTP %s %s (retry: it may have changed meanwhile)"
                             % (code, resp.get("message", "")))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_yaml(module, kc.HAS_YAML)
    if module.params["state"] == "present":
        check_audit_log(module)
    client = connect(module)
    cm, text = read_config(module, client)
    after, changed = carried(module, text)
    new_text = kc.yaml.safe_dump(after, sort_keys=False, default_flow_style=False)
    result = dict(changed=changed, cluster_configuration=after)
    files.add_diff(module, result, "kubeadm-config", text, new_text)
    if changed and not module.check_mode:
        update_config(module, client, cm, new_text)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
