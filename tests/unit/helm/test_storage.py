"""Reading helm's release Secrets directly (the format helm v3 and v4 share)."""

import base64
import gzip
import json
from collections import Counter

from ansible_collections.homelab.observability.plugins.module_utils.helm import storage


def record(version, status, chart_version="0.1.0", compress=True):
    release = {"name": "loki", "namespace": "m", "version": version, "info": {"status": status},
               "chart": {"metadata": {"name": "loki-like", "version": chart_version}},
               "config": {"retention": "24h"}, "manifest": "---\nkind: ConfigMap\n"}
    raw = json.dumps(release).encode()
    blob = base64.b64encode(gzip.compress(raw) if compress else raw)
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sh.helm.release.v1.loki.v%d" % version, "namespace": "m",
                         "labels": {"owner": "helm", "name": "loki", "status": status, "version": str(version)}},
            "data": {"release": base64.b64encode(blob).decode()}}


class ListingApi:
    """Answers LIST requests from ``lists`` and counts them (all that reading the records needs)."""

    def __init__(self):
        self.lists = {}
        self.counts = Counter()

    def list(self, api_version, kind, namespace=None, *, label_selector=None, field_selector=None):
        self.counts["LIST"] += 1
        return self.lists.get((kind, namespace, label_selector, field_selector), [])


def test_latest_release_and_history_from_one_list():
    api = ListingApi()
    api.lists[("Secret", "m", "owner=helm,name=loki", None)] = [
        record(2, "deployed", "0.2.0"), record(1, "superseded", compress=False)]
    current, history = storage.read(api, "loki", "m")
    assert current["version"] == 2 and current["info"]["status"] == "deployed"
    assert current["config"] == {"retention": "24h"}
    assert history == [{"revision": 1, "status": "superseded"},
                       {"revision": 2, "status": "deployed", "chart": "loki-like-0.2.0"}]
    assert api.counts == {"LIST": 1}


def test_no_release():
    assert storage.read(ListingApi(), "loki", "m") == (None, [])


def test_other_drivers_use_the_cli():
    assert storage.supported({}) and storage.supported({"HELM_DRIVER": "secret"})
    assert not storage.supported({"HELM_DRIVER": "configmap"})
