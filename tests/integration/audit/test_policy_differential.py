"""The policy validator against the real kube-apiserver of the lab: both give the same verdict.

Each policy is written the way the audit_policy module writes it (``yaml11.render``) and handed to
a kube-apiserver process with ``--audit-policy-file``. It either exits with ``loading audit policy
file: ...`` (refused) or logs that it loaded its admission plugins, which it does only after the
policy was read (accepted); it is killed then, before it would wait for an etcd that is not there.
The project's tables (tests/unit/audit/test_policy.py) and a sample of the property test's
generated policies run through it, so the validator and the apiserver cannot drift apart unnoticed.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from ansible_collections.homelab.observability.plugins.module_utils.audit import policy as ap
from ansible_collections.homelab.observability.plugins.module_utils.audit import yaml11
from ansible_collections.homelab.observability.tests.unit.audit import test_policy as tables
from ansible_collections.homelab.observability.tests.unit.audit import test_policy_render as generated
from hypothesis import HealthCheck, given, settings
from labctl.paths import Binaries

APISERVER = Binaries.discover().kubernetes("kube-apiserver")
REFUSED = "loading audit policy file"
ACCEPTED = "mutating admission controller(s)"
pytestmark = pytest.mark.skipif(not APISERVER.exists(), reason="lab binaries not built (make lab-build)")

# Refused here on purpose although the apiserver loads them: each silently widens a rule (the
# apiserver ignores the unknown field). The test fails when the apiserver starts refusing them too.
STRICTER = {"typo-field"}


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    """verdict(policy) -> (refused, the apiserver's line that says so)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    work = tmp_path_factory.mktemp("differential")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work / "sa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    (work / "sa.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo))

    def verdict(policy) -> tuple[bool, str]:
        path = work / "policy.yaml"
        path.write_text(yaml11.render(policy))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = work / "apiserver.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([
                str(APISERVER), "--etcd-servers=http://127.0.0.1:1", "--bind-address=127.0.0.1",
                "--secure-port=%d" % port, "--cert-dir=%s" % (work / "certs"), "--audit-policy-file=%s" % path,
                "--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=%s" % (
                    work / "sa.pub"), "--service-account-signing-key-file=%s" % (work / "sa.key")],
                stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = log.read_text(errors="replace")
                if REFUSED in text:
                    return True, next(line for line in text.splitlines() if REFUSED in line)
                if ACCEPTED in text:
                    return False, "loaded"
                if proc.poll() is not None:
                    pytest.fail("kube-apiserver exited for another reason:\n" + text[-2000:])
                time.sleep(0.05)
            pytest.fail("kube-apiserver neither loaded nor refused the policy in 30 s:\n" + text[-2000:])
        finally:
            proc.kill()
            proc.wait()

    return verdict


def _validator_refuses(policy) -> bool:
    try:
        ap.validate_policy(policy)
    except ap.PolicyError:
        return True
    return False


@pytest.mark.parametrize("policy", [p for _, p, _ in tables.INVALID], ids=[i for i, _, _ in tables.INVALID])
def test_what_the_validator_refuses_the_apiserver_refuses(apiserver, policy, request):
    refused, line = apiserver(policy)
    case = request.node.callspec.id
    if case in STRICTER:
        assert not refused, "the apiserver now refuses %s too (%s): remove it from STRICTER" % (case, line)
    else:
        assert refused, "the validator refuses %s, the apiserver loads it" % case


ACCEPTED_CASES = ([("warned-" + i, p) for i, p, _ in tables.WARNED]
                  + [("rule-%d" % n, tables._policy(r)) for n, r in enumerate(tables.VALID_RULES)]
                  + [("metadata-%d" % n, dict(tables._policy(tables.OK), metadata=m))
                     for n, m in enumerate(tables.VALID_METADATA)]
                  + [("defaults", ap.default_policy())])


@pytest.mark.parametrize("policy", [p for _, p in ACCEPTED_CASES], ids=[i for i, _ in ACCEPTED_CASES])
def test_what_the_validator_accepts_the_apiserver_loads(apiserver, policy):
    assert not _validator_refuses(policy)
    refused, line = apiserver(policy)
    assert not refused, line


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(generated.POLICIES)
def test_generated_policies_get_the_same_verdict(apiserver, policy):
    refused, line = apiserver(policy)
    assert refused == _validator_refuses(policy), (policy, line)

