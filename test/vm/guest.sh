#!/bin/bash
# PID 1 of the cgroup v2 VM (test/vm/run.sh boots it), or systemd's one service in the VM's
# systemd boot. Runs the stages listed in /mnt/share/stages[-BOOT], each under its own time
# limit, writes each stage's output and exit code to /mnt/share/results[-BOOT], and always
# powers the VM off at the end. The host asserts the results.
set -u
share=/mnt/share
src=/mnt/src
poweroff_now() { sync; echo o >/proc/sysrq-trigger; sleep 30; }
trap poweroff_now EXIT

# procview.boot=NAME on the kernel command line: results go to results-NAME (run.sh boots twice
# when it has a systemd boot). Under systemd (PID 1 is systemd, this runs as its service) the
# file systems are there already and systemd owns the root cgroup.
if [ $$ = 1 ]; then
  mount -t proc proc /proc
  mount -t sysfs sys /sys
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
  mount -t tmpfs -o mode=1777 tmp /tmp
  mount -t tmpfs -o mode=755 run /run
  mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
  ln -sf /proc/self/fd /dev/fd # bash's <(...) (devtmpfs has no /dev/fd; udev or systemd would make it)
  mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
  hostname procview-v2
  ip link set lo up 2>/dev/null || /mnt/share/bin/busybox ip link set lo up # no iproute2 in the image
  # Delegate every controller to the root's children, as systemd or the kubelet would.
  echo "+cpuset +cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
fi
boot=$(sed -n 's/.*procview\.boot=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
out=$share/results${boot:+-$boot}
mkdir -p "$out"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$share/bin HOME=/root TMPDIR=/tmp
export PROCVIEW_TEST_SIDECAR=$share/bin/procview-sidecar

{
  echo "pid1=$(cat /proc/1/comm)"
  echo "kernel=$(uname -r)"
  echo "cgroup_self=$(cat /proc/self/cgroup)"
  echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
  echo "v1_mounts=$(grep -c ' cgroup ' /proc/mounts)"
  echo "nproc=$(nproc)"
  echo "boot_to_pid1_s=$(cut -d' ' -f1 /proc/uptime)"
} >"$out/vm.txt"

# run_stage NAME LIMIT_S CMD...: the command's output goes to NAME.txt, its exit code to NAME.rc.
run_stage() {
  local name=$1 limit=$2 start
  shift 2
  start=$(cut -d' ' -f1 /proc/uptime)
  echo "guest: stage $name (limit ${limit}s)"
  timeout -k 10 "$limit" "$@" >"$out/$name.txt" 2>&1
  echo $? >"$out/$name.rc"
  echo "guest: stage $name rc=$(cat "$out/$name.rc") in $(awk -v s="$start" '{printf "%.1f", $1 - s}' /proc/uptime)s"
}

for stage in $(cat "$share/stages${boot:+-$boot}"); do
  case $stage in
    gotest)
      # Soak tests of the FUSE loop (minutes of reads, or 50,000 opens: the same on either
      # cgroup version) run on the host only: under TCG they take most of the stage's time.
      soak='^(TestUnprobedServerKeepsAnswering|TestSuccessorsOfKilledWorkersKeepAnswering|TestManyOpenHandlesStayCheap)$'
      while read -r pkg bin run; do
        (cd "$src/$pkg" && run_stage "gotest-$bin" 600 "$share/bin/$bin.test" -test.v -test.count=1 -test.timeout=540s -test.skip "$soak" ${run:+-test.run "$run"})
      done <"$share/gotest.list"
      ;;
    realtools)
      run_stage realtools 600 bash "$src/test/vm/realtools.sh" "$share/bin/procview-sidecar"
      ;;
    kube)
      run_stage kube 2400 bash "$src/test/vm/kube.sh" "$out/kube-e2e.txt"
      ;;
  esac
done
echo "guest: all stages done"
echo ok >"$out/done"
