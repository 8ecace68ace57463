"""A loopback port nobody listens on (bound, read, released), for tests that need a refused connection."""

import socket


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
