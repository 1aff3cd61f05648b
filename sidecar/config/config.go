// Package config holds the sidecar's settings (envconfig, prefix podview.EnvPrefix); the names
// the injector sets are podview's.
package config

import (
	"fmt"
	"strings"

	"github.com/procview/procview/internal/podview"
)

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
		return fmt.Errorf("%s (--mountpoint) is required", podview.EnvMountPoint)
	}
	if _, err := podview.ParseCPUView(s.CPUView); err != nil {
		return fmt.Errorf("%s=%w", podview.EnvCPUView, err)
	}
	if s.Scope != podview.ScopePod && !strings.HasPrefix(s.Scope, "/") {
		return fmt.Errorf("%s=%q: want %q or an absolute cgroup path", podview.EnvScope, s.Scope, podview.ScopePod)
	}
	return nil
}
