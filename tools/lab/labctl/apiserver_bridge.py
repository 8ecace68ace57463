"""The in-cluster path to the apiserver for the real nodes' pods.

Pods reach the apiserver as on any cluster: ``kubernetes.default.svc`` (10.96.0.1:443), which
kube-proxy sends to the ``kubernetes`` Endpoints, the apiserver's advertise address 10.250.0.1 on
its port. The lab's apiserver listens on 127.0.0.1 only (nothing of the lab listens where another
machine could reach it), so the real nodes' bridge also carries 10.250.0.1/32, and this process
forwards each TCP connection from there to the loopback port. TLS passes through untouched: the
serving certificate names 10.96.0.1 and 10.250.0.1, and the pod's ServiceAccount token is checked
by the apiserver itself.

The same way it forwards the metrics ports of the control plane's other host processes
(kube-controller-manager, kube-scheduler, etcd's plain-HTTP metrics listener), so that Prometheus on
a real node scrapes them at 10.250.0.1, as it would scrape a kubeadm node's address once the
control_plane_metrics role has bound them there. The chart gets these as ``endpoints:``
(inventory/lab/group_vars/all/real_nodes.yml): they are processes, not pods a Service could select.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import time

from .paths import LabError, LabPaths
from .static_pod import ADVERTISE_ADDRESS

NAME = "apiserver-bridge"
CHUNK = 65536
# the ports.json names forwarded from the advertise address to the same port on 127.0.0.1
FORWARDED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd-metrics")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def _handler(target: tuple):
    async def handle(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError as exc:
            print(f"{NAME}: cannot reach the apiserver at {target[0]}:{target[1]}: {exc}", flush=True)
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
    return handle


async def _serve(ports: list) -> None:
    servers = [await asyncio.start_server(_handler(("127.0.0.1", port)), ADVERTISE_ADDRESS, port, reuse_address=True)
               for port in ports]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    for port in ports:
        print(f"{NAME}: forwarding {ADVERTISE_ADDRESS}:{port} -> 127.0.0.1:{port}", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def wait_listening(port: int, timeout: float, alive) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex((ADVERTISE_ADDRESS, port)) == 0:
                return
        if not alive():
            break
        time.sleep(0.2)
    raise LabError(f"{NAME} did not listen on {ADVERTISE_ADDRESS}:{port} within {timeout:.0f}s "
                   f"(see .lab/logs/{NAME}.log)")


def forwarded_ports(ports: dict) -> list:
    """The ports to forward, of those the lab chose (a lab whose ports.json predates one has not got it)."""
    return [ports[name] for name in FORWARDED if name in ports]


def main() -> int:
    paths = LabPaths.discover()
    ports = forwarded_ports(json.loads(paths.ports_file.read_text()))
    try:
        asyncio.run(_serve(ports))
    except OSError as exc:
        print(f"{NAME}: cannot listen on {ADVERTISE_ADDRESS} ({ports}): {exc}", file=sys.stderr, flush=True)
        return 1
    return 0
