"""KubeApi's pagination and list queries."""

from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import KubeApi, paginate


def test_paginate_follows_continue_tokens_and_keeps_the_query():
    asked = []
    pages = {None: {"items": [1, 2], "metadata": {"continue": "c1"}}, "c1": {"items": [3], "metadata": {}}}

    def fetch(query):
        asked.append(dict(query))
        return pages[query.get("continue")]

    assert paginate(fetch, {"labelSelector": "a=b"}, page=2) == [1, 2, 3]
    assert asked == [{"labelSelector": "a=b", "limit": "2"}, {"labelSelector": "a=b", "limit": "2", "continue": "c1"}]
    assert paginate(lambda query: None) == []


def test_a_list_can_be_answered_from_the_watch_cache(monkeypatch):
    asked = []
    monkeypatch.setattr(KubeApi, "request", lambda self, method, path, query=None, **_: asked.append(
        (method, path, {k: v for k, v in query.items() if v is not None})) or {"items": []})
    api = KubeApi.__new__(KubeApi)
    api.list("v1", "Node", resource_version="0")
    api.list("v1", "Node", label_selector="a=b")
    assert asked == [("GET", "/api/v1/nodes", {"resourceVersion": "0"}),
                     ("GET", "/api/v1/nodes", {"labelSelector": "a=b"})]
