//go:build e2e

package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// view is what an app container sees through the tools a user would run.
type view struct {
	freeMiB int64  // procps free -m, Mem: total
	nproc   int    // getconf _NPROCESSORS_ONLN (glibc reads /sys/devices/system/cpu/online)
	cpuinfo int    // processor entries in /proc/cpuinfo
	online  string // /sys/devices/system/cpu/online
	uptime  float64
}

func readView(t *testing.T, ns, pod, container string) view {
	t.Helper()
	out := execIn(t, ns, pod, container, "sh", "-c",
		`getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online; cut -d' ' -f1 /proc/uptime`)
	lines := strings.Split(out, "\n")
	if len(lines) != 4 {
		t.Fatalf("%s/%s: unexpected output %q", pod, container, out)
	}
	up, err := strconv.ParseFloat(lines[3], 64)
	if err != nil {
		t.Fatalf("%s/%s: /proc/uptime %q: %v", pod, container, lines[3], err)
	}
	return view{
		freeMiB: freeTotalMiB(t, ns, pod, container),
		nproc:   atoi(t, "getconf _NPROCESSORS_ONLN", lines[0]),
		cpuinfo: atoi(t, "processors in /proc/cpuinfo", lines[1]),
		online:  lines[2],
		uptime:  up,
	}
}

// The seeds' example: `web` with limits memory 256Mi / cpu 500m and the opt-in annotation.
func TestSeedsWebExample(t *testing.T) {
	ns := newNamespace(t, nil)
	web := appContainer("web", "256Mi", "500m")
	web.Resources.Requests = nil // exactly the seeds' spec: limits only
	create(t, ns, newPod("web", []corev1.Container{web}, optIn))
	pod := waitReady(t, ns, "web")
	if !injected(pod) {
		t.Fatalf("pod web has no %s sidecar: the webhook did not inject it", sidecarName)
	}

	t.Run("view", func(t *testing.T) {
		v := readView(t, ns, "web", "web")
		age := time.Since(pod.CreationTimestamp.Time).Seconds() // creationTimestamp is truncated: an upper bound
		if v.freeMiB != 256 {
			t.Errorf("free -m total = %d, want 256", v.freeMiB)
		}
		if v.nproc != 1 {
			t.Errorf("getconf _NPROCESSORS_ONLN = %d, want 1", v.nproc)
		}
		if v.cpuinfo != 1 {
			t.Errorf("/proc/cpuinfo has %d processors, want 1", v.cpuinfo)
		}
		if v.online != "0" {
			t.Errorf("/sys/devices/system/cpu/online = %q, want \"0\"", v.online)
		}
		if v.uptime <= 0 || v.uptime > age {
			t.Errorf("/proc/uptime = %.2f s, want in (0, pod age %.2f s]", v.uptime, age)
		}
		// busybox cat copies with sendfile(2), which the kernel answers from its page cache:
		// as in Alpine and distroless images, it must still show the container's own limit.
		out := execIn(t, ns, "web", "web", "busybox", "cat", "/proc/meminfo", "/sys/devices/system/cpu/online")
		first, _, _ := strings.Cut(out, "\n")
		if strings.Join(strings.Fields(first), " ") != "MemTotal: 262144 kB" || !strings.HasSuffix(out, "\n0") {
			t.Errorf("busybox cat /proc/meminfo /sys/devices/system/cpu/online gave\n%s\nwant MemTotal 262144 kB ... 0", out)
		}
		// The host's numbers, so the comparison above is not vacuous on a small machine.
		if host := hostMemMiB(t); host <= 256 {
			t.Fatalf("host has only %d MiB: the test cannot tell the view from the host", host)
		}
	})

	t.Run("describe", func(t *testing.T) {
		out := kubectl(t, "describe", "pod", "web", "-n", ns)
		for _, want := range []string{
			"Init Containers:\n  " + sidecarName + ":",
			"localhost/procview-sidecar:dev",
			`/proc/meminfo from procview (ro,path="view/proc/meminfo")`,
			`/sys/devices/system/cpu from procview (ro,path="view/sys/devices/system/cpu")`,
			"/var/lib/procview from procview (rw)", // the sidecar's Bidirectional mount ...
			"/var/lib/procview from procview (ro)", // ... and the app's read-only one
			annStatus,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl describe pod web lacks %q\n%s", want, out)
			}
		}
		// kubectl describe does not print lifecycle hooks: the postStart hook that holds the
		// app back until the view answers is checked in the pod itself.
		pod := getPod(t, ns, "web")
		var hook *corev1.Lifecycle
		for _, c := range pod.Spec.InitContainers {
			if c.Name == sidecarName {
				hook = c.Lifecycle
			}
		}
		if hook == nil || hook.PostStart == nil || hook.PostStart.Exec == nil ||
			!strings.HasPrefix(strings.Join(hook.PostStart.Exec.Command, " "), "/procview-sidecar probe --mountpoint /var/lib/procview/view --wait") {
			t.Errorf("sidecar's postStart hook = %+v, want /procview-sidecar probe --mountpoint /var/lib/procview/view --wait ...", hook)
		}
		var st struct {
			Container  string              `json:"container"`
			Files      []string            `json:"files"`
			Containers map[string][]string `json:"containers"`
		}
		if err := json.Unmarshal([]byte(pod.Annotations[annStatus]), &st); err != nil {
			t.Fatalf("%s = %q: %v", annStatus, pod.Annotations[annStatus], err)
		}
		if st.Container != sidecarName || len(st.Files) != 10 || len(st.Containers["web"]) != 10 {
			t.Errorf("%s = %s: want the sidecar %q serving 10 files, all mounted in web", annStatus, pod.Annotations[annStatus], sidecarName)
		}
	})
}

