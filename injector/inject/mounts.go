package inject

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/utils/ptr"

	"github.com/procview/procview/internal/podview"
)

// mountView adds the view's mounts to one container, leaving out each file whose path (or a
// parent directory of it) the container already mounts something at. It returns the names of
// the files mounted and a warning per file left out.
func mountView(c *corev1.Container, files []podview.File) ([]string, []string) {
	names := []string{}
	var left []string
	var mounts []corev1.VolumeMount
	for _, f := range files {
		target := f.Target()
		if by, ok := mountedAt(c, target, false); ok {
			left = append(left, fmt.Sprintf("%s (volume %q at %s)", target, by.Name, by.MountPath))
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
