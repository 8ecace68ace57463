#!/usr/bin/env python3
"""The lab: a real Kubernetes control plane as local processes. See tools/lab/README.md.

    lab.py up                  start (or reuse) the lab; LAB_NODES=N for N simulated nodes,
                               LAB_REAL_NODES=N for N real nodes (kubelet + containerd; default 0)
    lab.py down [--purge]      stop what `up` started (--purge also deletes .lab/)
    lab.py status [--json]     processes, memory, nodes and paths
    lab.py env                 shell exports (KUBECONFIG, PATH with kubectl, helm paths)
    lab.py restart-apiserver   restart the apiserver without changing its manifest
    lab.py reset-apiserver     put back the lab's apiserver manifest and audit policy
    lab.py smoke               time a 3-replica Deployment until Ready
    lab.py stop-kubelet NODE   fault: a real node's kubelet stops (node lost; `up` starts it again)
    lab.py remove-image NODE REF   fault: delete an image from a real node (its next pull fails)
    lab.py fill-volume NS/CLAIM [--leave BYTES]   fault: a claim's volume on a real node is full
    lab.py release-volume NS/CLAIM  give back what fill-volume took
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import monitoring  # noqa: E402
from labctl import alert_sink, apiserver_bridge, operator_host, storage, supervisor, user_apps  # noqa: E402
from labctl.control import Lab  # noqa: E402
from labctl.paths import LabError  # noqa: E402
from labctl.smoke import deployment_ready_seconds  # noqa: E402


def cmd_up(lab: Lab, _args) -> int:
    info = lab.up()
    verb = "reused" if info["reused"] else "started"
    print(f"lab: {verb} in {info['timings'].get('controllers', 0):.1f}s "
          f"({', '.join(f'{k} {v:.1f}s' for k, v in info['timings'].items())})")
    for key in ("kubeconfig", "apiserver_url", "host_root", "apiserver_manifest", "audit_policy", "audit_log",
                "apiserver_status"):
        print(f"  {key:19} {info[key]}")
    print(f"  {'nodes':19} {lab.node_count()} (created {info['nodes_created']}, deleted {info['nodes_deleted']})")
    print(f"  {'real nodes':19} {lab.read_state().get('real_nodes') or 0}")
    # The real metrics path (Debian Prometheus, Alertmanager, node-exporter; kube-state-metrics on the
    # lab) that playbooks/verify.yml checks; inventory/lab reads the URLs it writes.
    try:
        stack = monitoring.lab_up(lab.paths.root, kube_state_metrics_binary=lab.bins.kube_state_metrics)
    except monitoring.MonitoringError as exc:
        print(f"lab: monitoring not started: {exc}", file=sys.stderr)
        return 4
    print(f"  {'prometheus':19} {stack.prometheus_url}")
    print(f"  {'alertmanager':19} {stack.alertmanager_url}")
    return 0


def cmd_down(lab: Lab, args) -> int:
    monitoring.lab_down(lab.paths.root)
    stopped = lab.down(purge=args.purge)
    print(f"lab: stopped {', '.join(stopped) if stopped else 'nothing (not running)'}"
          + (f"; deleted {lab.paths.root}" if args.purge else ""))
    return 0


def cmd_status(lab: Lab, args) -> int:
    st = lab.status()
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    for name, p in st["processes"].items():
        state = "running" if p["running"] else "stopped"
        extra = ""
        if name == "kube-apiserver":
            extra = f" ready={p['ready']} phase={p['phase']} restarts={p['restart_count']}"
            if p.get("error"):
                extra += f" error={p['error']}"
        ports = " ".join(f"{k}:{v}" for k, v in (p.get("ports") or {}).items())
        print(f"  {name:24} {state:8} pid={p['pid']!s:8} rss={p['rss_kib'] / 1024:7.1f}MiB {ports}{extra}")
    print(f"  {'total rss':24} {st['rss_total_mib']} MiB")
    if "nodes" in st:
        print(f"  {'nodes':24} {st['nodes']['ready']}/{st['nodes']['total']} Ready")
    for key, value in st["paths"].items():
        print(f"  {key:24} {value}")
    return 0 if st["processes"]["kube-apiserver"]["running"] else 3


def cmd_env(lab: Lab, _args) -> int:
    b = lab.bins
    print(f"export KUBECONFIG={lab.paths.kubeconfig}")
    print(f"export LAB_DIR={lab.paths.root}")
    print(f"export PATH={b.kubectl.parent}:$PATH")
    print(f"export LAB_HELM3={b.helm3}")
    print(f"export LAB_HELM4={b.helm4}")
    print(f"export LAB_KUBE_STATE_METRICS={b.kube_state_metrics}")
    return 0


def cmd_restart_apiserver(lab: Lab, args) -> int:
    before = lab.apiserver_status() or {}
    t0 = time.monotonic()
    after = lab.restart_apiserver(wait=not args.no_wait)
    if not args.no_wait:
        print(f"lab: kube-apiserver restarted: pid {before.get('pid')} -> {after['pid']}, ready after "
              f"{time.monotonic() - t0:.1f}s")
    return 0


def cmd_reset_apiserver(lab: Lab, _args) -> int:
    after = lab.reset_apiserver()
    print(f"lab: kube-apiserver runs the lab's manifest again (pid {after['pid']})")
    return 0


def cmd_smoke(lab: Lab, args) -> int:
    print(f"lab: {args.replicas}-replica Deployment Ready in {deployment_ready_seconds(lab, args.replicas):.1f}s")
    return 0


def cmd_stop_kubelet(lab: Lab, args) -> int:
    stopped = lab.real_nodes().stop_kubelet(args.node)
    print(f"lab: kubelet of {args.node} {'stopped' if stopped else 'was not running'}")
    return 0


def cmd_remove_image(lab: Lab, args) -> int:
    lab.real_nodes().remove_image(args.node, args.reference)
    print(f"lab: removed {args.reference} from {args.node}")
    return 0


def _claim(value: str) -> tuple[str, str]:
    namespace, _, claim = value.partition("/")
    if not namespace or not claim:
        raise LabError(f"{value!r}: name the claim as NAMESPACE/CLAIM")
    return namespace, claim


def cmd_fill_volume(lab: Lab, args) -> int:
    got = lab.real_nodes().fill_volume(lab.api(), *_claim(args.claim), leave_bytes=args.leave)
    print(f"lab: {args.claim} ({got['path']}): allocated {got['allocated_bytes']} bytes, "
          f"{got['available_bytes']} of {got['capacity_bytes']} bytes left")
    return 0


def cmd_release_volume(lab: Lab, args) -> int:
    got = lab.real_nodes().release_volume(lab.api(), *_claim(args.claim))
    print(f"lab: {args.claim} ({got['path']}): released {got['released_bytes']} bytes, "
          f"{got['available_bytes']} of {got['capacity_bytes']} bytes free")
    return 0


def cmd_user_apps(lab: Lab, _args) -> int:
    api = lab.api()
    created = user_apps.ensure(api)
    print(f"lab: the user's Secrets (*arr API keys, grafana-admin, the alert webhook's URL): "
          f"{', '.join(created) if created else 'present'}")
    if lab.read_state().get("real_nodes"):
        made = alert_sink.ensure(api)
        print(f"lab: the alert webhook receiver {alert_sink.URL}: {', '.join(made) if made else 'present'}")
    return 0


def cmd_supervise(_lab: Lab, _args) -> int:
    return supervisor.main()


def cmd_provision(_lab: Lab, _args) -> int:
    return storage.main()


def cmd_operator_host(_lab: Lab, _args) -> int:
    return operator_host.main()


def cmd_apiserver_bridge(_lab: Lab, _args) -> int:
    return apiserver_bridge.main()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start or reuse the lab").set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop the lab's processes")
    p.add_argument("--purge", action="store_true", help="also delete the lab directory (certs, etcd data)")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="processes, nodes, paths")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    sub.add_parser("env", help="shell exports").set_defaults(func=cmd_env)
    p = sub.add_parser("restart-apiserver", help="restart the apiserver (manifest unchanged)")
    p.add_argument("--no-wait", action="store_true")
    p.set_defaults(func=cmd_restart_apiserver)
    sub.add_parser("reset-apiserver", help="restore the lab's manifest and audit policy").set_defaults(
        func=cmd_reset_apiserver)
    p = sub.add_parser("smoke", help="time a Deployment until Ready")
    p.add_argument("--replicas", type=int, default=3)
    p.set_defaults(func=cmd_smoke)
    p = sub.add_parser("stop-kubelet", help="fault: stop a real node's kubelet")
    p.add_argument("node")
    p.set_defaults(func=cmd_stop_kubelet)
    p = sub.add_parser("remove-image", help="fault: delete an image from a real node")
    p.add_argument("node")
    p.add_argument("reference")
    p.set_defaults(func=cmd_remove_image)
    p = sub.add_parser("fill-volume", help="fault: fill a claim's volume on a real node")
    p.add_argument("claim", metavar="NAMESPACE/CLAIM")
    p.add_argument("--leave", type=int, default=0, metavar="BYTES", help="bytes to leave free (default 0)")
    p.set_defaults(func=cmd_fill_volume)
    p = sub.add_parser("release-volume", help="give back the space fill-volume took")
    p.add_argument("claim", metavar="NAMESPACE/CLAIM")
    p.set_defaults(func=cmd_release_volume)
    sub.add_parser("user-apps", help="create what a homelab has before the stack (the *arr API-key Secrets)"
                   ).set_defaults(func=cmd_user_apps)
    sub.add_parser("supervise", help=argparse.SUPPRESS).set_defaults(func=cmd_supervise)
    sub.add_parser("provision", help=argparse.SUPPRESS).set_defaults(func=cmd_provision)
    sub.add_parser("operator-host", help=argparse.SUPPRESS).set_defaults(func=cmd_operator_host)
    sub.add_parser("apiserver-bridge", help=argparse.SUPPRESS).set_defaults(func=cmd_apiserver_bridge)
    args = parser.parse_args(argv)
    try:
        return args.func(Lab.discover(), args)
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `lab.py status | head`: no traceback when flushing at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
