#!/bin/bash
# Real tools against a real procview mount in real cgroup v2 cgroups (run inside the VM by
# guest.sh; the host checks the key=value lines it prints with test/vm/check.sh).
# Usage: realtools.sh PATH_TO_procview-sidecar
set -euo pipefail
sidecar=$1
cg=/sys/fs/cgroup
view=/run/procview-view
mib=$((1 << 20))

# A server in the VM's own namespaces, default settings (cgroup root "auto", scope "/").
mkdir -p $view
"$sidecar" serve --mountpoint $view 2>/tmp/sidecar.log &
server=$!
cleanup() {
  set +e
  kill $server 2>/dev/null
  wait $server 2>/dev/null
  umount -l $view 2>/dev/null
  for d in $(find $cg -mindepth 1 -depth -type d -name 'rt-*'); do rmdir "$d" 2>/dev/null; done
  echo "--- sidecar log (tail)"
  tail -20 /tmp/sidecar.log
}
trap cleanup EXIT
for _ in $(seq 200); do "$sidecar" probe --mountpoint $view 2>/dev/null && break; sleep 0.1; done
"$sidecar" probe --mountpoint $view

binds=""
for f in proc/meminfo proc/cpuinfo proc/stat proc/uptime proc/loadavg proc/diskstats proc/swaps proc/slabinfo sys/devices/system/cpu; do
  binds="$binds mount --bind $view/$f /$f &&"
done

# mkcg NAME [FILE=VALUE...]: a cgroup (NAME may be nested, parents first) with those files written.
mkcg() {
  local d=$cg/$1 kv
  shift
  mkdir -p "$d"
  echo "+cpuset +cpu +io +memory +pids" >"$(dirname "$d")/cgroup.subtree_control" 2>/dev/null || true
  for kv in "$@"; do echo "${kv#*=}" >"$d/${kv%%=*}"; done
}

# in_cg CGROUP SCRIPT: SCRIPT as a container would run it: in CGROUP ("" = the root cgroup), in
# new mount and PID namespaces, with the view bound over /proc and /sys files.
in_cg() {
  sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare $UNSHARE_EXTRA -m -p -f --mount-proc --propagation private sh -c "$1"' \
    "$cg${1:+/$1}" "$binds $2"
}
export UNSHARE_EXTRA=""

# Emit KEY=VALUE lines about what the tools in the container see.
tools='
echo free_total_mib=$(/usr/bin/free -m | awk "/^Mem:/ {print \$2}")
echo free_swap_mib=$(/usr/bin/free -m | awk "/^Swap:/ {print \$2}")
echo meminfo_total_kb=$(awk "/^MemTotal:/ {print \$2}" /proc/meminfo)
echo meminfo_swap_kb=$(awk "/^SwapTotal:/ {print \$2}" /proc/meminfo)
echo getconf=$(getconf _NPROCESSORS_ONLN)
echo python_cpus=$(python3 -c "import os; print(os.cpu_count())")
echo python_mem_kb=$(python3 -c "print([l.split()[1] for l in open(\"/proc/meminfo\") if l.startswith(\"MemTotal:\")][0])")
echo lscpu_online=$(lscpu | awk -F: "/^On-line CPU/ {gsub(/ /, \"\", \$2); print \$2}")
echo cpuinfo_processors=$(grep -c ^processor /proc/cpuinfo)
echo stat_cpus=$(grep -c "^cpu[0-9]" /proc/stat)
echo online=$(cat /sys/devices/system/cpu/online)
echo getconf_conf=$(getconf _NPROCESSORS_CONF)
echo nproc_all=$(nproc --all)
echo lscpu_cpus=$(lscpu | awk -F: "/^CPU\(s\)/ {gsub(/ /, \"\", \$2); print \$2}")
echo lscpu_offline=$(lscpu | grep -c ^Off-line || true)
echo cpu_dirs=$(ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l)
echo cpu0_core_id=$(cat /sys/devices/system/cpu/cpu0/topology/core_id)
echo slab_lines=$(wc -l </proc/slabinfo)
echo top_mem_total=$(top -bn1 | awk "/^MiB Mem/ {print \$4}")
echo vmstat_total_kb=$(vmstat -s | awk "/total memory/ {print \$1}")
echo uptime_s=$(cut -d" " -f1 /proc/uptime)
echo loadavg_fields=$(wc -w </proc/loadavg)
'
report() { # report PREFIX CGROUP [EXTRA_SCRIPT]
  in_cg "$2" "$tools${3:-}" | sed "s/^/$1./"
}

echo "vm.uptime_s=$(cut -d' ' -f1 /proc/uptime)"
echo "vm.meminfo_total_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "vm.cpus=$(getconf _NPROCESSORS_ONLN)"
echo "vm.cpu1_core_id=$(cat /sys/devices/system/cpu/cpu1/topology/core_id)"
echo "vm.slab_lines=$(wc -l </proc/slabinfo)"

# 256 MiB and half a CPU.
mkcg rt-half memory.max=$((256 * mib)) "cpu.max=50000 100000"
echo "half.t_before=$(cut -d' ' -f1 /proc/uptime)"
report half rt-half
echo "half.t_after=$(cut -d' ' -f1 /proc/uptime)"

# The same in a private cgroup namespace (containerd 2's default on v2): the reader's
# /proc/self/cgroup says 0::/, the server still finds its cgroup from its own namespace.
UNSHARE_EXTRA=-C report cgns rt-half 'echo cgroup_self=$(cat /proc/self/cgroup)'

# A second cgroup on the same mount sees its own: 512 MiB, cpuset {1}, no quota.
mkcg rt-pinned memory.max=$((512 * mib)) cpuset.cpus=1
report pinned rt-pinned

# A reader in the root cgroup gets the node's own files.
report root ""

# A limit set only on the parent ("max" in the container itself).
mkcg rt-parent memory.max=$((300 * mib))
mkcg rt-parent/ctr memory.max=max
report parent rt-parent/ctr

# Swap: a swap file, 128 MiB of memory and 64 MiB of swap for the container.
swapoff -a 2>/dev/null || true
rm -f /swapfile
dd if=/dev/zero of=/swapfile bs=1M count=256 status=none
chmod 600 /swapfile
mkswap /swapfile >/dev/null
swapon /swapfile
echo "vm.swap_kb=$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)"
mkcg rt-swap memory.max=$((128 * mib)) memory.swap.max=$((64 * mib))
report swap rt-swap
mkcg rt-noswap memory.max=$((128 * mib)) memory.swap.max=0
report noswap rt-noswap
swapoff /swapfile
rm -f /swapfile

# View read latency in the VM, native /proc/meminfo vs the view, same run, same cgroup.
lat='python3 -c "
import time, statistics
def run(p, n=2000):
    ts = []
    for _ in range(n):
        t = time.perf_counter_ns()
        with open(p, \"rb\") as f: f.read()
        ts.append(time.perf_counter_ns() - t)
    ts.sort()
    return ts[len(ts) // 2] // 1000, ts[len(ts) * 99 // 100] // 1000
for name, p in ((\"native\", \"/proc/meminfo\"), (\"view\", \"'$view'/proc/meminfo\")):
    m, p99 = run(p)
    print(\"lat.%s_median_us=%d\" % (name, m)); print(\"lat.%s_p99_us=%d\" % (name, p99))
"'
sh -c 'echo $$ >"$0/cgroup.procs" && exec sh -c "$1"' "$cg/rt-half" "$lat"
echo "done=1"
