#!/usr/bin/env bash
# make test-v2: the project's tests on a real cgroup v2 kernel, in a qemu VM.
#
# - kernel: Debian's linux-image-*-amd64 (apt-get download + dpkg-deb -x, never installed on the
#   host), booted as its plain ELF vmlinux (PVH: the compressed bzImage decompresses slowly in
#   emulated code), with cgroup_no_v1=all;
# - root: a Debian image built offline with mmdebstrap from the apt archive (procps, python3,
#   util-linux, mount), cached under ${PROCVIEW_CACHE:-~/.cache/procview}/vm keyed by the package
#   versions, booted with snapshot=on so it stays clean;
# - KVM when /dev/kvm exists, TCG otherwise;
# - the test binaries are built here (go test -c) and passed in over 9p with the repository
#   (read only); the VM writes results back over 9p and this script asserts them;
# - the VM always powers off; one that is still running at the deadline is killed and fails the run.
#
# Stages (VM_STAGES, default "gotest realtools kube-systemd"): gotest = the Go tests that touch
# real cgroups, FUSE and mounts; realtools = procps/getconf/python/lscpu against the view
# (test/vm/realtools.sh, asserted by test/vm/check.sh); kube = a single-node Kubernetes in the VM
# (test/node/up.sh with the Kubernetes and containerd that test/kube/ builds for the host node,
# shared read-only over 9p) and the cgroup v2 subset of the e2e tests (test/vm/kube.sh), cgroupfs
# driver; kube-systemd = the same in a second boot with systemd as PID 1 and the systemd driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
stages=${VM_STAGES:-gotest realtools kube-systemd}
deadline=${VM_DEADLINE:-3000} # seconds from qemu start to power-off, whole VM
cache=${PROCVIEW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/procview}/vm
t0=$(date +%s)
since() { echo $(($(date +%s) - t0)); }
log() { echo "test-v2: [+$(since)s] $*" >&2; }

[ "$(id -u)" = 0 ] || { log "needs root (building the image, 9p as root)"; exit 1; }
PROCVIEW_SKIP_KUBE=1 bash test/setup.sh
for t in qemu-system-x86_64 mmdebstrap mke2fs depmod cpio; do
  command -v $t >/dev/null || { log "missing $t (test/apt-packages.txt)"; exit 1; }
done
mkdir -p "$cache"
exec 8>"$cache/.lock"
flock 8 # one image build / VM run at a time on this machine

# The package's candidate version, from the apt lists (updated once if they are empty).
apt_version() {
  local v
  v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    apt-get update -qq >&2
    v=$(apt-cache policy "$1" | awk '/Candidate:/ {print $2}')
  fi
  [ -n "$v" ] && [ "$v" != "(none)" ] || { log "no Debian package $1"; return 1; }
  echo "$v"
}

