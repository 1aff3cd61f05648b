package inject

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/sidecar/config"
)

// viewConflict finds the container's own mount that keeps a view path from it: for a file, a
// mount at its target or at a parent directory; for a directory (config.IsDir), also one below
// it: ours would hide it, or it would cover part of ours, depending on the runtime's mount order.
func viewConflict(c *corev1.Container, f file) (corev1.VolumeMount, bool) {
	target := config.TargetPath(f.path)
	if by, ok := mountedAt(c, target, false); ok {
		return by, true
	}
	if config.IsDir(f.path) {
		return mountedAt(c, target, true)
	}
	return corev1.VolumeMount{}, false
}

// servedByDir reports whether f lies in a view directory of files that the container gets
// whole: the directory's mount serves f, and a mount of f on top would only stack another.
func servedByDir(c *corev1.Container, f file, files []file) bool {
	return slices.ContainsFunc(files, func(d file) bool {
		if !config.IsDir(d.path) || !config.Under(f.path, d.path) {
			return false
		}
		_, conflict := viewConflict(c, d)
		return !conflict
	})
}
