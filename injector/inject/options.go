package inject

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/procview/procview/internal/podview"
)

// options are the pod's choices after its annotations were read.
type options struct {
	files    []podview.File
	cpuView  string
	cpu      resource.Quantity
	memLimit resource.Quantity
	memReq   *resource.Quantity // nil: the default (the limit when procview.dev/sidecar-memory is set)
	pinned   []string           // resource annotations the pod set
}

// readAnnotations validates every procview.dev/ annotation at once, so the error lists all problems.
func readAnnotations(pod *corev1.Pod, cfg *Settings) (options, []string, error) {
	var problems, warnings []string
	o := options{files: podview.Files(), cpuView: cfg.CPUView, cpu: cfg.cpuRequest.DeepCopy(), memLimit: cfg.memLimit.DeepCopy()}
	var err error
	keys := make([]string, 0, len(pod.Annotations))
	for k := range pod.Annotations {
		if strings.HasPrefix(k, annotationPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := pod.Annotations[k]
		switch k {
		case AnnotationInject, AnnotationStatus:
		case AnnotationFiles:
			fs, err := parseFiles(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: %v", k, v, err))
			}
			o.files = fs
		case AnnotationCPUView:
			if _, err := podview.ParseCPUView(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.cpuView = v
		case AnnotationSidecarCPU:
			if o.cpu, err = positiveQuantity(v, resource.Quantity{}); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.pinned = append(o.pinned, k)
		case AnnotationSidecarMemory:
			if o.memLimit, err = positiveQuantity(v, minSidecarMemory); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.pinned = append(o.pinned, k)
		case AnnotationSidecarMemoryRequest:
			q, err := positiveQuantity(v, resource.Quantity{})
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			}
			o.memReq = &q
			o.pinned = append(o.pinned, k)
		default:
			warnings = append(warnings, fmt.Sprintf("procview: unknown annotation %s ignored", k))
		}
	}
	if len(problems) > 0 {
		return o, nil, &InvalidAnnotationError{Problems: problems}
	}
	return o, warnings, nil
}

// parseFiles reads procview.dev/files: "all", names to include, or "-name"s to exclude.
func parseFiles(v string) ([]podview.File, error) {
	all := podview.Files()
	if strings.TrimSpace(v) == "all" {
		return all, nil
	}
	var include, exclude []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		neg := strings.HasPrefix(item, "-")
		name := strings.TrimPrefix(item, "-")
		i := slices.IndexFunc(all, func(f podview.File) bool { return name != "" && (f.Name() == name || f.Path == name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown file %q (known: all, %s; prefix a name with - to exclude it)", item, strings.Join(fileNames(), ","))
		}
		if neg {
			exclude = append(exclude, all[i].Name())
		} else {
			include = append(include, all[i].Name())
		}
	}
	if len(include) > 0 && len(exclude) > 0 {
		return nil, errors.New("mixes files to include and files to exclude (-name)")
	}
	var out []podview.File
	for _, f := range all {
		if (len(include) > 0 && slices.Contains(include, f.Name())) || (len(exclude) > 0 && !slices.Contains(exclude, f.Name())) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("leaves no file to serve (to opt out, set procview.dev/inject: \"false\")")
	}
	return out, nil
}
