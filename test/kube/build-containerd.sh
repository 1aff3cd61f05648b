#!/usr/bin/env bash
# Builds containerd, containerd-shim-runc-v2 and ctr of one containerd 2.x version from the Go
# module proxy, once, static (CGO_ENABLED=0: no btrfs snapshotter, which the node does not use),
# into a cache outside the repository, and prints the directory that holds them.
# Debian 12's containerd is 1.6, which lacks the CRI calls Kubernetes 1.36+ needs (RuntimeConfig,
# the cgroup driver handshake); runc stays Debian's.
set -euo pipefail

version=${CONTAINERD_VERSION:-v2.4.2}
cache=${PROCVIEW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/procview}
out=$cache/containerd/$version/bin
bins=(containerd containerd-shim-runc-v2 ctr)

# shellcheck source=cache.sh
. "$(dirname "$0")/cache.sh"
reuse_or_lock "$out" "$cache/containerd/$version.lock" "${bins[@]}"

pkg=github.com/containerd/containerd/v2
ld="-s -w -X $pkg/version.Version=$version -X $pkg/version.Package=$pkg"
for b in "${bins[@]}"; do
  [ -x "$out/$b" ] && continue
  echo "build-containerd: building $b $version" >&2
  tags="urfave_cli_no_docs osusergo netgo static_build"
  [ "$b" = containerd-shim-runc-v2 ] && tags="$tags no_grpc"
  # go install in module mode (containerd's go.mod has no replace directives) into a scratch GOBIN.
  GOBIN=$out/.tmp CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -tags "$tags" -ldflags "$ld" "$pkg/cmd/$b@$version" >&2
  mv "$out/.tmp/$b" "$out/$b"
done
rmdir "$out/.tmp" 2>/dev/null || true
echo "$out"
