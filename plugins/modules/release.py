#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: release
short_description: Deploy one component (a Helm chart or manifests) and wait until it is really healthy
version_added: 0.1.0
description:
  - Installs or upgrades a Helm release, or applies a set of Kubernetes manifests with server-side apply
    (field manager C(homelab.observability)), then waits until every object it owns is healthy.
  - Idempotent without writing. For a chart, the stored release (status, chart, user values, manifest) is
    compared with a server-side dry-run render; C(helm upgrade) only runs when something differs or the release
    is not C(deployed). For manifests, each live object is read and compared with the desired one (and, when in
    doubt, with a server-side dry-run apply); only objects that would change are applied. An unchanged run
    sends no write request to the API server.
  - Drift is repaired. A release that Helm's state shows unchanged is compared with the cluster (one LIST per
    kind and namespace of the objects in its stored manifest, only the fields the manifest sets, quantities by
    value); an object deleted or a field edited out of band upgrades it with the same values. An edited object
    is server-side applied first, as helm's own field manager (Helm 4 refuses to apply over a field another
    manager changed, Helm 3 patches CRDs and custom resources two-way and would keep the edit); the upgrade
    re-creates what is missing. RV(drift) names each object. Manifests read their live objects by one LIST per
    kind (by the component's labels) and apply what was deleted or edited.
  - Manifests are pruned (O(prune)). Each object gets the labels C(homelab.observability/component) (O(name)),
    C(homelab.observability/component-namespace) (O(namespace)) and
    C(app.kubernetes.io/managed-by=homelab.observability) (unless the manifest sets its own managed-by); the
    kinds applied are recorded in the ConfigMap C(<name>-applied-kinds) of O(namespace). Objects carrying all
    three labels that the manifests no longer hold are deleted, even of a kind the manifests no longer have at
    all; Namespaces and CRDs never are.
  - Check mode plans only; with C(--diff) the plan comes back as one structured entry per object, Secret data
    redacted.
  - Custom resource definitions are applied and Established before the custom resources that use them.
  - When the objects are not healthy by O(wait_timeout), the task fails and RV(diagnosis) names each object
    and the cause found (scheduler messages, image pull errors, crash loops with the last container message,
    claims waiting for a missing StorageClass, warning events).
author:
  - homelab.observability maintainers (@homelab-observability)
options:
  name:
    description:
      - Name of the Helm release, or of the component when deploying manifests (used in messages).
    type: str
    required: true
  namespace:
    description:
      - Namespace of the release, and of every namespaced manifest that names none.
    type: str
    required: true
  create_namespace:
    description:
      - Create O(namespace) when it does not exist.
    type: bool
    default: true
  state:
    description:
      - V(present) installs or upgrades; V(absent) uninstalls the release or deletes the manifests' objects.
    type: str
    default: present
    choices: [present, absent]
  manifests:
    description:
      - Kubernetes objects to apply (each a complete object with apiVersion, kind and metadata.name).
      - May be combined with O(manifest_files); mutually exclusive with O(chart).
    type: list
    elements: dict
  manifest_files:
    description:
      - Files on the controller holding multi-document YAML manifests. Mutually exclusive with O(chart).
    type: list
    elements: path
  prune:
    description:
      - For manifests, delete the objects this component applied before and no longer renders (see the
        description); check mode and C(--diff) show them as C(delete), RV(pruned) lists them. Ignored for charts.
    type: bool
    default: true
  recreate_immutable:
    description:
      - Some fields cannot change on an existing object, and the API server refuses the whole update - a
        StatefulSet's C(volumeClaimTemplates) (their C(storageClassName) or size), C(selector), C(serviceName) and
        C(podManagementPolicy); a Deployment's, DaemonSet's or ReplicaSet's C(spec.selector); a Service's
        C(clusterIP); a Job's C(spec.template); a PersistentVolumeClaim's spec beyond its storage request.
      - When V(false) (the default), such a refusal fails the task with the component, the object, the field, why
        it is immutable and the fix. A Helm release is rolled back to the revision deployed before the run (helm
        had recorded the refused upgrade as C(failed)), so it is as it was, one revision later, whatever
        O(rollback_on_failure) says; for manifests the server's dry run refuses it before any write.
      - When V(true), the refused object is deleted and the upgrade (or apply) runs again, which creates it anew.
        A StatefulSet is deleted with propagation C(Orphan), so its pods and PersistentVolumeClaims stay and are
        adopted by the new StatefulSet. B(Existing claims keep their old storage class and size); the new class
        applies only to claims made from now on (new replicas). Other kinds are deleted with their dependents, with
        downtime until the new pods are ready (a Deployment selector change), a new cluster IP for a Service, the
        Job runs again, and a deleted claim loses its data when its volume's reclaim policy is C(Delete).
      - Every refused object's apiVersion and scope is resolved (from the refused revision's objects) before any
        is deleted; one that cannot be deleted safely fails the task with nothing deleted and the release rolled
        back. When the upgrade after the deletion fails too, the release is rolled back to the revision deployed
        before the run, which creates the deleted objects again.
      - In check mode, a chart's planned diff is compared with the release's stored objects and the plan's
        reasons say the upgrade would be refused, or would recreate the object; for manifests the diff entry has
        action C(recreate).
    type: bool
    default: false
