package inject

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/procview/procview/internal/podview"
)

// mountView adds the view's mounts to one container, leaving out each file whose path (or a
// parent directory of it, or for a directory a path below it) the container already mounts
// something at, and each file a view directory it gets serves. It returns the names of the
// files it gets and a warning per file left out.
func mountView(c *corev1.Container, files []podview.File) ([]string, []string) {
	names := []string{}
	var left []string
	var mounts []corev1.VolumeMount
	for _, f := range files {
		target := f.Target()
		if by, ok := viewConflict(c, f); ok {
			left = append(left, fmt.Sprintf("%s (volume %q at %s)", target, by.Name, by.MountPath))
			continue
		}
		if servedByDir(c, f, files) {
			names = append(names, f.Name())
			continue
		}
		mounts = append(mounts, corev1.VolumeMount{Name: podview.VolumeName, MountPath: target,
			SubPath: podview.ViewSubPath + "/" + f.Path, ReadOnly: true})
		names = append(names, f.Name())
	}
	var warnings []string
	if len(left) > 0 {
		warnings = append(warnings, fmt.Sprintf("procview: container %q keeps its own %s", c.Name, strings.Join(left, ", ")))
	}
	if len(mounts) == 0 {
		return names, warnings
	}
	if by, ok := mountedAt(c, podview.VolumePath, true); ok {
		warnings = append(warnings, fmt.Sprintf(
			"procview: container %q mounts volume %q at %s, so it does not get %s: its view files will not be re-attached if the sidecar restarts",
			c.Name, by.Name, by.MountPath, podview.VolumePath))
	} else {
		mounts = append(mounts, corev1.VolumeMount{Name: podview.VolumeName, MountPath: podview.VolumePath, ReadOnly: true,
			MountPropagation: ptr.To(corev1.MountPropagationHostToContainer)})
	}
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	return names, warnings
}

// mountedAt finds a mount of another volume at target, or for a file at a parent directory of
// it (other than "/": the user chose what is there), or for a directory below it (ours would hide it).
func mountedAt(c *corev1.Container, target string, dir bool) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if m.Name == podview.VolumeName {
			continue
		}
		p := path.Clean("/" + m.MountPath)
		if p == "/" {
			continue
		}
		if p == target || (!dir && strings.HasPrefix(target, p+"/")) || (dir && strings.HasPrefix(p, target+"/")) {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

// viewConflict finds the container's own mount that keeps a view entry from it: for a file, a
// mount at its target or at a parent directory; for a directory, also one below it: ours would
// hide it, or it would cover part of ours, depending on the runtime's mount order.
func viewConflict(c *corev1.Container, f podview.File) (corev1.VolumeMount, bool) {
	if by, ok := mountedAt(c, f.Target(), false); ok {
		return by, true
	}
	if f.Dir {
		return mountedAt(c, f.Target(), true)
	}
	return corev1.VolumeMount{}, false
}

// servedByDir reports whether f lies in a view directory of files that the container gets
// whole: the directory's mount serves f, and a mount of f on top would only stack another.
func servedByDir(c *corev1.Container, f podview.File, files []podview.File) bool {
	return slices.ContainsFunc(files, func(d podview.File) bool {
		if !d.Contains(f.Path) {
			return false
		}
		_, conflict := viewConflict(c, d)
		return !conflict
	})
}