# --- kernel (+ the modules the initramfs loads) ---
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$kpkg" ]; then
  apt-get update -qq
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
kver=${kpkg#linux-image-}
kdir=$cache/kernel-$kver-$(apt_version "$kpkg")
modules=(virtio_pci virtio_blk ext4 9pnet_virtio 9p fuse overlay bridge veth dummy)
if [ ! -f "$kdir/ready" ]; then
  log "kernel $kpkg: downloading and extracting (not installed on this host)"
  rm -rf "$kdir" && mkdir -p "$kdir/dl"
  (cd "$kdir/dl" && apt-get download -q "$kpkg" busybox-static >/dev/null 2>&1) ||
    (cd "$kdir/dl" && apt-get update -qq && apt-get download -q "$kpkg" busybox-static)
  dpkg-deb -x "$kdir"/dl/linux-image-*.deb "$kdir/k"
  dpkg-deb -x "$kdir"/dl/busybox-static_*.deb "$kdir/bb"
  python3 test/vm/extract-vmlinux.py "$kdir/k/boot/vmlinuz-$kver" "$kdir/vmlinux"
  depmod -b "$kdir/k" "$kver"
  rm -rf "$kdir/dl"
  touch "$kdir/ready"
fi
modprobe -a -d "$kdir/k" -S "$kver" --show-depends "${modules[@]}" | awk '$1 == "insmod" && !seen[$2]++ {print $2}' >"$kdir/modules.txt"

# --- root image, keyed by the versions of what goes in ---
# (+ what test/node/up.sh needs: runc, etcd, CNI plugins, openssl, curl, ip/ss; systemd and dbus
# for the boot with systemd as PID 1.)
pkgs=(procps python3 util-linux mount runc etcd-server containernetworking-plugins openssl curl iproute2 systemd dbus)
key=$( (for p in "${pkgs[@]}"; do echo "$p=$(apt_version "$p")"; done; cat test/vm/rootfs.sh) | sha256sum | cut -c1-16)
image=$cache/root-$key.ext4
if [ ! -f "$image" ]; then
  log "root image: building with mmdebstrap (cold: minutes), key $key"
  s=$(date +%s)
  bash test/vm/rootfs.sh "$image" "${pkgs[@]}"
  log "root image built in $(($(date +%s) - s))s"
  # Other keys' images unused for a day (branches with other package lists share this cache:
  # deleting them at once made each branch's run rebuild its image).
  find "$cache" -maxdepth 1 -name 'root-*.ext4' ! -name "root-$key.ext4" -mtime +0 -delete
fi

touch "$image" # in use (snapshot=on never writes it)

# --- this run: initramfs, binaries, shares ---
work=$(mktemp -d /tmp/procview-vm.XXXXXX)
qemu_pid=""
keep=$cache/last-run # the last run's results and console, for a look after a failure
cleanup() {
  if [ -d "$work/share/results" ]; then
    rm -rf "$keep" && mkdir -p "$keep" && cp -r "$work"/share/results* "$work"/console*.log "$keep/" 2>/dev/null || true
  fi
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill -KILL "$qemu_pid"; wait "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/initrd/bin" "$work/share/bin" "$work/share/results"
cp "$kdir/bb/bin/busybox" "$work/initrd/bin/busybox"
cp "$kdir/bb/bin/busybox" "$work/share/bin/busybox" # a reader that copies with sendfile (readpaths_test.go)
while read -r m; do
  mkdir -p "$work/initrd$(dirname "${m#"$kdir/k"}")"
  cp "$m" "$work/initrd${m#"$kdir/k"}"
  echo "${m#"$kdir/k/"}" >>"$work/initrd/modules.list"
done <"$kdir/modules.txt"
install -m 755 test/vm/init.sh "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"

# The Go tests that touch real cgroups, FUSE and mounts: "package-dir binary-name [-test.run regexp]"
# (the pure ones of those packages already ran on the host; under TCG each costs 30x).
cat >"$work/share/gotest.list" <<'EOF'
sidecar/cgroup cgroup Real|KeptProcFile
sidecar/cgroupmount cgroupmount
sidecar/internal/testcgroup testcgroup
sidecar/fusefs fusefs
sidecar/render render RealTools
sidecar/cmd/procview-sidecar sidecar
initmount initmount
EOF
if [ -n "${VM_GOTEST:-}" ]; then # e.g. VM_GOTEST='sidecar Supervisor' while iterating: one binary, one -test.run
  echo "$(awk -v b="${VM_GOTEST%% *}" '$2 == b {print $1, $2}' "$work/share/gotest.list") ${VM_GOTEST#* }" >"$work/share/gotest.list"
fi
log "building the sidecar and the test binaries"
CGO_ENABLED=0 go build -trimpath -o "$work/share/bin/procview-sidecar" ./sidecar/cmd/procview-sidecar
while read -r pkg bin _; do
  CGO_ENABLED=0 go test -c -o "$work/share/bin/$bin.test" "./$pkg"
done <"$work/share/gotest.list"

# The kube stage: the host node's Kubernetes and containerd builds (9p, read only), the images
# test/node/images.sh builds for it (from bin/: make build), the injector and the e2e tests.
virtfs_kube=()
if [[ " $stages " == *" kube"* ]]; then
  for b in bin/procview-sidecar bin/procview-injector; do [ -x "$b" ] || { log "$b missing (make build)"; exit 1; }; done
  kube_bin=$(bash test/kube/build-bins.sh)
  ctrd_bin=$(bash test/kube/build-containerd.sh)
  (. test/node/lib.sh && node_packages)
  bash test/node/images.sh pause testapp sidecar
  images=$(. test/node/lib.sh && echo "$IMAGES")
  mkdir -p "$work/share/images"
  for n in pause testapp sidecar; do cp "$images/$n.tar" "$work/share/images/"; done
  cp bin/procview-injector "$work/share/bin/"
  go test -c -tags e2e -o "$work/share/bin/e2e.test" ./test/e2e
  printf '%s\n' kube containerd >"$work/share/shares"
  virtfs_kube=(-virtfs "local,path=$kube_bin,mount_tag=kube,security_model=none,readonly=on"
    -virtfs "local,path=$ctrd_bin,mount_tag=containerd,security_model=none,readonly=on")
fi

# --- boot ---
# KVM when it works: some hosts have a /dev/kvm that cannot run this kernel (seen on this machine
# kind: "KVM internal error. Suberror: 1 ... emulation failure" early in boot, after which qemu
# sits paused until the deadline). So the kernel first boots under KVM alone, without a root,
# up to its panic for the missing root file system; only then is KVM used.
kvm_boots() {
  [ -w /dev/kvm ] || return 1
  local probe=$work/kvm-probe.log qemu_out=$work/kvm-probe.qemu pid i ok=1
  qemu-system-x86_64 -accel kvm -cpu host -machine q35 -smp 1 -m 512 -nographic -no-reboot \
    -nodefaults -monitor none -nic none -serial "file:$probe" -kernel "$kdir/vmlinux" \
    -append "console=ttyS0 panic=-1" </dev/null >"$qemu_out" 2>&1 &
  pid=$!
  # A working KVM panics within seconds; a broken one prints nothing after the BIOS (its error
  # report sits in qemu's buffered output until qemu exits): 20 s at most.
  for i in $(seq 200); do
    grep -q 'Kernel panic' "$probe" 2>/dev/null && { ok=0; break; }
    grep -q 'KVM internal error' "$qemu_out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  return "$ok"
}
accel="-accel tcg,thread=multi -cpu max"
if [ "${VM_ACCEL:-auto}" = kvm ] || { [ "${VM_ACCEL:-auto}" = auto ] && kvm_boots; }; then
  accel="-accel kvm -cpu host"
elif [ -e /dev/kvm ] && [ "${VM_ACCEL:-auto}" = auto ]; then
  log "/dev/kvm cannot boot the kernel here ($(grep -m1 -o 'KVM internal error.*' "$work/kvm-probe.qemu" 2>/dev/null || echo 'no panic within 20 s')): software emulation"
fi
# run_vm NAME STAGES [KERNEL_ARGS]: one boot of the VM running STAGES; results in
# share/results[-NAME], console in console[-NAME].log. NAME "" is the plain boot (guest.sh is
# PID 1); "systemd" boots systemd as PID 1 with guest.sh as its service.
vm_secs=0
run_vm() {
  local name=$1 st=$2 args=${3:-} start pid
  echo "$st" >"$work/share/stages${name:+-$name}"
  log "booting${name:+ ($name)} (${accel%% -cpu*}), deadline ${deadline}s, stages: $st"
  start=$(date +%s)
  # shellcheck disable=SC2086
  qemu-system-x86_64 $accel -machine q35 -smp 2 -m 3072 -nographic -no-reboot -nodefaults \
    -serial "file:$work/console${name:+-$name}.log" -monitor none -nic none \
    -kernel "$kdir/vmlinux" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 quiet loglevel=4${name:+ procview.boot=$name} $args" \
    -drive "file=$image,format=raw,if=virtio,snapshot=on" \
    -virtfs "local,path=$work/share,mount_tag=share,security_model=none" \
    -virtfs "local,path=$repo,mount_tag=src,security_model=none,readonly=on" "${virtfs_kube[@]}" \
    </dev/null >"$work/qemu${name:+-$name}.log" 2>&1 &
  qemu_pid=$!
  while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ $(($(date +%s) - start)) -ge "$deadline" ]; then
      log "FAIL: the VM${name:+ ($name)} did not power off within ${deadline}s: killed"
      kill -KILL "$qemu_pid"
      break
    fi
    sleep 1
  done
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
  log "VM${name:+ ($name)} ran $(($(date +%s) - start))s"
  vm_secs=$((vm_secs + $(date +%s) - start))
}

# check_vm NAME STAGES: asserts one boot's results; sets fail=1 on a failure.
fail=0
check_vm() {
  # (one local per line: a local's value is expanded before the line's earlier names are set)
  local name=$1 st=$2 stage rc pass skip failed f pkg bin
  local res=$work/share/results${name:+-$name} console=$work/console${name:+-$name}.log
  console_tail() { log "VM console${name:+ ($name)} (tail):"; tail -40 "$console" >&2; cat "$work/qemu${name:+-$name}.log" >&2; }
  if [ ! -f "$res/done" ]; then
    log "FAIL: the VM${name:+ ($name)} did not finish its stages"
    console_tail
    fail=1
  fi
  grep '^guest: stage' "$console" >&2 || true
  [ -f "$res/vm.txt" ] && sed "s/^/test-v2: vm${name:+ ($name)}: /" "$res/vm.txt" >&2
  if [ -f "$res/vm.txt" ]; then
    grep -qx 'v1_mounts=0' "$res/vm.txt" || { log "FAIL: the VM is not pure cgroup v2"; fail=1; }
    if [ "$name" = systemd ]; then
      grep -qx 'pid1=systemd' "$res/vm.txt" || { log "FAIL: systemd is not PID 1 in the systemd boot"; fail=1; }
    else
      grep -qx 'cgroup_self=0::/' "$res/vm.txt" || { log "FAIL: PID 1 is not in the root cgroup"; fail=1; }
    fi
  fi
  for stage in $st; do
    case $stage in
      gotest)
        while read -r pkg bin _; do
          f=$res/gotest-$bin.txt
          rc=$(cat "$res/gotest-$bin.rc" 2>/dev/null || echo missing)
          pass=$(grep -c '^--- PASS' "$f" 2>/dev/null || true)
          skip=$(grep -c -- '--- SKIP' "$f" 2>/dev/null || true)
          failed=$(grep -c -- '--- FAIL' "$f" 2>/dev/null || true)
          log "gotest $pkg: rc=$rc pass=$pass fail=$failed skip=$skip"
          if [ "$rc" != 0 ] || [ "$skip" != 0 ] || [ "$pass" = 0 ]; then
            fail=1
            grep -A30 -- '^--- FAIL\|^    --- FAIL\|--- SKIP\|^panic:' "$f" 2>/dev/null | head -150 >&2 || true
          fi
        done <"$work/share/gotest.list"
        ;;
      realtools)
        rc=$(cat "$res/realtools.rc" 2>/dev/null || echo missing)
        log "realtools: rc=$rc"
        if [ "$rc" != 0 ] || ! bash test/vm/check.sh realtools "$res/realtools.txt"; then
          fail=1
          tail -40 "$res/realtools.txt" >&2 2>/dev/null || true
        fi
        ;;
      kube)
        rc=$(cat "$res/kube.rc" 2>/dev/null || echo missing)
        grep -E '^(=== RUN|--- |    --- |\s+\S+_test.go:[0-9]+: (reads recovered|pod .* deleted))' "$res/kube-e2e.txt" 2>/dev/null | grep -v '^=== RUN' | sed 's/^/test-v2: kube e2e: /' >&2 || true
        pass=$(grep -c -- '--- PASS' "$res/kube-e2e.txt" 2>/dev/null || true)
        failed=$(grep -c -- '--- FAIL' "$res/kube-e2e.txt" 2>/dev/null || true)
        log "kube: rc=$rc e2e pass=$pass fail=$failed"
        if [ "$rc" != 0 ] || [ "$failed" != 0 ] || [ "$pass" = 0 ] || ! bash test/vm/check.sh kube "$res/kube.txt"; then
          fail=1
          tail -60 "$res/kube.txt" >&2 2>/dev/null || true
          grep -B5 -A40 -- '--- FAIL' "$res/kube-e2e.txt" 2>/dev/null | head -200 >&2 || true
          tail -30 "$res/kube-up.log" >&2 2>/dev/null || true
        fi
        grep '^kube\.' "$res/kube.txt" 2>/dev/null | tr '\n' ' ' | fold -s -w 160 | sed 's/^/test-v2: kube: /' >&2 || true
        echo >&2
        ;;
    esac
  done
  if [ "$fail" != 0 ] && [ -f "$res/done" ]; then console_tail; fi
  return 0
}

# The plain boot runs every stage but kube-systemd; kube-systemd is the kube stage in a second
# boot with systemd as PID 1 (the kubelet's and runc's systemd cgroup driver need it).
plain=$(echo " $stages " | sed 's/ kube-systemd / /; s/^ *//; s/ *$//')
[ -z "$plain" ] || run_vm "" "$plain"
[[ " $stages " != *" kube-systemd "* ]] || run_vm systemd kube procview.init=systemd
[ -z "$plain" ] || check_vm "" "$plain"
[[ " $stages " != *" kube-systemd "* ]] || check_vm systemd kube
res=$work/share/results
grep '^[a-z]*\.[a-z0-9_]*=' "$res/realtools.txt" 2>/dev/null | tr '\n' ' ' | fold -s -w 160 | sed 's/^/test-v2: realtools: /' >&2 || true
echo >&2
if [ "$fail" != 0 ]; then
  log "FAILED after $(since)s"
  exit 1
fi
log "ok: cgroup v2 stages passed in $(since)s (VM ${vm_secs}s)"