extends_documentation_fragment:
  - homelab.observability.helm
  - homelab.observability.wait
  - homelab.observability.k8s_auth
  - homelab.observability.render_memo
attributes:
  check_mode:
    description: Plans only (server-side dry runs and client-side renders); nothing is applied.
    support: full
  diff_mode:
    description: Returns one structured before/after entry per object that changes, Secret values redacted.
    support: full
notes:
  - Exactly one of O(chart), or O(manifests) and/or O(manifest_files), must be given.
  - A chart whose templates produce random output (for example a generated password without an existing
    Secret) differs on every render and is upgraded on every run; give it fixed values.
  - Drift of a chart's CRDs kept in C(crds/) is not seen (Helm stores only C(templates/) in the release); a
    CRD deleted from there is re-created by C(helm uninstall) and install, or by shipping CRDs in C(templates/).
  - A field a controller rewrites on purpose (a webhook's C(caBundle) or C(failurePolicy) patched by a job, the
    replicas of a Deployment an autoscaler scales) is drift when the chart sets it, and upgrades on every run.
  - Names are checked before any request, as the apiserver and Helm would check them. O(name) of a chart must be
    a Helm release name (a DNS-1123 subdomain of at most 53 characters), of manifests a DNS-1123 label (it is a
    label value), O(namespace) a DNS-1123 label, and each
    object of O(manifests) a DNS-1123 subdomain (RBAC objects aside, whose names may hold C(:)).
seealso:
  - module: homelab.observability.waves
"""

EXAMPLES = r"""
- name: Loki from its Helm repository, pinned
  homelab.observability.release:
    name: loki
    namespace: monitoring
    chart:
      ref: loki
      repo_url: https://grafana.github.io/helm-charts
      version: "6.24.0"
    values:
      deploymentMode: SingleBinary
    wait_timeout: 900

- name: Exportarr for Sonarr as plain manifests
  homelab.observability.release:
    name: exportarr-sonarr
    namespace: monitoring
    manifest_files:
      - files/exportarr-sonarr.yml

- name: Recover a release stuck in pending-upgrade, then upgrade it
  homelab.observability.release:
    name: kube-prometheus-stack
    namespace: monitoring
    chart:
      ref: oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack
      version: "68.2.1"
    recover_pending: true
    rollback_on_failure: true

- name: Plan only
  homelab.observability.release:
    name: alloy
    namespace: monitoring
    chart:
      ref: ./charts/alloy
  check_mode: true
  diff: true
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) written.
  returned: always
  type: bool
diff:
  description:
    - One entry per object that changes (and, for charts, one for the user-supplied values), with C(before) and
      C(after) as objects; Secret values read C(<redacted>) or C(<redacted, changed>).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Object kind (C(HelmValues) for the values entry).
      type: str
    namespace:
      description: Object namespace.
      type: str
    name:
      description: Object name.
      type: str
    action:
      description: create, update, delete.
      type: str
    before:
      description: The live object (manifests) or the one stored in the release (charts).
      type: dict
    after:
      description: The object as planned.
      type: dict
  sample:
    - {kind: ConfigMap, namespace: monitoring, name: dashboards, action: update, before: {}, after: {}}
