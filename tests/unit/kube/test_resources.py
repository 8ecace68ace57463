"""KubeApi's pagination."""

from ansible_collections.homelab.observability.plugins.module_utils.kube.resources import paginate


def test_paginate_follows_continue_tokens_and_keeps_the_query():
    asked = []
    pages = {None: {"items": [1, 2], "metadata": {"continue": "c1"}}, "c1": {"items": [3], "metadata": {}}}

    def fetch(query):
        asked.append(dict(query))
        return pages[query.get("continue")]

    assert paginate(fetch, {"labelSelector": "a=b"}, page=2) == [1, 2, 3]
    assert asked == [{"labelSelector": "a=b", "limit": "2"}, {"labelSelector": "a=b", "limit": "2", "continue": "c1"}]
    assert paginate(lambda query: None) == []
