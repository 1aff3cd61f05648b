package config

import "strings"

// CPUDir is the one view directory: /sys/devices/system/cpu as the reader's CPUs make it
// (online, possible, present, offline, and cpu0..cpuN-1 only), the rest the host's. It is
// mounted whole because no set of file mounts can take the host's extra cpuN directories away
// (tools count them); it holds the online file, which pods injected before it mount alone.
const CPUDir = "sys/devices/system/cpu"

// IsDir reports whether view path p is a directory mount.
func IsDir(p string) bool { return p == CPUDir }

// Under reports whether view path p lies below directory dir.
func Under(p, dir string) bool { return strings.HasPrefix(p, dir+"/") }
