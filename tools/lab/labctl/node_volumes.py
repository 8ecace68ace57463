"""Volumes that a real node keeps on a disk of its own size, so that one can fill up.

A ``local-path`` claim scheduled to a real node gets a filesystem of exactly the claim's size: a
sparse ext4 image under the node's root, loop-mounted at the volume's path (only the blocks written
take space on this machine). The PersistentVolume is a ``local`` volume, as rancher's local-path
provisioner makes with ``volumeType: local``; unlike a ``hostPath`` one, the kubelet reports its
usage (``kubelet_volume_stats_*``, the summary API), so a full volume is visible the way a user's
PVC alert sees it. ``fill`` is the fault: it allocates the free space of one volume (``fallocate``,
no data written) and ``release`` gives it back.

The mounts live under the node's root, so stopping the node unmounts them with everything else of
the node, and starting it mounts them again before the kubelet starts.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from .paths import LabError

FILLER = ".lab-fill"
# ext4 keeps its metadata (superblocks, inode tables, journal) inside the image: below this a claim
# would have almost no room left for data
MIN_BYTES = 8 * 1024 * 1024


def volumes_dir(node_root: Path) -> Path:
    return node_root / "var" / "lib" / "lab-volumes"


def image_of(mount_point: Path) -> Path:
    return mount_point.with_name(mount_point.name + ".ext4")


def is_mounted(path: Path) -> bool:
    return os.path.ismount(path)


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")


def _mount(image: Path, mount_point: Path) -> None:
    mount_point.mkdir(parents=True, exist_ok=True)
    _run("mount", "-o", "loop", str(image), str(mount_point))
    # as the local-path provisioner does: the pod's user (Prometheus runs as 1000, fsGroup does not
    # apply to local volumes) must be able to write it
    mount_point.chmod(0o777)


def create(node_root: Path, name: str, size_bytes: int) -> Path:
    """The mount point of a new volume ``name`` of ``size_bytes`` on the node (mounted)."""
    if size_bytes < MIN_BYTES:
        raise LabError(f"a real node's volume needs at least {MIN_BYTES // (1024 * 1024)} MiB "
                       f"(ext4 metadata); the claim asks for {size_bytes} bytes")
    mount_point = volumes_dir(node_root) / name
    image = image_of(mount_point)
    if is_mounted(mount_point):
        return mount_point
    if not image.exists():
        image.parent.mkdir(parents=True, exist_ok=True)
        with open(image, "wb") as f:
            f.truncate(size_bytes)
        # no blocks reserved for root: a full volume is full for the pod's user too
        _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", str(image))
    _mount(image, mount_point)
    return mount_point


def mount_all(node_root: Path) -> list[Path]:
    """Mount every volume image of the node that is not mounted (the node starts again)."""
    mounted = []
    base = volumes_dir(node_root)
    for image in sorted(base.glob("*.ext4")) if base.is_dir() else []:
        mount_point = image.with_suffix("")
        if not is_mounted(mount_point):
            _mount(image, mount_point)
            mounted.append(mount_point)
    return mounted


def all_volumes(nodes_root: Path) -> list[Path]:
    """The mount points of every real node's volumes (mounted or not)."""
    return sorted(image.with_suffix("") for image in nodes_root.glob("*/var/lib/lab-volumes/*.ext4"))


def remove(mount_point: Path) -> None:
    """Unmount the volume and delete its image (the claim is gone, reclaim policy Delete)."""
    if is_mounted(mount_point):
        _run("umount", str(mount_point))
    image_of(mount_point).unlink(missing_ok=True)
    if mount_point.is_dir():
        mount_point.rmdir()


def owning_node_root(path: Path, nodes_root: Path) -> Path | None:
    """The real node root a volume path belongs to, if it is one of the lab's node volumes."""
    try:
        relative = path.relative_to(nodes_root)
    except ValueError:
        return None
    node_root = nodes_root / relative.parts[0] if relative.parts else None
    if node_root is None or path.parent != volumes_dir(node_root):
        return None
    return node_root


def fill(mount_point: Path, leave_bytes: int = 0) -> int:
    """Allocate the volume's free space but ``leave_bytes``; the bytes allocated."""
    if not is_mounted(mount_point):
        raise LabError(f"{mount_point} is not mounted: is its real node running (`lab.py up`)?")
    filler = mount_point / FILLER
    stat = os.statvfs(mount_point)
    free = stat.f_bavail * stat.f_frsize
    want = max(0, free - leave_bytes)
    if want == 0:
        return 0
    # fallocate works in whole blocks; ask for a little less each round until the filesystem says no
    with open(filler, "ab") as f:
        offset = f.seek(0, os.SEEK_END)
        size = want
        while size >= stat.f_frsize:
            try:
                os.posix_fallocate(f.fileno(), offset, size)
                return size
            except OSError:
                size -= max(stat.f_frsize, size // 64)
    return 0


def release(mount_point: Path) -> int:
    """Remove what ``fill`` allocated; the bytes given back."""
    filler = mount_point / FILLER
    if not filler.exists():
        return 0
    size = filler.stat().st_blocks * 512
    filler.unlink()
    return size


def usage(mount_point: Path) -> dict:
    stat = os.statvfs(mount_point)
    return {"capacity_bytes": stat.f_blocks * stat.f_frsize, "available_bytes": stat.f_bavail * stat.f_frsize}


def loop_devices_under(root: Path) -> list[str]:
    """Loop devices whose backing file is below ``root`` (a volume still attached)."""
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            if backing.read_text().strip().startswith(str(root).rstrip("/") + "/"):
                found.append(backing.parts[3])
    return found
