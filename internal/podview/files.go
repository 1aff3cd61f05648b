package podview

import (
	"path"
	"slices"
	"strings"
)

// File is one entry of the view: a file, or a directory mounted whole.
type File struct {
	// Path is where the entry is relative to the mount point, e.g. "proc/meminfo"; with a
	// leading "/" it is where it is mounted in an app container.
	Path string
	// Dir marks a directory mounted whole; Holds are the files in it the sidecar renders
	// (what else it holds, the sidecar computes or passes through from the host).
	Dir   bool
	Holds []string
}

// Name is the entry's short name, used in annotations and the status: "meminfo", "cpu".
func (f File) Name() string { return path.Base(f.Path) }

// Target is where the entry is mounted in an app container: "/proc/meminfo".
func (f File) Target() string { return "/" + f.Path }

// Contains reports whether view path p lies below directory f (false for a file).
func (f File) Contains(p string) bool { return f.Dir && strings.HasPrefix(p, f.Path+"/") }

// The view files' paths; the sidecar's renderer registry is keyed by them.
const (
	Meminfo   = "proc/meminfo"
	Cpuinfo   = "proc/cpuinfo"
	Stat      = "proc/stat"
	Uptime    = "proc/uptime"
	Loadavg   = "proc/loadavg"
	Diskstats = "proc/diskstats"
	Swaps     = "proc/swaps"
	Online    = CPUDir + "/online"
	Slabinfo  = "proc/slabinfo"
	Possible  = CPUDir + "/possible"
	Present   = CPUDir + "/present"
	Offline   = CPUDir + "/offline"
)

// CPUDir is the one view directory: /sys/devices/system/cpu as the reader's CPUs make it
// (online, possible, present, offline, and cpu0..cpuN-1 only), the rest the host's. It is
// mounted whole because no set of file mounts can take the host's extra cpuN directories away
// (tools count them); it holds the online file, which pods injected before it mount alone.
const CPUDir = "sys/devices/system/cpu"

// files is the one list of the view's entries, in the order they are served, mounted and listed.
var files = []File{
	{Path: Meminfo}, {Path: Cpuinfo}, {Path: Stat}, {Path: Uptime}, {Path: Loadavg},
	{Path: Diskstats}, {Path: Swaps}, {Path: Online}, {Path: Slabinfo},
	{Path: CPUDir, Dir: true, Holds: []string{Online, Possible, Present, Offline}},
}

// Files returns every entry, files and directories, in order (a new slice each call).
func Files() []File {
	out := slices.Clone(files)
	for i := range out {
		out[i].Holds = slices.Clone(out[i].Holds)
	}
	return out
}

// Paths returns every entry's path, in order.
func Paths() []string {
	ps := make([]string, len(files))
	for i, f := range files {
		ps[i] = f.Path
	}
	return ps
}

// Rendered returns the path of every file the sidecar renders, in order, each once: the
// files of the list and those the directories hold.
func Rendered() []string {
	var ps []string
	for _, f := range files {
		for _, p := range append([]string{f.Path}, f.Holds...) {
			if (p != f.Path || !f.Dir) && !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// Lookup finds an entry by its path.
func Lookup(path string) (File, bool) {
	for _, f := range files {
		if f.Path == path {
			f.Holds = slices.Clone(f.Holds)
			return f, true
		}
	}
	return File{}, false
}
