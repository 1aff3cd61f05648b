# Turns inner.sh's lines into a table and the key=value lines `make bench` ends with.
/^Benchmark/ {
  split($1, a, "[_/=]"); name = a[2]; r = a[4]
  mean[name, r] = $3; p99[name, r] = $7
}
/^server/ { server[$2, $3] = $4 }
function ratio(x, y) { return y > 0 ? sprintf("%.3f", x / y) : "nan" }
END {
  printf "%-10s %8s %12s %12s %14s\n", "target", "readers", "mean_us", "p99_us", "server_cpu_us"
  for (r = 1; r <= 2; r++)
    foreach_target(r)
  print "meminfo_latency_ratio_vs_lxcfs=" ratio(mean["procview", 1], mean["lxcfs", 1])
  print "meminfo_p99_ratio_vs_lxcfs=" ratio(p99["procview", 1], p99["lxcfs", 1])
  print "meminfo_latency_ratio_vs_lxcfs_2readers=" ratio(mean["procview", 2], mean["lxcfs", 2])
  print "meminfo_p99_ratio_vs_lxcfs_2readers=" ratio(p99["procview", 2], p99["lxcfs", 2])
  print "cpu_per_read_ratio_vs_lxcfs=" ratio(server["procview", "cpu_ns_per_read_r1"], server["lxcfs", "cpu_ns_per_read_r1"])
  print "sidecar_rss_kib_idle=" server["procview", "rss_idle_kib"]
  print "sidecar_rss_kib_loaded=" server["procview", "rss_loaded_kib"]
}
function foreach_target(r,   t, n) {
  n = split("native lxcfs procview", t, " ")
  for (i = 1; i <= n; i++) {
    c = server[t[i], "cpu_ns_per_read_r" r]
    printf "%-10s %8d %12.1f %12.1f %14s\n", t[i], r, mean[t[i], r] / 1000, p99[t[i], r] / 1000, c == "" ? "-" : sprintf("%.1f", c / 1000)
  }
}
