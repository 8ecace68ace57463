#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.observability contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: waves
short_description: Deploy components in health-gated waves (the Argo CD sync-wave equivalent)
version_added: 0.1.0
description:
  - Deploys a list of components, each a Helm chart or a set of manifests exactly as
    M(homelab.observability.release) deploys one, grouped by their C(wave) number.
  - Waves run in ascending order. The components of one wave run in parallel; the next wave starts only when
    every component of the current one is healthy. The first wave that does not become healthy within
    O(wave_timeout) stops the run; later components are reported as C(not_started).
  - Returns the state of every component and a timing table (start, end, duration per component).
  - Check mode plans every wave (diffs with C(--diff)) and applies nothing. A later wave whose custom resource
    kinds or namespace come from an earlier, unapplied wave is planned from a client-side render instead of
    failing.
author:
  - homelab.observability maintainers (@homelab-observability)
options:
  components:
    description:
      - >-
        The components. Each is a dict with C(name) (required, unique), C(wave) (int, default 0) and any option
        of M(homelab.observability.release) except the connection options, which are set once on this task.
        That is C(namespace) (required), C(create_namespace), C(state), C(chart) (C(ref), C(repo_url),
        C(version)), C(values), C(values_files), C(manifests), C(manifest_files), C(wait), C(wait_timeout),
        C(node_lost_grace), C(rollback_on_failure), C(recover_pending), C(recreate_immutable), C(prune) and
        C(binary_path).
      - Each component is validated like the release module's options; unknown keys are an error. Every
        component's names are checked (see the release module's notes) before the first wave starts, so a bad name
        in a late wave does not fail the run after the early waves were deployed.
    type: list
    elements: dict
    required: true
  wave_timeout:
    description:
      - Seconds a wave may take to become healthy; caps each component's C(wait_timeout).
    type: int
    default: 900
  max_parallel:
    description:
      - How many components of one wave deploy at the same time.
    type: int
    default: 8
  lock:
    description:
      - >-
        Take the deploy lock before the first write and give it back at the end (on failure too), so two deploys
        against one cluster run one after the other instead of racing on the same Helm releases (which fails one
        of them with C(release: already exists)).
      - The lock is the Lease C(homelab-observability-deploy) of API group C(coordination.k8s.io/v1) in
        O(lock_namespace). Its C(holderIdentity) names the run that holds it (host, process id, start time); the
        run renews it every 20 seconds, and a lock not renewed for 60 seconds (its run was killed) is taken over.
      - The user needs C(get), C(create), C(update) and C(delete) on C(leases) in that namespace.
      - The lock is taken by the run's first write, so a run with nothing to change writes nothing at all. A
        component that had to wait for another run's lock plans again under it (that run may have changed its
        release meanwhile), and a pending release is judged only once the lock is this run's (the pending state may
        be the other run's helm at work).
      - In check mode the lock is only read; a holder is reported as a warning, nothing is written.
      - A run that loses the lock (another run took it over, or its renewals failed for 60 seconds) writes nothing
        more and fails naming what happened; a helm command already running is not stopped.
    type: bool
    default: true
  lock_timeout:
    description:
      - Seconds to wait for another run's lock; the run then fails naming the holder, before any write.
      - C(0) refuses at once when another run holds the lock.
    type: int
    default: 600
  lock_namespace:
    description:
      - Namespace of the lock's Lease. Every deploy to one cluster should use the same one.
      - Unset takes the namespace of the first component of the first wave (created first when that component
        has C(create_namespace)). So a component role run alone (exportarr in C(arr)) and the whole stack (its CRDs
        in C(monitoring)) lock different Leases unless both are given the same namespace here.
    type: str
extends_documentation_fragment:
  - homelab.observability.k8s_auth
  - homelab.observability.render_memo
attributes:
  check_mode:
    description: Plans only (server-side dry runs and client-side renders); nothing is applied.
    support: full
  diff_mode:
    description: Returns one structured before/after entry per object that changes, Secret values redacted.
    support: full
seealso:
  - module: homelab.observability.release
