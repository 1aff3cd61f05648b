#!/usr/bin/env bash
# Builds kube-apiserver, kubelet, kubectl, kube-controller-manager and kube-scheduler of one
# Kubernetes version from the Go module proxy, once, into a cache outside the repository, and
# prints the directory that holds them. Only missing binaries are built.
# `go install k8s.io/kubernetes/cmd/...@v` fails on kubernetes' replace directives, so this
# makes a throw-away module that replaces each staging module with its published version.
set -euo pipefail

version=${KUBE_VERSION:-v1.37.2}
cache=${PROCVIEW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/procview}
out=$cache/kube/$version/bin
bins=(kube-apiserver kubelet kubectl kube-controller-manager kube-scheduler)

# shellcheck source=cache.sh
. "$(dirname "$0")/cache.sh"
reuse_or_lock "$out" "$cache/kube/$version.lock" "${bins[@]}"

work=$cache/kube/$version/src
mkdir -p "$work"
cd "$work"
staging=v0.${version#v1.}
kgomod=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  echo "module procview.local/kubebuild"
  echo
  grep -m1 '^go ' "$kgomod"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$kgomod"
} > go.mod
{
  echo "//go:build tools"
  echo "package tools"
  echo "import ("
  for b in "${bins[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
  echo ")"
} > tools.go
echo "build-bins: resolving modules for Kubernetes $version" >&2
GOFLAGS=-mod=mod go mod tidy >&2
ld="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${version#v1.} -X k8s.io/client-go/pkg/version.gitVersion=$version"
for b in "${bins[@]}"; do
  [ -x "$out/$b" ] && continue
  echo "build-bins: building $b $version (a cold build takes minutes)" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b" >&2
  mv "$out/$b.tmp" "$out/$b"
done
echo "$out"
