"""The lab: a real Kubernetes control plane run as local processes (see tools/lab/README.md)."""
