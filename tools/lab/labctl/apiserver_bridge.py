"""The in-cluster path to the apiserver for the real nodes' pods.

Pods reach the apiserver as on any cluster: ``kubernetes.default.svc`` (10.96.0.1:443), which
kube-proxy sends to the ``kubernetes`` Endpoints, the apiserver's advertise address 10.250.0.1 on
its port. The lab's apiserver listens on 127.0.0.1 only (nothing of the lab listens where another
machine could reach it), so the real nodes' bridge also carries 10.250.0.1/32, and this process
forwards each TCP connection from there to the loopback port. TLS passes through untouched: the
serving certificate names 10.96.0.1 and 10.250.0.1, and the pod's ServiceAccount token is checked
by the apiserver itself.
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


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(listen: tuple, target: tuple) -> None:
    async def handle(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError as exc:
            print(f"{NAME}: cannot reach the apiserver at {target[0]}:{target[1]}: {exc}", flush=True)
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{NAME}: forwarding {listen[0]}:{listen[1]} -> {target[0]}:{target[1]}", flush=True)
    async with server:
        await stop.wait()


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


def main() -> int:
    paths = LabPaths.discover()
    port = json.loads(paths.ports_file.read_text())["kube-apiserver"]
    try:
        asyncio.run(_serve((ADVERTISE_ADDRESS, port), ("127.0.0.1", port)))
    except OSError as exc:
        print(f"{NAME}: cannot listen on {ADVERTISE_ADDRESS}:{port}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0
