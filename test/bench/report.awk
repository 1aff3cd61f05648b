# Turns inner.sh's lines into a table and the key=value lines `make bench` ends with.
# Each target runs in several rounds (lxcfs and procview alternating); the table shows each
# metric's median over the rounds, and every ratio is the median of the per-round ratios
# (procview and lxcfs measured minutes apart on a busy machine are not comparable; in the
# same round they are).
/^Benchmark/ {
  split($1, a, "[_/=]"); name = a[2]; r = a[4]
  k = ++rounds[name, r]
  mean[name, r, k] = $3; p99[name, r, k] = $7
}
/^server/ && NF == 5 { cpu[$2, $3, $4] = $5; next }
/^server/ { server[$2, $3] = $4 }
function median(v, n,   i, j, t) {
  for (i = 2; i <= n; i++)
    for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
# med(arr-name selector): median of metric m ("mean", "p99", "cpu") for target t, readers r.
function med(m, t, r,   v, k, n) {
  n = rounds[t, r]
  for (k = 1; k <= n; k++) v[k] = m == "mean" ? mean[t, r, k] : m == "p99" ? p99[t, r, k] : cpu[t, "cpu_ns_per_read_r" r, k]
  return n ? median(v, n) : ""
}
function ratio(m, r,   v, k, n, x, y) {
  n = rounds["procview", r]
  for (k = 1; k <= n; k++) {
    x = m == "mean" ? mean["procview", r, k] : m == "p99" ? p99["procview", r, k] : cpu["procview", "cpu_ns_per_read_r" r, k]
    y = m == "mean" ? mean["lxcfs", r, k] : m == "p99" ? p99["lxcfs", r, k] : cpu["lxcfs", "cpu_ns_per_read_r" r, k]
    if (y <= 0) return "nan"
    v[k] = x / y
  }
  return n ? sprintf("%.3f", median(v, n)) : "nan"
}
END {
  printf "%-10s %8s %12s %12s %14s   (median of %d rounds)\n", "target", "readers", "mean_us", "p99_us", "server_cpu_us", rounds["procview", 1]
  for (r = 1; r <= 2; r++)
    foreach_target(r)
  print "meminfo_latency_ratio_vs_lxcfs=" ratio("mean", 1)
  print "meminfo_p99_ratio_vs_lxcfs=" ratio("p99", 1)
  print "meminfo_latency_ratio_vs_lxcfs_2readers=" ratio("mean", 2)
  print "meminfo_p99_ratio_vs_lxcfs_2readers=" ratio("p99", 2)
  print "cpu_per_read_ratio_vs_lxcfs=" ratio("cpu", 1)
  print "cpu_per_read_ratio_vs_lxcfs_2readers=" ratio("cpu", 2)
  print "sidecar_rss_kib_idle=" server["procview", "rss_idle_kib"]
  print "sidecar_rss_kib_loaded=" server["procview", "rss_loaded_kib"]
  print "sidecar_rss_anon_kib_idle=" server["procview", "rss_anon_idle_kib"]
  print "sidecar_rss_anon_kib_loaded=" server["procview", "rss_anon_loaded_kib"]
  print "sidecar_rss_file_kib_loaded=" server["procview", "rss_file_loaded_kib"]
  print "sidecar_rss_kib_50k_handles=" server["procview", "rss_handles_kib"]
  print "lxcfs_rss_kib_50k_handles=" server["lxcfs", "rss_handles_kib"]
  print "sidecar_supervisor_rss_kib_idle=" server["procview", "supervisor_rss_idle_kib"]
  print "sidecar_supervisor_rss_anon_kib_idle=" server["procview", "supervisor_rss_anon_idle_kib"]
}
function foreach_target(r,   t, n, i, c) {
  n = split("native lxcfs procview", t, " ")
  for (i = 1; i <= n; i++) {
    c = med("cpu", t[i], r)
    printf "%-10s %8d %12.1f %12.1f %14s\n", t[i], r, med("mean", t[i], r) / 1000, med("p99", t[i], r) / 1000, c == "" ? "-" : sprintf("%.1f", c / 1000)
  }
}
