"""Which templates of a chart read the cluster (lookup), directly or through named templates."""

import tarfile

from ansible_collections.homelab.observability.plugins.module_utils.helm import chart_source

HELPERS = """{{/* lookup in a comment does not count */}}
{{- define "c.secret" -}}
{{- $s := (lookup "v1" "Secret" .Release.Namespace "x") -}}
{{- if $s }}{{ $s.data.pw }}{{ else }}new{{ end -}}
{{- end -}}
{{- define "c.wrapper" -}}{{ include "c.secret" . }}{{- end -}}
{{- define "c.plain" -}}{{- if .Values.a }}a{{ end }}{{- end -}}
"""


def _chart(root):
    tpl = root / "c" / "templates"
    sub = root / "c" / "charts" / "sub" / "templates"
    tpl.mkdir(parents=True)
    sub.mkdir(parents=True)
    (root / "c" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (tpl / "_helpers.tpl").write_text(HELPERS)
    (tpl / "secret.yaml").write_text("kind: Secret\ndata:\n  pw: {{ include \"c.wrapper\" . }}\n")
    (tpl / "cm.yaml").write_text("kind: ConfigMap\ndata:\n  a: {{ include \"c.plain\" . }}\n")
    (tpl / "crd.yaml").write_text("description: keys are used to lookup values\n")
    (sub / "pvc.yaml").write_text("kind: PVC\nvolumeName: {{ (lookup \"v1\" \"PVC\" \"ns\" \"x\").spec.volumeName }}\n")
    return root / "c"


def test_direct_and_transitive_lookups_in_a_directory(tmp_path):
    found = chart_source.lookup_templates(str(_chart(tmp_path)))
    assert found == {"c/templates/secret.yaml", "c/charts/sub/templates/pvc.yaml"}


def test_the_same_from_a_packaged_archive(tmp_path):
    src = _chart(tmp_path / "src")
    archive = tmp_path / "c-1.0.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="c")
    assert chart_source.lookup_templates(str(archive)) == {"c/templates/secret.yaml",
                                                            "c/charts/sub/templates/pvc.yaml"}


def test_a_chart_that_is_not_local_reads_nothing_known():
    assert chart_source.lookup_templates("kube-prometheus-stack") == frozenset()


def test_sources_split_a_rendered_manifest():
    text = "---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/templates/b.yaml\nkind: B\n"
    assert [s for s, _doc in chart_source.sources(text)] == ["c/templates/a.yaml", "c/templates/b.yaml"]


def test_a_chart_directory_is_named_as_its_chart(tmp_path):
    src = _chart(tmp_path)
    renamed = tmp_path / "stand-in-dir"
    src.rename(renamed)
    assert "c/templates/secret.yaml" in chart_source.lookup_templates(str(renamed))
