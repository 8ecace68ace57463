"""The remembered render verdicts: what the fingerprint reads, one file per release, a cache that fails is skipped."""

import os

from ansible_collections.homelab.observability.plugins.module_utils.helm import render_memo


def target(chart_ref):
    return ("app", "ns", {"ref": str(chart_ref)}, {"a": 1})


def key(chart_ref, **kw):
    args = {"kube_version": "v1.34.4", "is_upgrade": True, "stored_manifest": "kind: ConfigMap\n"} | kw
    return render_memo.fingerprint("v3.19.5", target(chart_ref), **args)


def test_a_chart_that_is_not_local_is_never_remembered(tmp_path):
    assert key(tmp_path / "missing") is None
    assert key("prometheus-community/kube-prometheus-stack") is None


def test_the_fingerprint_follows_the_chart_files_names_and_contents(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.yaml").write_text("x")
    first = key(tmp_path)
    assert key(tmp_path) == first
    (tmp_path / "templates" / "a.yaml").rename(tmp_path / "templates" / "b.yaml")
    renamed = key(tmp_path)
    (tmp_path / "templates" / "b.yaml").write_text("y")
    assert len({first, renamed, key(tmp_path)}) == 3


def test_the_fingerprint_follows_the_upgrade_flag_and_helm(tmp_path):
    archive = tmp_path / "c-0.1.0.tgz"
    archive.write_bytes(b"not really a tarball")
    assert key(archive) != key(archive, is_upgrade=False)
    assert key(archive) != render_memo.fingerprint("v4.3.1", target(archive), kube_version="v1.34.4",
                                                   is_upgrade=True, stored_manifest="kind: ConfigMap\n")


def test_a_release_keeps_one_verdict_in_a_private_directory(render_cache):
    render_memo.remember("a" * 64, "app", "ns")
    render_memo.remember("b" * 64, "app", "ns")
    where = render_cache / "renders" / "ns_app"
    assert os.listdir(where) == ["b" * 64]
    assert oct(where.stat().st_mode & 0o777) == "0o700"
    assert render_memo.seen("b" * 64, "app", "ns") and not render_memo.seen("a" * 64, "app", "ns")


def test_a_cache_that_cannot_be_written_is_not_used(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(render_memo.ENV_HOME, str(blocker))
    render_memo.remember("a" * 64, "app", "ns")
    assert not render_memo.seen("a" * 64, "app", "ns")


def test_the_cache_is_under_xdg_cache_home_unless_told(tmp_path):
    expected = str(tmp_path / "homelab.observability" / "renders")
    assert render_memo.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == expected
    assert render_memo.cache_dir({render_memo.ENV_HOME: "/x"}) == "/x/renders"
