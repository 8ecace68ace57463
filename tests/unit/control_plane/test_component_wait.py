"""apiserver_wait names the component it waited for, so the control_plane_metrics role's failures say which one."""

import socket

from ansible_collections.homelab.observability.plugins.modules import apiserver_wait as module


def test_a_component_that_does_not_answer_is_named(run_module, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    result, failed = run_module(module, {"url": "https://127.0.0.1:%d/healthz" % port, "validate_certs": False,
                                         "timeout": 1, "component": "kube-scheduler",
                                         "log_glob": str(tmp_path / "none/*.log")})
    assert failed and result["msg"].startswith("kube-scheduler not ready at https://127.0.0.1:%d/healthz" % port), \
        result["msg"]
