package inject

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/procview/procview/internal/podview"
)

// Status is the JSON of the procview.dev/status annotation.
type Status struct {
	Version    string              `json:"version"`    // the injector's version
	Container  string              `json:"container"`  // the sidecar's container name
	Image      string              `json:"image"`      // the sidecar's image
	CPUView    string              `json:"cpuView"`    // quota or cpuset
	Files      []string            `json:"files"`      // view files the sidecar serves (short names)
	Containers map[string][]string `json:"containers"` // per container: the files mounted in it
}

// complete handles a pod injected before: containers added since (e.g. by a webhook that ran
// after ours, with reinvocation) get the view; everything else stays as it is.
func complete(pod *corev1.Pod, raw string) (Result, error) {
	var st Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Containers == nil {
		return Result{Pod: pod, Skip: SkipAlreadyInjected,
			Warnings: []string{fmt.Sprintf("procview: %s is not readable; leaving the injected pod as it is", AnnotationStatus)}}, nil
	}
	var files []podview.File
	for _, f := range podview.Files() {
		if slices.Contains(st.Files, f.Name()) {
			files = append(files, f)
		}
	}
	var added []string
	warnings := sidecarFirst(pod)
	for _, c := range appContainers(pod) {
		if _, done := st.Containers[c.Name]; done {
			continue
		}
		names, w := mountView(c, files)
		warnings = append(warnings, w...)
		st.Containers[c.Name] = names
		added = append(added, c.Name)
	}
	if len(added) == 0 && len(warnings) == 0 {
		return Result{Pod: pod, Skip: SkipAlreadyInjected}, nil
	}
	if len(added) == 0 {
		return Result{Pod: pod, Warnings: warnings}, nil
	}
	pod.Annotations[AnnotationStatus] = marshalStatus(st)
	warnings = append(warnings, fmt.Sprintf("procview: added the view to containers created after injection: %s", strings.Join(added, ", ")))
	return Result{Pod: pod, Warnings: warnings}, nil
}

func marshalStatus(st Status) string {
	if st.Files == nil {
		st.Files = []string{}
	}
	for k, v := range st.Containers {
		if v == nil {
			st.Containers[k] = []string{}
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("marshal status: %v", err)) // strings, slices and maps of strings always marshal
	}
	return string(b)
}