// The same pod without the annotation is left alone and sees the host.
func TestWithoutAnnotationSeesHost(t *testing.T) {
	ns := newNamespace(t, nil)
	create(t, ns, newPod("web", []corev1.Container{appContainer("web", "256Mi", "500m")}))
	pod := waitReady(t, ns, "web")
	if injected(pod) || len(pod.Spec.InitContainers) != 0 {
		t.Fatalf("a pod without %s got init containers %v", annInject, pod.Spec.InitContainers)
	}
	if _, ok := pod.Annotations[annStatus]; ok {
		t.Errorf("a pod without %s got %s", annInject, annStatus)
	}
	v := readView(t, ns, "web", "web")
	if want := hostMemMiB(t); v.freeMiB != want {
		t.Errorf("free -m total = %d, want the host's %d", v.freeMiB, want)
	}
	if want := hostCPUs(t); v.nproc != want {
		t.Errorf("getconf _NPROCESSORS_ONLN = %d, want the host's %d", v.nproc, want)
	}
}

// Two app containers with different limits each see their own; a second pod sees its own.
func TestContainersAndPodsSeeTheirOwn(t *testing.T) {
	if hostCPUs(t) < 2 {
		t.Fatal("needs a host with 2 CPUs or more to tell 1 from 2")
	}
	ns := newNamespace(t, nil)
	create(t, ns, newPod("duo", []corev1.Container{
		appContainer("small", "128Mi", "500m"),
		appContainer("big", "384Mi", "1500m"),
	}, optIn))
	create(t, ns, newPod("solo", []corev1.Container{appContainer("app", "200Mi", "1")}, optIn))
	waitReady(t, ns, "duo")
	waitReady(t, ns, "solo")

	for _, c := range []struct {
		pod, container string
		mem            int64
		cpus           int
	}{
		{"duo", "small", 128, 1},
		{"duo", "big", 384, 2},
		{"solo", "app", 200, 1},
	} {
		v := readView(t, ns, c.pod, c.container)
		if v.freeMiB != c.mem || v.nproc != c.cpus || v.cpuinfo != c.cpus {
			t.Errorf("%s/%s sees free %d MiB, getconf %d, cpuinfo %d; want %d MiB, %d CPUs",
				c.pod, c.container, v.freeMiB, v.nproc, v.cpuinfo, c.mem, c.cpus)
		}
	}
}

