#!/usr/bin/env bash
# Builds the VM's root image: Debian (the host's release) from the apt archive with mmdebstrap,
# Essential packages plus the ones named, as an ext4 image made without a loop device.
# Usage: rootfs.sh OUT.ext4 PACKAGE...   (test/vm/run.sh keys the cache on this file and the versions)
set -euo pipefail
out=$1
shift
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
dir=$(mktemp -d /tmp/procview-vmroot.XXXXXX)
trap 'rm -rf "$dir"' EXIT
include=$(IFS=,; echo "$*")
mmdebstrap --mode=root --variant=essential --include="$include" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  "$suite" "$dir" >&2
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
mke2fs -q -t ext4 -d "$dir" -L procview-v2 "$out.tmp" 2G
mv "$out.tmp" "$out"
