# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy one component (a Helm release or a set of manifests) and judge its health.

This is the whole behaviour of the ``release`` module; ``waves`` calls it once per component.
The result is a plain dict (the module's return values) with ``failed`` and ``msg`` on failure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homelab.observability.plugins.module_utils.deploy.chart import deploy_chart
from ansible_collections.homelab.observability.plugins.module_utils.deploy.manifests import deploy_manifests
from ansible_collections.homelab.observability.plugins.module_utils.deploy.run import ComponentRun
from ansible_collections.homelab.observability.plugins.module_utils.deploy.timing import Timer
from ansible_collections.homelab.observability.plugins.module_utils.helm.cli import Helm
from ansible_collections.homelab.observability.plugins.module_utils.kube.errors import KubeError
from ansible_collections.homelab.observability.plugins.module_utils.kube.waiter import Waiter


def deploy(params, api, check_mode=False, helm=None, waiter=None):
    """Converge one component; never raises for expected failures (they come back as failed/msg)."""
    waiter = waiter or Waiter(api, node_grace=params.get("node_lost_grace"))
    run = ComponentRun(params, api, waiter, Timer(), check_mode=check_mode)
    try:
        if params.get("chart"):
            run.helm = helm or Helm(params.get("binary_path") or "helm", params, connection=api.connection,
                                    before_write=getattr(api, "before_write", None))
            _deploy_with_helm(run)
        else:
            deploy_manifests(run)
    except KubeError as exc:
        run.fail("%s: %s" % (params.get("name"), exc))
    run.result["timing"] = run.timer.result()
    return run.result


def _deploy_with_helm(run):
    try:
        deploy_chart(run)
    finally:
        run.helm.close()
