"""Container images without a registry: OCI archives made from files on disk, imported into a
real node's containerd under the exact reference a manifest names, so that
``imagePullPolicy: IfNotPresent`` finds them and nothing is pulled.

An image is one uncompressed layer (a tar written here with fixed owners and times, so the same
files give the same digest), a config and a manifest, in an OCI image layout tar whose index names
the reference (``io.containerd.image.name``, what ``ctr images import`` tags it with). Archives are
kept in the cache by the digest of their manifest; the lab's own binaries (``pause``, ``labhttp``)
are built from ``tools/lab/images`` with the Go toolchain, cached by the hash of their sources.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .paths import LAB_TOOLS, LabError, cache_root

SOURCES = LAB_TOOLS / "images"
# the sandbox image containerd's CRI starts for every pod (kubeadm v1.34's reference)
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
# the lab's test workload (tools/lab/images/labhttp): an HTTP server, and its client with -get
LABHTTP_IMAGE = "lab.local/labhttp:v1"

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class Symlink:
    """A symbolic link in an image (``/bin/sh`` -> ``busybox``)."""

    target: str


@dataclass(frozen=True)
class ImageSpec:
    reference: str  # registry/repository:tag, as a Pod names it
    # path in the image -> a host path (an executable, mode 0755), bytes (a plain file, mode 0644) or
    # a Symlink
    files: dict = field(default_factory=dict)
    # directories the image's user must own or write (a data dir): path -> (uid, mode)
    dirs: dict = field(default_factory=dict)
    entrypoint: tuple = ()
    cmd: tuple = ()
    env: tuple = ("PATH=/usr/local/bin:/usr/bin:/bin",)
    user: str = ""  # the image's default user ("65534:65534"), as the upstream image sets it
    labels: dict = field(default_factory=dict)  # OCI config labels (a stand-in says so here)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def layer_tar(files: dict, owned_dirs: dict | None = None) -> bytes:
    """A tar of ``files`` and ``owned_dirs`` with the directories they need, owned by root unless
    ``owned_dirs`` says otherwise, mtime 0, in name order."""
    owned = {name.strip("/"): mode for name, mode in (owned_dirs or {}).items()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for target in [*files, *(name + "/x" for name in owned)]:
            parts = Path(target.lstrip("/")).parts[:-1]
            dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        for name in sorted(dirs | {"tmp"}):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            if name in owned:
                (info.uid, info.mode), info.gid = owned[name], owned[name][0]
            tar.addfile(info)
        for target in sorted(files):
            source = files[target]
            if isinstance(source, Symlink):
                info = tarfile.TarInfo(target.lstrip("/"))
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, source.target, 0o777
                tar.addfile(info)
                continue
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            info = tarfile.TarInfo(target.lstrip("/"))
            info.size, info.mode = len(data), 0o644 if isinstance(source, bytes) else 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def oci_archive(spec: ImageSpec) -> tuple[bytes, str]:
    """The OCI layout tar of ``spec`` and its manifest digest."""
    if ":" not in spec.reference.rsplit("/", 1)[-1]:
        raise LabError(f"image reference {spec.reference!r} has no tag: name it as the Pod does "
                       f"(registry/repository:tag), since IfNotPresent matches the exact reference")
    layer = layer_tar(spec.files, spec.dirs)
    config = _json({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": list(spec.entrypoint), "Cmd": list(spec.cmd), "Env": list(spec.env),
                   "WorkingDir": "/", **({"User": spec.user} if spec.user else {}),
                   **({"Labels": dict(spec.labels)} if spec.labels else {})},
        "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]},
        "history": [{"created_by": "tools/lab/labctl/images.py"}],
    })
    manifest = _json({
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": _sha(config), "size": len(config)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": _sha(layer), "size": len(layer)}],
    })
    digest = _sha(manifest)
    index = _json({
        "schemaVersion": 2,
        "manifests": [{"mediaType": MEDIA_MANIFEST, "digest": digest, "size": len(manifest),
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"io.containerd.image.name": spec.reference,
                                       "org.opencontainers.image.ref.name": spec.reference.rsplit(":", 1)[1]}}],
    })
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        entries = [("oci-layout", _json({"imageLayoutVersion": "1.0.0"})), ("index.json", index)]
        entries += [(f"blobs/sha256/{_sha(b)[7:]}", b) for b in (layer, config, manifest)]
        for name in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), digest


def cached_archive(spec: ImageSpec) -> tuple[Path, str]:
    """Write the archive into the cache (once per content); its path and manifest digest. Keyed by the
    whole archive, not the manifest digest: two references to the same content (the k8s-sidecar
    stand-in under two registries) share a manifest but not the index that names the reference."""
    data, digest = oci_archive(spec)
    path = cache_root() / "images" / f"{hashlib.sha256(data).hexdigest()}.tar"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path, digest


def lab_binary(name: str) -> Path:
    """``tools/lab/images/<name>`` built static, cached by the hash of the module's sources."""
    sources = sorted(p for p in SOURCES.rglob("*") if p.is_file() and p.suffix in (".go", ".mod"))
    key = hashlib.sha256(b"".join(p.relative_to(SOURCES).as_posix().encode() + p.read_bytes()
                                  for p in sources)).hexdigest()[:16]
    out = cache_root() / "bin" / f"lab-images-{key}" / name
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"CGO_ENABLED": "0", "GOFLAGS": "-trimpath"}
    result = subprocess.run(["go", "build", "-ldflags=-s -w", "-o", str(out) + ".tmp", f"./{name}"],
                            cwd=SOURCES, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"cannot build the lab image binary {name} from {SOURCES / name}: {result.stderr.strip()}")
    os.replace(str(out) + ".tmp", out)
    return out