"""

EXAMPLES = r"""
- name: The seed's waves
  homelab.observability.waves:
    kubeconfig: ~/.kube/config
    components:
      - name: kube-prometheus-stack
        wave: -1
        namespace: monitoring
        chart:
          ref: kube-prometheus-stack
          repo_url: https://prometheus-community.github.io/helm-charts
          version: "68.2.1"
        values_files: [files/kps-values.yml]
      - name: loki
        wave: -1
        namespace: monitoring
        chart: {ref: loki, repo_url: https://grafana.github.io/helm-charts, version: "6.24.0"}
      - name: alloy
        wave: 0
        namespace: monitoring
        chart: {ref: alloy, repo_url: https://grafana.github.io/helm-charts, version: "0.11.0"}
      - name: capacity-dashboards
        wave: 1
        namespace: monitoring
        manifest_files: [files/capacity-dashboards.yml]
  register: deploy

- name: Show how long each component took
  ansible.builtin.debug:
    var: deploy.timing_table
"""

RETURN = r"""
changed:
  description: Whether any component changed (or would change, in check mode).
  returned: always
  type: bool
waves:
  description: One entry per wave that ran, in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {wave: -1, components: [kube-prometheus-stack, loki], healthy: true, started_at: "2026-01-01T10:00:00.000000Z",
       finished_at: "2026-01-01T10:01:30.000000Z", duration: 90.0}
components:
  description:
    - Per component name, its outcome; C(health) is C(not_started) for components of waves that did not run.
    - Each entry has wave, changed, health, resources, diagnosis, started_at, finished_at, duration, phases
      (seconds per phase that ran, of plan, apply, prune and wait), revision, diff, and msg when it failed; and, as
      M(homelab.observability.release) returns them, plan (charts), drift and drift_applied (charts whose objects
      drifted) and pruned (manifests).
  returned: always
  type: dict
  sample:
    loki: {wave: -1, changed: true, health: Healthy, resources: [], diagnosis: [], started_at: "2026-01-01T10:00:00Z",
           finished_at: "2026-01-01T10:00:40Z", duration: 40.0, phases: {plan: 0.4, apply: 9.6, wait: 30.0},
           revision: 1}
api_requests:
  description: API requests the module sent, by HTTP method (helm's own requests are not included), the lock's too.
  returned: always
  type: dict
lock:
  description:
    - The deploy lock, with O(lock) - namespace, name, holder (this run's identity), waited (seconds spent waiting
      for another run), waited_for (that run's identity, or null), lost (set when another run took the lock over
      while this one ran), release_problem (set when the lock could not be deleted at the end) and requests (the
      lock's own API requests by HTTP method, renewals included).
  returned: when O(lock) is true and there are components
  type: dict
  sample: {namespace: monitoring, name: homelab-observability-deploy, holder: "host=ctl pid=4242
    started=2026-01-01T10:00:00.000000Z", waited: 0.0, waited_for: null, lost: null, release_problem: null,
    requests: {POST: 1, DELETE: 1}}
timing_table:
  description: One row per component in wave order (wave, component, changed, health, started_at, finished_at, duration,
    phases).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.homelab.observability.plugins.module_utils.deploy import inputs
from ansible_collections.homelab.observability.plugins.module_utils.deploy.args import (
    RELEASE_MUTUALLY_EXCLUSIVE,
    RELEASE_REQUIRED_ONE_OF,
)
from ansible_collections.homelab.observability.plugins.module_utils.deploy.lifecycle import deploy
from ansible_collections.homelab.observability.plugins.module_utils.helm import mirror
from ansible_collections.homelab.observability.plugins.module_utils.kube import preflight
from ansible_collections.homelab.observability.plugins.module_utils.kube.args import auth_argument_spec
from ansible_collections.homelab.observability.plugins.module_utils.kube.client import (
    describe_source,
    kube_session,
)
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.lease import DeployLock
from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi
from ansible_collections.homelab.observability.plugins.module_utils.waves.args import component_spec
from ansible_collections.homelab.observability.plugins.module_utils.waves.runner import first_component, run_waves


def argument_spec():
    spec = {
        "components": {"type": "list", "elements": "dict", "required": True},
        "wave_timeout": {"type": "int", "default": 900},
        "max_parallel": {"type": "int", "default": 8},
        "lock": {"type": "bool", "default": True},
        "lock_timeout": {"type": "int", "default": 600},
        "lock_namespace": {"type": "str"},
    }
    spec.update(auth_argument_spec())
    return spec


def validate_components(module):
    validator = ArgumentSpecValidator(
        component_spec(),
        mutually_exclusive=RELEASE_MUTUALLY_EXCLUSIVE,
        required_one_of=RELEASE_REQUIRED_ONE_OF,
    )
    out = []
    for index, comp in enumerate(module.params["components"]):
        result = validator.validate(comp)
        if result.error_messages:
            module.fail_json(
                msg="components[%d] (%s): %s" % (index, comp.get("name", "no name"), "; ".join(result.error_messages))
            )
        params = result.validated_parameters
        problems = inputs.component_problems(params)
        if problems:
            # every component is checked before the first wave: a bad name must not fail wave 1 after wave -2 ran
            module.fail_json(msg="components[%d] (%s): %s" % (index, params.get("name"), "; ".join(problems)))
        try:
            mirror.resolve(params.get("chart"), params.get("chart_mirror"))
        except KubeError as exc:
            module.fail_json(msg="components[%d] (%s): %s" % (index, params.get("name"), exc))
        out.append(params)
    return out


def check_options(module):
    params = module.params
    if params["max_parallel"] < 1 or params["wave_timeout"] < 1:
        module.fail_json(msg="max_parallel and wave_timeout must be at least 1")
    if params["lock_timeout"] < 0:
        module.fail_json(msg="lock_timeout must be 0 (refuse at once when another run holds the lock) or more seconds"
                             " (is %d)" % params["lock_timeout"])
    if params["lock_namespace"] is not None and not inputs.dns_label(params["lock_namespace"]):
        module.fail_json(msg="lock_namespace must be %s, such as monitoring (is %r)"
                             % (inputs.LABEL_RULE, params["lock_namespace"]))


def deploy_lock(module, client, components):
    """The run's ``DeployLock`` (over a KubeApi of its own, counted with the others), or None."""
    first = first_component(components)
    if not module.params["lock"] or first is None:
        return None
    namespace = module.params["lock_namespace"] or first["namespace"]
    own = not module.params["lock_namespace"]
    return DeployLock(KubeApi(client), namespace, timeout=module.params["lock_timeout"],
                      create_namespace=own and first.get("create_namespace", True), check_mode=module.check_mode)


def lock_warnings(module, lock):
    report = lock.report()
    if report["waited_for"] and module.check_mode:
        module.warn("another deploy holds the deploy lock (Lease %s/%s): %s; a real run would wait for it"
                    % (report["namespace"], report["name"], report["waited_for"]))
    elif report["waited_for"]:
        module.warn("waited %.1fs for the deploy lock (Lease %s/%s) held by %s"
                    % (report["waited"], report["namespace"], report["name"], report["waited_for"]))
    for problem in (report["lost"], report["release_problem"]):
        if problem:
            module.warn(problem)
    return report


def sum_requests(apis):
    requests = {}
    for api in apis:
        for verb, count in api.counts.items():
            requests[verb] = requests.get(verb, 0) + count
    return requests


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    check_options(module)
    components = validate_components(module)
    auth = {name: module.params[name] for name in auth_argument_spec()}
    try:
        client = kube_session(auth)
        # masked in the result like a no_log option, so the task itself needs no no_log for a token
        module.no_log_values.update(client.secrets)
        first = KubeApi(client)
        # a refused connection or an unverifiable certificate fails here, not as wave -2's health
        preflight.check(first, describe_source(auth))
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    apis = [first]

    lock = deploy_lock(module, client, components)

    def deploy_one(params, check_mode):
        api = KubeApi(client)
        if lock is not None:
            api.before_write = lock.ensure
        apis.append(api)
        params = dict(params, **auth)
        return deploy(params, api, check_mode=check_mode)

    if lock is not None:
        apis.append(lock.api)
    try:
        result, failure = run_waves(
            components,
            deploy_one,
            wave_timeout=module.params["wave_timeout"],
            max_parallel=module.params["max_parallel"],
            check_mode=module.check_mode,
            lock=lock,
        )
    except KubeError as exc:
        module.fail_json(msg=str(exc), **({"lock": lock.report()} if lock else {}))
    result["api_requests"] = sum_requests(apis)
    if lock is not None:
        result["lock"] = lock_warnings(module, lock)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
