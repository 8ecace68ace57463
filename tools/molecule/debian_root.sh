#!/usr/bin/env bash
# Lays a real Debian root file system at $1 for a molecule host reached through chroot.
# The pristine root is debootstrapped once into the cache (about 40 s, 260 MB) and copied
# for each scenario run, so every run starts from the same clean host.
set -euo pipefail
target=${1:?usage: debian_root.sh TARGET_DIR}
suite=${DEBIAN_ROOT_SUITE:-bookworm}
mirror=${DEBIAN_ROOT_MIRROR:-http://deb.debian.org/debian}
cache=${LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab-observability}/rootfs/$suite-minbase-python3

[ "$(id -u)" -eq 0 ] || { echo "debian_root: chroot hosts need root (run as root or with sudo)" >&2; exit 2; }
if [ ! -f "$cache/.complete" ]; then
  command -v debootstrap >/dev/null || {
    echo "debian_root: installing debootstrap from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  rm -rf "$cache" && mkdir -p "$(dirname "$cache")"
  debootstrap --variant=minbase --include=python3 "$suite" "$cache.tmp" "$mirror" >&2 \
    || { echo "debian_root: debootstrap of $suite from $mirror failed" >&2; exit 3; }
  mv "$cache.tmp" "$cache" && touch "$cache/.complete"
fi
rm -rf "$target" && mkdir -p "$(dirname "$target")"
cp -a "$cache" "$target"
rm -f "$target/.complete"