def base_images() -> list[ImageSpec]:
    """The pod sandbox and the test workload."""
    pause, labhttp = lab_binary("pause"), lab_binary("labhttp")
    return [
        ImageSpec(PAUSE_IMAGE, {"/pause": pause}, entrypoint=("/pause",)),
        ImageSpec(LABHTTP_IMAGE, {"/usr/local/bin/labhttp": labhttp}, entrypoint=("/usr/local/bin/labhttp",)),
    ]


def lab_images() -> list[ImageSpec]:
    """The images every real node gets: the base images, the stack's real components built from the
    Go proxy (``stack_images``) and the stand-ins for what cannot be had here (``standin_images``)."""
    from . import stack_images, standin_images  # noqa: PLC0415  (they import this module)

    return base_images() + stack_images.specs() + standin_images.specs()


def ctr(address: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ctr", f"--address={address}", "--namespace=k8s.io", *args],
                            capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"ctr {' '.join(args)} failed on {address}: {result.stderr.strip()}")
    return result


def imported(address: Path) -> dict[str, str]:
    """The node's images: reference -> manifest digest."""
    lines = ctr(address, "images", "list").stdout.splitlines()[1:]
    return {cols[0]: cols[2] for cols in (line.split() for line in lines) if len(cols) > 2}


def import_images(address: Path, specs: list[ImageSpec]) -> list[str]:
    """Import the images a node lacks or holds in another build (same reference, other digest:
    a rebuilt lab binary); the references imported."""
    have = imported(address)
    done = []
    for spec in specs:
        archive, digest = cached_archive(spec)
        if have.get(spec.reference) == digest:
            continue
        ctr(address, "images", "import", str(archive))
        done.append(spec.reference)
    missing = [s.reference for s in specs if s.reference not in imported(address)]
    if missing:
        raise LabError(f"containerd at {address} did not list {', '.join(missing)} after the import; "
                       f"is the archive's io.containerd.image.name annotation read by this ctr?")
    return done


def remove_image(address: Path, reference: str) -> None:
    """Delete an image from a node (a fault for tests: the next start of a pod needs a pull)."""
    ctr(address, "images", "remove", reference, check=False)
