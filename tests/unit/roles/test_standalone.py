"""Each component role used alone reaches homelab.observability.release with well-formed arguments.

No cluster is needed: the kubeconfig does not exist, so the module refuses it after Ansible has
finalized every argument (a role that passes a bad value fails earlier, with a templating error).
"""

import pytest

from .rendering import ROLES, run_playbook

BAD = "/nonexistent/homelab-observability/kubeconfig"


@pytest.mark.parametrize("role", ROLES)
def test_role_alone_reaches_the_release_module(role, tmp_path):
    extra = {"standalone_role": role, "%s_k8s_auth" % role: {"kubeconfig": BAD}}
    proc = run_playbook("standalone.yml", extra, "--check", K8S_AUTH_KUBECONFIG="")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Finalization of task args" not in output and "Error rendering template" not in output, output[-3000:]
    assert "kubeconfig %s does not exist" % BAD in output, output[-3000:]
