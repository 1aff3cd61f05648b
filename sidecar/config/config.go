// Package config holds the sidecar's settings. The injector imports it for the setting
// names, so this package must stay free of heavy dependencies.
package config

import (
	"fmt"
	"strings"
)

// Prefix is the environment prefix of every sidecar setting (envconfig).
const Prefix = "PROCVIEW"

// Environment variable names, for the injector to set.
const (
	EnvMountPoint = Prefix + "_MOUNTPOINT"
	EnvCgroupRoot = Prefix + "_CGROUP_ROOT"
	EnvProcRoot   = Prefix + "_PROC_ROOT"
	EnvScope      = Prefix + "_SCOPE"
	EnvCPUView    = Prefix + "_CPU_VIEW"
	EnvFiles      = Prefix + "_FILES"
	EnvReattach   = Prefix + "_REATTACH"
	EnvSupervise  = Prefix + "_SUPERVISE"
)

// CgroupRootAuto makes the sidecar find the cgroup filesystems itself: /sys/fs/cgroup when it
// shows the host's paths, otherwise (a container's own cgroup view) a private mount of them.
const CgroupRootAuto = "auto"

// ScopePod is the Scope value that serves only the sidecar's own pod: the parent of
// the sidecar's own container cgroup.
const ScopePod = "pod"

// Serve is the configuration of `procview-sidecar serve` (and `probe`, which uses MountPoint).
type Serve struct {
	MountPoint string   `envconfig:"MOUNTPOINT" desc:"directory to mount the view on (created if its parent exists; must be empty)"`
	CgroupRoot string   `envconfig:"CGROUP_ROOT" default:"auto" desc:"where the cgroup filesystems are mounted (v1: one directory per controller; v2: the unified root); auto = /sys/fs/cgroup if it shows this process's cgroup, else mount them privately under /run/procview/cgroup"`
	ProcRoot   string   `envconfig:"PROC_ROOT" default:"/proc" desc:"procfs of the PID namespace the readers live in"`
	SysRoot    string   `envconfig:"SYS_ROOT" default:"/sys" desc:"sysfs to read the host's online CPUs from"`
	Scope      string   `envconfig:"SCOPE" default:"/" desc:"cgroup path prefix whose processes get their view; \"pod\" = the parent of the sidecar's own cgroup; other readers get the host's own file, nothing of any container"`
	CPUView    string   `envconfig:"CPU_VIEW" default:"quota" desc:"how the CPU count is computed: quota (ceil(quota/period) capped by the cpuset) or cpuset"`
	Files      []string `envconfig:"FILES" desc:"comma-separated view files to serve (default: all), e.g. proc/meminfo,proc/cpuinfo"`
	Supervise  bool     `envconfig:"SUPERVISE" default:"true" desc:"run the FUSE server as a child process (procview-sidecar worker) and restart it at once when it dies after serving; false = serve in this process"`
	Reattach   bool     `envconfig:"REATTACH" default:"false" desc:"after mounting, re-bind the fresh view over stale view mounts in every mount namespace of this PID namespace (a restarted sidecar in a pod)"`
}

// Validate reports the first setting that is not usable.
func (s Serve) Validate() error {
	if s.MountPoint == "" {
		return fmt.Errorf("%s (--mountpoint) is required", EnvMountPoint)
	}
	switch s.CPUView {
	case "quota", "cpuset":
	default:
		return fmt.Errorf("%s=%q: want quota or cpuset", EnvCPUView, s.CPUView)
	}
	if s.Scope != ScopePod && !strings.HasPrefix(s.Scope, "/") {
		return fmt.Errorf("%s=%q: want %q or an absolute cgroup path", EnvScope, s.Scope, ScopePod)
	}
	return nil
}

// ViewFiles lists every file the view can serve, as paths relative to the mount point.
// The same relative path, with a leading "/", is where it is mounted in an app container.
// The renderer registry (sidecar/render) has one entry for each.
var ViewFiles = []string{
	"proc/meminfo",
	"proc/cpuinfo",
	"proc/stat",
	"proc/uptime",
	"proc/loadavg",
	"proc/diskstats",
	"proc/swaps",
	"sys/devices/system/cpu/online",
	"proc/slabinfo",
	CPUDir, // a directory: see CPUDir
}

// TargetPath is where a view file is mounted in an app container: "proc/meminfo" -> "/proc/meminfo".
func TargetPath(file string) string { return "/" + file }
