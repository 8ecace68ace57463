"""Each component role used alone reaches homelab.observability.release with well-formed arguments.

No cluster is needed: the kubeconfig does not exist, so the module refuses it after Ansible has
finalized every argument (a role that passes a bad value fails earlier, with a templating error).
"""

import json
import os
import subprocess

import pytest

from .rendering import COLLECTIONS, HERE, ROLES, ROOT, ensure_collection_link, playbook_bin

BAD = "/nonexistent/homelab-observability/kubeconfig"


@pytest.mark.parametrize("role", ROLES)
def test_role_alone_reaches_the_release_module(role, tmp_path):
    ensure_collection_link()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", K8S_AUTH_KUBECONFIG="")
    extra = {"standalone_role": role, "%s_k8s_auth" % role: {"kubeconfig": BAD}}
    proc = subprocess.run([playbook_bin(), "--check", "-i", "localhost,", "-e", json.dumps(extra),
                           str(HERE / "standalone.yml")], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Finalization of task args" not in output and "Error rendering template" not in output, output[-3000:]
    assert "kubeconfig %s does not exist" % BAD in output, output[-3000:]
