#!/usr/bin/env bash
# Builds the node's images without any registry and imports them into the node's containerd:
#   localhost/procview-pause:dev     test/node/pause (static Go), the sandbox image
#   localhost/procview-testapp:dev   procps free/uptime/ps/slabtop, getconf, lscpu, coreutils, dash, python3, busybox from this host
#   localhost/procview-sidecar:dev   Dockerfile.sidecar  (context: the repo after `make build`)
#   localhost/procview-injector:dev  Dockerfile.injector
# Usage: images.sh [NAME...]   (default: all four; sidecar/injector need bin/ from `make build`)
# buildah builds each Dockerfile offline (FROM scratch, --pull=never) into private storage under
# the state dir; the image goes to containerd as a docker-archive via `ctr images import`.
# A tarball is rebuilt only when its inputs are newer. PROCVIEW_IMAGES_PREBUILT=1: build nothing,
# import the tarballs already in the images dir (the cgroup v2 VM gets them from the host).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || node_die "must run as root"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pause testapp sidecar injector)
mkdir -p "$IMAGES"
BSTORE=$IMAGES/buildah
t0=$SECONDS

bah() {
  buildah --root "$BSTORE/root" --runroot "$BSTORE/run" --storage-driver vfs "$@"
}

# buildah (containers/image, libnetwork) creates these host paths whatever its --root; remove
# the ones that were not there before this script.
buildah_paths=(/var/lib/containers /run/containers /etc/containers/networks)
created=()
for p in "${buildah_paths[@]}"; do [ -e "$p" ] || created+=("$p"); done
forget_buildah_paths() { [ ${#created[@]} -eq 0 ] || rm -rf "${created[@]}"; }
trap forget_buildah_paths EXIT

# build NAME DOCKERFILE CONTEXT: builds localhost/procview-NAME:dev into $IMAGES/NAME.tar.
build() {
  local name=$1 dockerfile=$2 context=$3 ref=localhost/procview-$1:dev tar=$IMAGES/$1.tar
  bah bud --pull=never --layers=false --quiet -f "$dockerfile" -t "$ref" "$context" >/dev/null
  rm -f "$tar.tmp"
  bah push --quiet "$ref" "docker-archive:$tar.tmp:$ref" >/dev/null
  mv "$tar.tmp" "$tar"
  bah rmi -f "$ref" >/dev/null 2>&1 || true
  node_log "image $ref built ($(du -h "$tar" | cut -f1))"
}

# newer TAR INPUT...: some input is newer than TAR (or TAR is missing).
newer() {
  local tar=$1 f; shift
  [ -f "$tar" ] || return 0
  for f in "$@"; do [ "$f" -nt "$tar" ] && return 0; done
  return 1
}

build_pause() {
  local ctx=$IMAGES/pause-ctx
  newer "$IMAGES/pause.tar" "$here/pause/main.go" "$here/pause/Dockerfile" || return 0
  mkdir -p "$ctx"
  (cd "$NODE_REPO" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/pause" ./test/node/pause)
  build pause "$here/pause/Dockerfile" "$ctx"
}

# copy_with_libs ROOTFS FILE...: copies each file (dereferenced) to its real path in ROOTFS,
# plus every shared library ldd names for it.
copy_with_libs() {
  local root=$1 f real lib; shift
  for f in "$@"; do
    real=$(readlink -f "$f")
    mkdir -p "$root$(dirname "$real")"
    cp -L "$f" "$root$(dirname "$real")/$(basename "$f")"
    [ "$(basename "$real")" = "$(basename "$f")" ] || cp -L "$f" "$root$real"
    while read -r lib; do
      [ -n "$lib" ] || continue
      real=$(readlink -f "$(dirname "$lib")")
      [ -e "$root$real/$(basename "$lib")" ] && continue
      mkdir -p "$root$real"
      cp -L "$lib" "$root$real/$(basename "$lib")"
    done < <(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}')
  done
}

build_testapp() {
  local ctx=$IMAGES/testapp-ctx root py
  newer "$IMAGES/testapp.tar" "$here/images.sh" "$here/testapp/Dockerfile" || return 0
  rm -rf "$ctx"
  root=$ctx/rootfs
  mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib64" \
    "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  # Debian 12 is merged-/usr: the same symlinks in the image.
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  local tools=(sh dash bash cat sleep ls head tail grep sed awk cut sort uniq wc tr date env true false
    id kill nproc stat seq touch mkdir rm cp mv ln dd df echo printf test timeout yes
    free uptime ps top vmstat slabtop getconf lscpu python3 busybox)
  local t paths=()
  for t in "${tools[@]}"; do paths+=("$(PATH=/usr/bin:/usr/sbin type -P "$t" || true)"); done
  for t in "${paths[@]}"; do [ -n "$t" ] || node_die "testapp: a tool is missing on this host (${tools[*]})"; done
  copy_with_libs "$root" "${paths[@]}"
  ln -sf dash "$root/usr/bin/sh"
  # python3: the interpreter's standard library and the extension modules' libraries.
  py=$(readlink -f /usr/bin/python3)
  ln -sf "$(basename "$py")" "$root/usr/bin/python3"
  local pylib
  pylib=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
  mkdir -p "$root$pylib"
  cp -a "$pylib/." "$root$pylib/"
  rm -rf "$root$pylib/test" "$root$pylib/idlelib" "$root$pylib/tkinter" "$root$pylib/ensurepip" \
    "$root$pylib/site-packages" "$root$pylib/dist-packages"
  local so
  for so in "$pylib"/lib-dynload/*.so; do copy_with_libs "$root" "$so"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  echo /usr/lib/x86_64-linux-gnu >"$root/etc/ld.so.conf"
  ldconfig -r "$root"
  node_log "testapp rootfs assembled ($(du -sh "$root" | cut -f1))"
  # Smoke test: the tools run from the rootfs alone.
  chroot "$root" /bin/sh -c 'free --version >/dev/null && getconf PAGESIZE >/dev/null && python3 -c "import json, http.server"' ||
    node_die "testapp rootfs does not run its tools"
  build testapp "$here/testapp/Dockerfile" "$ctx"
}

build_bin_image() {
  local name=$1 bin=$NODE_REPO/bin/procview-$1
  if [ ! -x "$bin" ]; then
    node_log "skip image $name: $bin missing (run make build)"
    return 0
  fi
  newer "$IMAGES/$name.tar" "$bin" "$NODE_REPO/Dockerfile.$name" || return 0
  build "$name" "$NODE_REPO/Dockerfile.$name" "$NODE_REPO"
}

for n in "${names[@]}"; do
  [ "${PROCVIEW_IMAGES_PREBUILT:-0}" = 1 ] && break
  case $n in
    pause) build_pause ;;
    testapp) build_testapp ;;
    sidecar | injector) build_bin_image "$n" ;;
    *) node_die "unknown image $n (pause, testapp, sidecar, injector)" ;;
  esac
done

# Import into the running node (content-addressed: an unchanged image is a no-op).
if pid_alive containerd && [ -S "$CTRD_SOCK" ]; then
  for n in "${names[@]}"; do
    [ -f "$IMAGES/$n.tar" ] || continue
    ctr_ images import "$IMAGES/$n.tar" >/dev/null ||
      node_die "import $IMAGES/$n.tar into containerd failed"
  done
fi
node_log "images ${names[*]} ready in $((SECONDS - t0))s"
