"""The lab's simulated cluster addresses never leave the machine: a dial fails at once, locally."""

import errno
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools" / "lab"))
from labctl import network_guard  # noqa: E402


def test_every_guarded_range_has_its_route(lab):
    assert all(network_guard.guarded(cidr) for cidr in network_guard.GUARDED)


@pytest.mark.parametrize(("address", "cidr"), [("10.244.3.7", "10.244.0.0/16"), ("10.250.0.2", "10.250.0.0/16"),
                                               ("10.96.0.10", "10.96.0.0/12")])
def test_a_simulated_address_is_unreachable_here(lab, address, cidr):
    # never dial without the route: the packet would leave the machine
    assert network_guard.guarded(cidr)
    t0 = time.monotonic()
    with pytest.raises(OSError) as info, socket.create_connection((address, 443), timeout=5):
        pass
    assert info.value.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH), info.value
    assert time.monotonic() - t0 < 1.0

