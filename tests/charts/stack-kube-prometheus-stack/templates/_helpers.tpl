{{- define "kps.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: kube-prometheus-stack
release: {{ .Release.Name }}
{{- end }}