drift:
  description:
    - For charts, the objects that drifted from the stored release (deleted, or a field the manifest sets edited
      out of band); C(drift) is C(missing) or the path of the first field that differs. Each also has a RV(diff)
      entry (before is the live object).
  returned: when a chart's objects drifted
  type: list
  elements: dict
  sample:
    - {kind: CustomResourceDefinition, namespace: null, name: prometheuses.monitoring.coreos.com, drift: missing}
    - {kind: Deployment, namespace: monitoring, name: grafana, drift: "spec.template.spec.containers[0].image"}
drift_applied:
  description: The drifted objects server-side applied as helm's field manager (edited ones, before the upgrade).
  returned: when any was applied
  type: list
  elements: dict
  sample:
    - {kind: Prometheus, namespace: monitoring, name: kube-prometheus-stack-prometheus, drift: spec.retention}
pruned:
  description: For manifests, the objects deleted (in check mode, to be deleted) that the manifests no longer hold.
  returned: for manifests with state present and prune true
  type: list
  elements: dict
  sample:
    - {kind: Deployment, namespace: arr, name: exportarr-radarr}
resources:
  description: Every object the release owns and its health.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: StatefulSet
      namespace: monitoring
      name: loki
      health: {status: Healthy, message: 1/1 pods ready}
health:
  description: Overall health, the worst of RV(resources) (Healthy, Progressing, Degraded, Suspended, Missing, Unknown).
  returned: always
  type: str
  sample: Healthy
diagnosis:
  description: When not healthy, why, one line per finding, naming the object.
  returned: always
  type: list
  elements: str
  sample:
    - "StatefulSet monitoring/loki is Progressing: 0 of 1 pods are ready"
    - "pod loki-0 is unschedulable: 0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    - "PersistentVolumeClaim monitoring/storage-loki-0 is Pending: StorageClass 'nfs' does not exist"
revision:
  description: The Helm release revision after the run (null for manifests).
  returned: always
  type: int
  sample: 3
plan:
  description: For charts, what the run decided and why.
  returned: when a chart is deployed with state present
  type: dict
  sample: {action: upgrade, reasons: [values differ]}
timing:
  description: Start and end (UTC), total seconds and seconds per phase (plan, apply, prune, wait).
  returned: always
  type: dict
  sample: {started_at: "2026-01-01T10:00:00.000000Z", finished_at: "2026-01-01T10:00:04.100000Z", duration: 4.1, plan: 0.3, apply: 0.5, wait: 3.3}
api_requests:
  description: API requests this run sent, by HTTP method (helm's own requests are not included).
  returned: always
  type: dict
  sample: {GET: 12}
rolled_back_to:
  description: The revision a failed upgrade was rolled back to (0 when a failed install was uninstalled).
  returned: when O(rollback_on_failure) acted, or an upgrade refused for an immutable field was undone
  type: int
recreated:
  description: The objects deleted and created again because of O(recreate_immutable).
  returned: when O(recreate_immutable) acted (in check mode for manifests, those that would be)
  type: list
  elements: str
  sample: ["apps/v1/StatefulSet monitoring/loki"]
immutable:
  description: Check mode of a chart, the objects whose planned change the API server would refuse as immutable.
  returned: when such a change is planned
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.observability.plugins.module_utils.deploy import inputs
from ansible_collections.homelab.observability.plugins.module_utils.deploy.args import (
    RELEASE_MUTUALLY_EXCLUSIVE,
    RELEASE_REQUIRED_ONE_OF,
    release_argument_spec,
)
from ansible_collections.homelab.observability.plugins.module_utils.deploy.lifecycle import deploy
from ansible_collections.homelab.observability.plugins.module_utils.kube import preflight
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import (
    describe_source,
    kube_session,
)
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi


def argument_spec():
    return release_argument_spec()


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=RELEASE_MUTUALLY_EXCLUSIVE,
        required_one_of=RELEASE_REQUIRED_ONE_OF,
        supports_check_mode=True,
    )
    problems = inputs.component_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    try:
        client = kube_session(module.params)
        module.no_log_values.update(client.secrets)
        api = KubeApi(client)
        # a refused connection or an unverifiable certificate fails here, before helm or any retry
        preflight.check(api, describe_source(module.params))
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    result = deploy(module.params, api, check_mode=module.check_mode)
    result["api_requests"] = dict(api.counts)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
