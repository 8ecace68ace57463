# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Helm's release records straight from the cluster (the default ``secret`` storage driver).

One LIST of the release's Secrets (label selector ``owner=helm,name=<release>``) gives the whole
history and the latest release (chart, user values, manifest, status) without starting a helm
process twice. The record format is the one helm v3 and v4 share: the Secret's ``release`` key
holds base64 of the gzipped release JSON. Any other driver (``HELM_DRIVER``) uses the helm CLI.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import gzip
import json
import os

_GZIP_MAGIC = b"\x1f\x8b\x08"


def supported(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get("HELM_DRIVER", "") in ("", "secret", "secrets")


def decode(data):
    """The release dict from a Secret's ``data.release`` value (as the API returns it)."""
    raw = base64.b64decode(base64.b64decode(data))
    if raw[:3] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    return json.loads(raw)


def read(api, name, namespace):
    """(latest release or None, history) as ``helm status -o json`` and ``helm history -o json`` give them."""
    items = api.list("v1", "Secret", namespace, label_selector="owner=helm,name=%s" % name)
    records = []
    for item in items:
        labels = (item.get("metadata") or {}).get("labels") or {}
        try:
            version = int(labels.get("version"))
        except (TypeError, ValueError):
            continue
        records.append((version, labels.get("status"), item))
    if not records:
        return None, []
    records.sort(key=lambda r: r[0])
    version, item = records[-1][0], records[-1][2]
    release = decode((item.get("data") or {}).get("release", ""))
    meta = (release.get("chart") or {}).get("metadata") or {}
    chart = "%s-%s" % (meta.get("name"), meta.get("version"))
    history = [{"revision": rec[0], "status": rec[1]} for rec in records]
    history[-1]["chart"] = chart
    current = {
        "name": release.get("name"),
        "namespace": release.get("namespace"),
        "version": release.get("version", version),
        "info": release.get("info") or {},
        "config": release.get("config") or {},
        "manifest": release.get("manifest") or "",
    }
    return current, history
