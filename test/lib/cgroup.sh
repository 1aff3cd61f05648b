# Shell helpers to make a limited cgroup for demos and benchmarks (source this file).
# cgroup v1 (one hierarchy per controller; memory goes under this shell's own memory cgroup,
# which is where this machine lets us create children) or v2 (under this shell's own cgroup's parent).

CG_FS=${CG_FS:-/sys/fs/cgroup}

cg_is_v2() { [ -f "$CG_FS/cgroup.controllers" ]; }

# cg_dirs NAME: the cgroup directories NAME uses, one per line.
cg_dirs() {
  local name=$1
  if cg_is_v2; then
    echo "$CG_FS$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup | sed 's|/[^/]*$||')/$name"
    return
  fi
  echo "$CG_FS/memory$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup | sed 's|/$||')/$name"
  local c
  for c in cpu cpuacct cpuset; do
    [ -d "$CG_FS/$c" ] && echo "$CG_FS/$c/$name"
  done
  return 0
}

# cg_create NAME MEM_BYTES QUOTA_US PERIOD_US [CPUS]: a cgroup with those limits (CPUS e.g. "0", optional).
cg_create() {
  local name=$1 mem=$2 quota=$3 period=$4 cpus=${5:-} d
  while read -r d; do
    mkdir -p "$d"
    case $d in
      */memory/*) echo "$mem" >"$d/memory.limit_in_bytes" ;;
      */cpu/*) echo "$period" >"$d/cpu.cfs_period_us"; echo "$quota" >"$d/cpu.cfs_quota_us" ;;
      */cpuset/*)
        cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
        if [ -n "$cpus" ]; then echo "$cpus" >"$d/cpuset.cpus"; else cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"; fi ;;
    esac
    if cg_is_v2; then
      echo "+memory +cpu +cpuset" >"$(dirname "$d")/cgroup.subtree_control" 2>/dev/null || true
      echo "$mem" >"$d/memory.max"; echo "$quota $period" >"$d/cpu.max"
      [ -z "$cpus" ] || echo "$cpus" >"$d/cpuset.cpus"
    fi
  done < <(cg_dirs "$name")
}

# cg_procs_files NAME: the cgroup.procs files to write a PID into, space-separated.
cg_procs_files() {
  local d out=""
  while read -r d; do out="$out $d/cgroup.procs"; done < <(cg_dirs "$1")
  echo "$out"
}

# cg_remove NAME: move any leftover processes to the parent, then remove the cgroups.
cg_remove() {
  local d p
  while read -r d; do
    [ -d "$d" ] || continue
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo "$p" >"$(dirname "$d")/cgroup.procs" 2>/dev/null || true; done
    rmdir "$d" 2>/dev/null || true
  done < <(cg_dirs "$1")
}
