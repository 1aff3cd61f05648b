package render

// The files of /sys/devices/system/cpu that say how many CPUs there are: online, possible and
// present all list the view's CPUs, 0..n-1 (glibc's _SC_NPROCESSORS_CONF and coreutils'
// `nproc --all` read possible; lscpu compares the three), and offline is empty. The cpuN
// directories beside them are served by the FUSE server from the host CPU each one stands
// for, in VisibleCPUs order (the order cpuinfo and stat renumber in).

// renderOffline is /sys/devices/system/cpu/offline: the view's CPUs are all online, and the
// kernel writes an empty list as a lone newline.
func renderOffline(dst []byte, _ Input) ([]byte, error) {
	return append(dst, '\n'), nil
}
