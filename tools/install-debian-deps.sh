#!/usr/bin/env bash
# Installs the Debian packages the tests run for real: Prometheus (+ promtool), Alertmanager and the
# node exporter (tests/promtool, tests/integration/promql), and what the lab's real nodes run on:
# containerd, runc, the CNI plugins, iptables (kube-proxy, the lab's FORWARD guard) and iproute2 (the
# lab bridge), and busybox-static (the image of the charts' busybox init containers). Idempotent:
# installs only what is missing (after apt-get update); does nothing when everything is present.
set -euo pipefail

packages=(prometheus prometheus-alertmanager prometheus-node-exporter
          containerd runc containernetworking-plugins iptables iproute2
          busybox-static)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-debian-deps: present: ${packages[*]}"
  exit 0
fi
command -v apt-get >/dev/null || { echo "install-debian-deps: apt-get not found; install ${missing[*]} (or put prometheus, promtool and prometheus-node-exporter on PATH)" >&2; exit 2; }
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-debian-deps: need root (or sudo) to install ${missing[*]}" >&2; exit 2; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-debian-deps: installed: ${missing[*]}"
