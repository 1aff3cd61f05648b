#!/usr/bin/env bash
# Runs inside `unshare -m -p -f --mount-proc`: starts lxcfs and procview, then times the reader
# against native /proc, lxcfs and procview. Prints Benchmark lines and "server" cost lines.
set -euo pipefail
ROOT=$1
LX=$WORK/lxcfs PV=$WORK/procview
mkdir -p "$LX" "$PV"
lxcfs -u "$LX" >"$WORK/lxcfs.log" 2>&1 &
LXPID=$!
"$ROOT/bin/procview-sidecar" serve --mountpoint "$PV" >"$WORK/procview.log" 2>&1 &
PVPID=$! SUPPID=$!
stop() {
  set +e
  kill "$SUPPID" 2>/dev/null; wait "$SUPPID" 2>/dev/null
  umount -l "$LX" 2>/dev/null; kill "$LXPID" 2>/dev/null; wait "$LXPID" 2>/dev/null
}
trap stop EXIT
for _ in $(seq 100); do
  [ -s "$LX/proc/meminfo" ] && "$ROOT/bin/procview-sidecar" probe --mountpoint "$PV" 2>/dev/null && break
  sleep 0.1
done
"$ROOT/bin/procview-sidecar" probe --mountpoint "$PV" || { cat "$WORK/procview.log" >&2; exit 1; }
# serve supervises; the FUSE server is its child, procview-sidecar worker: its CPU and memory are
# the server's, and the supervisor's memory is reported beside them.
SUPPID=$PVPID
PVPID=$(cat /proc/"$SUPPID"/task/*/children | tr -d " ")  # a child of the thread that forked it
[ -n "$PVPID" ] && [ "$(tr '\0' ' ' </proc/"$PVPID"/cmdline | cut -d' ' -f2)" = worker ] ||
  { echo "bench: no procview-sidecar worker under $SUPPID" >&2; exit 1; }

# cpu_ns PID: CPU time of all the process's threads, in ns (schedstat's first field).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
# in_cgroup CMD...: run CMD inside the reader cgroup.
in_cgroup() { sh -c 'for f in $CG_PROCS; do echo $$ > "$f"; done; exec "$@"' sh "$@"; }

rss_line() { # rss_line PID WHEN: total, anonymous and file-backed resident KiB
  awk -v w="$2" '/^VmRSS/ {print "server procview rss_" w "_kib", $2} /^RssAnon/ {print "server procview rss_anon_" w "_kib", $2}
    /^RssFile/ {print "server procview rss_file_" w "_kib", $2}' /proc/"$1"/status
}
rss_line "$PVPID" idle
awk '/^VmRSS/ {print "server procview supervisor_rss_idle_kib", $2} /^RssAnon/ {print "server procview supervisor_rss_anon_idle_kib", $2}' /proc/"$SUPPID"/status
# ROUNDS rounds of N/ROUNDS reads per target, lxcfs and procview in alternating order, so both
# see the same background load; report.awk takes per-round ratios and their median.
ROUNDS=${ROUNDS:-3}
per=$(( N / ROUNDS ))
for readers in 1 2; do
  for round in $(seq "$ROUNDS"); do
    order="native: lxcfs:$LX procview:$PV"
    [ $((round % 2)) = 0 ] && order="native: procview:$PV lxcfs:$LX"
    for target in $order; do
      name=${target%%:*} dir=${target#*:}
      pid=""; [ "$name" = lxcfs ] && pid=$LXPID; [ "$name" = procview ] && pid=$PVPID
      before=0; [ -n "$pid" ] && before=$(cpu_ns "$pid")
      line=$(in_cgroup "$WORK/reader" -file "$dir/proc/meminfo" -name "Meminfo_$name" -n "$per" -readers "$readers")
      echo "$line"
      if [ -n "$pid" ]; then
        reads=$(echo "$line" | awk '{print $2}')
        echo "server $name cpu_ns_per_read_r$readers $round $(( ($(cpu_ns "$pid") - before) / reads ))"
      fi
    done
  done
done
# Load the sidecar up to $LOADED reads in all, then its RSS.
done_reads=$(( 3 * per * ROUNDS ))
if [ "$LOADED" -gt "$done_reads" ]; then
  in_cgroup "$WORK/reader" -file "$PV/proc/meminfo" -name Load -n $(( LOADED - done_reads )) -readers 1 >/dev/null
fi
rss_line "$PVPID" loaded
# A reader holding $HANDLES open handles of meminfo (half read to the end, half stopped after
# 100 bytes): the server's memory must stay bounded whatever readers do. lxcfs the same, beside.
HANDLES=${BENCH_HANDLES:-50000}
hold_rss() { # hold_rss NAME DIR PID: RSS of PID while a reader holds $HANDLES handles under DIR
  local fifo=$WORK/hold-$1
  mkfifo "$fifo"
  in_cgroup python3 "$ROOT/sidecar/cmd/procview-sidecar/testdata/hold.py" "$2/proc/meminfo" "$HANDLES" <"$fifo" >"$WORK/hold-$1.out" &
  local holder=$! i
  exec 7>"$fifo"
  for i in $(seq 600); do grep -q ready "$WORK/hold-$1.out" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$WORK/hold-$1.out" || { echo "bench: the $1 holder did not get ready" >&2; exit 1; }
  echo "server $1 rss_handles_kib $(rss_kib "$3")"
  exec 7>&-
  wait "$holder"
}
hold_rss procview "$PV" "$PVPID"
hold_rss lxcfs "$LX" "$LXPID"
