package podview

import (
	"path"
	"slices"
)

// File is one view file.
type File struct {
	// Path is where the file is relative to the mount point, e.g. "proc/meminfo"; with a
	// leading "/" it is where it is mounted in an app container.
	Path string
}

// Name is the file's short name, used in annotations and the status: "meminfo".
func (f File) Name() string { return path.Base(f.Path) }

// Target is where the file is mounted in an app container: "/proc/meminfo".
func (f File) Target() string { return "/" + f.Path }

// The view files' paths; the sidecar's renderer registry is keyed by them.
const (
	Meminfo   = "proc/meminfo"
	Cpuinfo   = "proc/cpuinfo"
	Stat      = "proc/stat"
	Uptime    = "proc/uptime"
	Loadavg   = "proc/loadavg"
	Diskstats = "proc/diskstats"
	Swaps     = "proc/swaps"
	Online    = "sys/devices/system/cpu/online"
)

// files is the one list of view files, in the order they are served, mounted and listed.
var files = []File{{Meminfo}, {Cpuinfo}, {Stat}, {Uptime}, {Loadavg}, {Diskstats}, {Swaps}, {Online}}

// Files returns every view file, in order (a new slice each call).
func Files() []File { return slices.Clone(files) }

// Paths returns every view file's path, in order.
func Paths() []string {
	ps := make([]string, len(files))
	for i, f := range files {
		ps[i] = f.Path
	}
	return ps
}

// Lookup finds a view file by its path.
func Lookup(path string) (File, bool) {
	for _, f := range files {
		if f.Path == path {
			return f, true
		}
	}
	return File{}, false
}
