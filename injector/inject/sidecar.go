package inject

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/procview/procview/internal/podview"
)

// probeWait is how long the sidecar's postStart probe waits for the view before the kubelet
// restarts the sidecar. The rest of the pod layout is podview's.
const probeWait = "60s"

// sidecar builds the procview native sidecar, its resources fitted to the namespace's rules.
func sidecar(pod *corev1.Pod, cfg *Settings, o options, files []podview.File, rules Rules) (corev1.Container, []string, error) {
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	want, warnings := wantResources(pod, cfg, o)
	res, w, err := FitResources(want, rules, pod)
	if err != nil {
		return corev1.Container{}, nil, err
	}
	warnings = append(warnings, w...)
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{
		Name:            podview.SidecarName,
		Image:           cfg.SidecarImage,
		ImagePullPolicy: corev1.PullPolicy(cfg.SidecarPullPolicy),
		Command:         []string{podview.SidecarBinary, "serve"},
		Env: []corev1.EnvVar{
			{Name: podview.EnvMountPoint, Value: podview.MountPoint},
			{Name: podview.EnvScope, Value: podview.ScopePod},
			{Name: podview.EnvCPUView, Value: o.cpuView},
			{Name: podview.EnvFiles, Value: strings.Join(paths, ",")},
			{Name: podview.EnvCgroupRoot, Value: podview.CgroupRootAuto},
			{Name: podview.EnvReattach, Value: "true"},
		},
		Resources:     res,
		RestartPolicy: &always,
		VolumeMounts: []corev1.VolumeMount{{Name: podview.VolumeName, MountPath: podview.VolumePath,
			MountPropagation: ptr.To(corev1.MountPropagationBidirectional)}},
		// The kubelet starts the next container once this hook returns: it returns as soon as
		// the view answers (a startupProbe would add up to its period to every pod's start).
		// If the view is not up in time the hook fails and the kubelet restarts the sidecar.
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
			Command: []string{podview.SidecarBinary, "probe", "--mountpoint", podview.MountPoint, "--wait", probeWait}}}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			// Mounting FUSE and the cgroup filesystems, and Bidirectional propagation, need privilege.
			// The explicit user overrides a pod-level runAsNonRoot or runAsUser.
			Privileged:   ptr.To(true),
			RunAsUser:    ptr.To(int64(0)),
			RunAsGroup:   ptr.To(int64(0)),
			RunAsNonRoot: ptr.To(false),
		},
	}, warnings, nil
}
