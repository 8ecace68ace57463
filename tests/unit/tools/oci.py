"""Reading back an image the lab builds (labctl/images.py): its OCI config and its one layer."""

import io
import json
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools" / "lab"))

from labctl import images  # noqa: E402


def config_and_layer(spec):
    archive, digest = images.oci_archive(spec)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        blobs = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    manifest = json.loads(blobs[f"blobs/sha256/{digest[7:]}"])
    config = json.loads(blobs[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    layer = blobs[f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}"]
    return config["config"], tarfile.open(fileobj=io.BytesIO(layer))  # noqa: SIM115 (in memory, read by the test)
