"""tools/lab/labctl/root_propagation.py reads the propagation of / from mountinfo (the kubelet refuses
HostToContainer host-path mounts from a private mount), and changes / only when it is private."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "lab"))

from labctl import root_propagation  # noqa: E402
from labctl.paths import LabError  # noqa: E402

PRIVATE = """22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 0:30 / / rw,relatime - overlay overlay rw,lowerdir=/a
"""
SHARED = "27 1 0:30 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
SLAVE = "27 1 0:30 / / rw,relatime master:4 - ext4 /dev/vda1 rw\n"


@pytest.mark.parametrize(("text", "kind"), [(PRIVATE, "private"), (SHARED, "shared"), (SLAVE, "slave"),
                                            (SHARED + "40 27 0:31 / / rw - tmpfs tmpfs rw\n", "private")])
def test_the_propagation_of_the_mount_on_top(text, kind):
    assert root_propagation.propagation(text) == kind


def test_a_mountinfo_without_root_is_an_error():
    with pytest.raises(LabError, match="no mount on /"):
        root_propagation.propagation("22 27 0:21 / /proc rw - proc proc rw\n")


def fake_host(monkeypatch, tmp_path, text):
    info = tmp_path / "mountinfo"
    info.write_text(text)
    calls = []
    monkeypatch.setattr(root_propagation, "MOUNTINFO", info)
    monkeypatch.setattr(root_propagation, "_make", calls.append)
    return calls


def test_a_private_root_is_made_shared_and_recorded_once(monkeypatch, tmp_path):
    calls = fake_host(monkeypatch, tmp_path, PRIVATE)
    assert root_propagation.ensure({}) == {root_propagation.STATE_KEY: "private"}
    assert calls == ["shared"]
    # a later `up` keeps the first record: it is what the host had before any lab
    assert root_propagation.ensure({root_propagation.STATE_KEY: "private"}) == {}


def test_a_shared_root_is_left_alone_and_never_made_private(monkeypatch, tmp_path):
    calls = fake_host(monkeypatch, tmp_path, SHARED)
    assert root_propagation.ensure({}) == {}
    assert root_propagation.restore({}) == []
    assert calls == []


def test_restore_puts_back_what_was_found(monkeypatch, tmp_path):
    calls = fake_host(monkeypatch, tmp_path, SHARED)
    assert root_propagation.restore({root_propagation.STATE_KEY: "private"}) == ["/ back to a private mount"]
    assert calls == ["private"]