// Deleting an injected pod finishes and leaves no FUSE mount on the host, also when the app
// ignores SIGTERM and the grace period runs out.
func TestDeleteLeavesNoMount(t *testing.T) {
	ns := newNamespace(t, nil)
	for _, c := range []struct {
		name    string
		command []string
		grace   int64
	}{
		{"cooperative", nil, 5},
		{"ignores-sigterm", []string{"sh", "-c", `trap "" TERM; while :; do sleep 1; done`}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			grace := c.grace
			create(t, ns, newPod(c.name, []corev1.Container{appContainer("app", "64Mi", "250m", c.command...)}, optIn,
				func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = &grace }))
			pod := waitReady(t, ns, c.name)
			uid := string(pod.UID)
			if len(fuseMountsOf(t, uid)) == 0 {
				t.Fatalf("pod %s is Ready but the host has no FUSE mount of it", c.name)
			}
			start := time.Now()
			if err := deletePod(ns, c.name); err != nil {
				t.Fatalf("delete did not complete: %v", err)
			}
			t.Logf("pod %s deleted in %.1fs (grace %ds)", c.name, time.Since(start).Seconds(), grace)
			if m := fuseMountsOf(t, uid); len(m) != 0 {
				t.Errorf("after deleting pod %s the host still has its FUSE mounts:\n%s", c.name, strings.Join(m, "\n"))
			}
		})
	}
}

// An app container that crashes and is restarted sees the view again.
func TestCrashedAppGetsViewAgain(t *testing.T) {
	ns := newNamespace(t, nil)
	// First run: leave a mark in a volume that outlives the container, then crash.
	app := appContainer("app", "256Mi", "500m", "sh", "-c",
		`if [ -e /scratch/ran ]; then exec sleep infinity; fi; touch /scratch/ran; free -m; exit 3`)
	app.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	create(t, ns, newPod("crashy", []corev1.Container{app}, optIn, func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch",
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}))
	restarted := func(p *corev1.Pod) bool {
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "app" && s.RestartCount >= 1 && s.State.Running != nil {
				return podReady(p)
			}
		}
		return false
	}
	pod := waitPod(t, ns, "crashy", "the app to crash once and run again", restarted)
	if !injected(pod) {
		t.Fatalf("pod crashy has no %s sidecar", sidecarName)
	}
	// What the first run printed: the view was there before the crash too.
	if got := parseFreeTotal(t, kubectl(t, "logs", "crashy", "-n", ns, "-c", "app", "--previous")); got != 256 {
		t.Errorf("before the crash free -m total = %d, want 256", got)
	}
	v := readView(t, ns, "crashy", "app")
	if v.freeMiB != 256 || v.nproc != 1 || v.online != "0" {
		t.Errorf("after the restart: free %d MiB, getconf %d, online %q; want 256, 1, \"0\"", v.freeMiB, v.nproc, v.online)
	}
}

// Pods that must not be injected are left alone, and the client sees why.
func TestLeftAlone(t *testing.T) {
	t.Run("opt-out", func(t *testing.T) {
		ns := newNamespace(t, nil)
		create(t, ns, newPod("out", []corev1.Container{appContainer("app", "64Mi", "250m")}, annotate(annInject, "false")))
		if p := getPod(t, ns, "out"); injected(p) {
			t.Errorf("an opted-out pod was injected")
		}
	})

	t.Run("psa-restricted", func(t *testing.T) {
		ns := newNamespace(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
		no, yes, uid := false, true, int64(65534)
		app := appContainer("app", "64Mi", "250m")
		app.SecurityContext = &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no, RunAsNonRoot: &yes, RunAsUser: &uid,
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}
		stderr := create(t, ns, newPod("restricted", []corev1.Container{app}, optIn))
		if p := getPod(t, ns, "restricted"); injected(p) {
			t.Errorf("a pod in a Pod Security restricted namespace was injected")
		}
		wantWarning(t, stderr, "restricted")
	})

	t.Run("kube-system", func(t *testing.T) {
		const ns, name = "kube-system", "procview-e2e-left-alone"
		kubectlStdin(nil, "delete", "pod", name, "-n", ns, "--ignore-not-found", "--wait=true")
		stderr := create(t, ns, newPod(name, []corev1.Container{appContainer("app", "64Mi", "250m")}, optIn))
		t.Cleanup(func() {
			if err := deletePod(ns, name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		if p := getPod(t, ns, name); injected(p) {
			t.Errorf("a pod in kube-system was injected")
		}
		wantWarning(t, stderr, "kube-system")
	})
}

// wantWarning checks kubectl printed an admission warning from procview that names why.
func wantWarning(t *testing.T, stderr, why string) {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "Warning: ") && strings.Contains(line, "procview") && strings.Contains(line, why) {
			return
		}
	}
	t.Errorf("kubectl showed no procview warning about %q; stderr:\n%s", why, stderr)
}
