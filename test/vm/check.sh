#!/usr/bin/env bash
# Asserts, on the host, what the cgroup v2 VM saw: the real tools (test/vm/realtools.sh's
# KEY=VALUE lines) or the Kubernetes node (test/vm/kube.sh's). Prints every failed
# expectation; exits 1 if there was one.
# Usage: check.sh realtools|kube FILE
set -uo pipefail
what=$1
f=$2
[ -f "$f" ] || { echo "check: no $f" >&2; exit 1; }
declare -A v
while IFS='=' read -r k val; do
  [[ $k =~ ^[a-z0-9_.]+$ ]] && v[$k]=$val
done <"$f"
bad=0
# want KEY OP VALUE [why]: OP is = (string), -eq/-lt/-gt (integers), ~ (regular expression).
want() {
  local k=$1 op=$2 exp=$3 got=${v[$1]-<missing>} ok=1
  case $op in
    =) [ "$got" = "$exp" ] || ok=0 ;;
    '~') [[ $got =~ $exp ]] || ok=0 ;;
    *) [[ $got =~ ^[0-9]+$ ]] && [ "$got" "$op" "$exp" ] || ok=0 ;;
  esac
  if [ $ok = 0 ]; then
    echo "check: FAIL $k: got '$got', want $op '$exp'${4:+ ($4)}" >&2
    bad=1
  fi
}
num() { printf '%.0f' "${v[$1]:-0}"; }

if [ "$what" = kube ]; then
  want kube.done = 1 "kube.sh ran to its end"
  want kube.kubelet_version '~' '^v1\.37\.'
  want kube.containerd_version '~' '^v2\.'
  want kube.node_ready_s '~' '^[0-9]+$'
  want kube.pod_ready_s '~' '^[0-9.]+$'
  want kube.pod_delete_s '~' '^[0-9.]+$'
  want kube.web_free_mib -eq 256 "free in the injected web pod"
  want kube.app_memory_max -eq $((256 << 20))
  want kube.app_cpu_max = "50000 100000"
  id=${v[kube.container_id]:-none} uid=${v[kube.pod_uid]:-none}
  case ${v[kube.driver]:-} in
    cgroupfs) want kube.app_cgroup = "/kubepods/burstable/pod$uid/$id" ;;
    systemd) want kube.app_cgroup = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid//-/_}.slice/cri-containerd-$id.scope" ;;
    *) want kube.driver '~' '^(cgroupfs|systemd)$' ;;
  esac
  want kube.e2e_rc -eq 0
  want kube.fuse_mounts_left -eq 0 "no FUSE mount left after the e2e tests"
  exit $bad
fi

want done = 1 "realtools.sh ran to its end"
want vm.cpus -eq 2
# 256 MiB and 0.5 CPU: every tool sees 256 MiB and 1 CPU.
for k in free_total_mib; do want half.$k -eq 256; done
want half.meminfo_total_kb -eq 262144
want half.python_mem_kb -eq 262144
want half.vmstat_total_kb -eq 262144
want half.top_mem_total = 256.0 "top's MiB Mem total"
want half.free_swap_mib -eq 0 "no swap on the VM yet"
for k in getconf python_cpus cpuinfo_processors stat_cpus; do want half.$k -eq 1; done
want half.online = 0
want half.lscpu_online = 0
# The CPU directory and slabinfo: 1 CPU wherever it is counted; v2 keeps no per-cgroup slabinfo.
for k in getconf_conf lscpu_cpus cpu_dirs; do want half.$k -eq 1; done
# nproc --all (gnulib) takes the affinity mask when _NPROCESSORS_CONF is 1 or 2: no cpuset here, so 2.
want half.nproc_all -eq 2 "the affinity mask: gnulib distrusts a count of 1 or 2"
want half.lscpu_offline -eq 0
want half.slab_lines -eq 2 "the header alone, not the node's caches"
want vm.slab_lines -gt 2 "the node's own slabinfo has caches"
want half.loadavg_fields -eq 5
# uptime is the container's age: at most the time its report took (one clock tick of slack).
awk -v u="${v[half.uptime_s]:--1}" -v a="${v[half.t_before]:-0}" -v b="${v[half.t_after]:-0}" 'BEGIN { exit !(u >= 0 && u <= b - a + 0.02) }' ||
  { echo "check: FAIL half.uptime_s ${v[half.uptime_s]-} not within the container's life (${v[half.t_before]-} .. ${v[half.t_after]-} s of VM uptime)" >&2; bad=1; }
# The same cgroup, the reader in a private cgroup namespace.
want cgns.cgroup_self = 0::/ "the reader's own cgroup namespace"
want cgns.free_total_mib -eq 256
want cgns.meminfo_total_kb -eq 262144
for k in getconf cpuinfo_processors; do want cgns.$k -eq 1; done
# A second cgroup on the same mount: 512 MiB, cpuset {1}.
want pinned.free_total_mib -eq 512
want pinned.meminfo_total_kb -eq 524288
for k in getconf python_cpus cpuinfo_processors stat_cpus; do want pinned.$k -eq 1; done
want pinned.online '~' '^[01]$' "one CPU"
for k in getconf_conf nproc_all lscpu_cpus cpu_dirs; do want pinned.$k -eq 1; done
want pinned.cpu0_core_id = "${v[vm.cpu1_core_id]-}" "view cpu0 is host CPU 1, the cpuset's"
# The root cgroup: the node's own files.
want root.meminfo_total_kb -eq "${v[vm.meminfo_total_kb]:-0}" "the node's MemTotal"
for k in getconf python_cpus cpuinfo_processors stat_cpus; do want root.$k -eq 2; done
want root.online = 0-1
for k in getconf_conf nproc_all lscpu_cpus cpu_dirs; do want root.$k -eq 2; done
# A limit on the parent only.
want parent.free_total_mib -eq 300
want parent.meminfo_total_kb -eq 307200
# Swap: memory.swap.max 64 MiB on a VM with 256 MiB of swap; memory.swap.max 0.
want vm.swap_kb -gt 0 "the swap file is on"
want swap.meminfo_total_kb -eq 131072
want swap.meminfo_swap_kb -eq 65536
want swap.free_swap_mib -eq 64
want noswap.meminfo_swap_kb -eq 0
# Latency figures exist (values are reported, not judged: TCG timings vary with load).
for k in lat.native_median_us lat.view_median_us; do want $k '~' '^[0-9]+$'; done
exit $bad
