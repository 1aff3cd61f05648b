// Package podview is what the injector and the sidecar must agree on: the pod layout the
// injector builds and the sidecar serves in, the sidecar's environment, the CPU-view values and
// the view files. Both binaries import it, so it imports nothing but the standard library.
package podview

import "fmt"

// The pod layout.
const (
	SidecarName   = "procview"           // the sidecar's container name
	VolumeName    = "procview"           // the emptyDir holding the view
	VolumePath    = "/var/lib/procview"  // where every container mounts the volume
	MountPoint    = VolumePath + "/view" // the FUSE mount, a subdirectory (a dead mount at the root would break the sidecar's restart)
	ViewSubPath   = "view"               // MountPoint relative to VolumePath: the subPath prefix of the view files
	SidecarBinary = "/procview-sidecar"  // the binary's path in the sidecar image
)

// FSType is how the view's mount shows in /proc/<pid>/mountinfo ("fuse." + subtype).
const FSType = "fuse.procview"

// EnvPrefix is the environment prefix of every sidecar setting (envconfig).
const EnvPrefix = "PROCVIEW"

// The sidecar's environment variables that the injector sets.
const (
	EnvMountPoint = EnvPrefix + "_MOUNTPOINT"
	EnvCgroupRoot = EnvPrefix + "_CGROUP_ROOT"
	EnvProcRoot   = EnvPrefix + "_PROC_ROOT"
	EnvScope      = EnvPrefix + "_SCOPE"
	EnvCPUView    = EnvPrefix + "_CPU_VIEW"
	EnvFiles      = EnvPrefix + "_FILES"
	EnvReattach   = EnvPrefix + "_REATTACH"
)

// CgroupRootAuto makes the sidecar find the cgroup filesystems itself: /sys/fs/cgroup when it
// shows the host's paths, otherwise (a container's own cgroup view) a private mount of them.
const CgroupRootAuto = "auto"

// ScopePod is the scope value that serves only the sidecar's own pod: the parent of
// the sidecar's own container cgroup.
const ScopePod = "pod"

// CPUView chooses how many CPUs a container sees.
type CPUView string

const (
	// CPUViewQuota: ceil(quota/period), capped by the cpuset (the default).
	CPUViewQuota CPUView = "quota"
	// CPUViewCpuset: the cpuset alone, as lxcfs without --enable-cfs.
	CPUViewCpuset CPUView = "cpuset"
)

// ParseCPUView checks a CPU-view value: the one place the values are validated.
func ParseCPUView(s string) (CPUView, error) {
	switch v := CPUView(s); v {
	case CPUViewQuota, CPUViewCpuset:
		return v, nil
	}
	return "", fmt.Errorf("%q: want %s or %s", s, CPUViewQuota, CPUViewCpuset)
}
