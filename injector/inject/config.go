package inject

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/procview/procview/internal/podview"
)

// EnvPrefix is the environment prefix of the injector's settings (envconfig).
const EnvPrefix = "PROCVIEW_INJECTOR"

// Config is what the mutation needs to know; the binary fills it from the environment
// (envconfig, prefix PROCVIEW_INJECTOR) and flags. Parse makes the Settings Inject takes.
type Config struct {
	SidecarImage         string   `envconfig:"SIDECAR_IMAGE" default:"localhost/procview-sidecar:dev" desc:"image of the procview sidecar"`
	SidecarPullPolicy    string   `envconfig:"SIDECAR_PULL_POLICY" default:"IfNotPresent" desc:"imagePullPolicy of the sidecar: Always, IfNotPresent or Never"`
	ExcludedNamespaces   []string `envconfig:"EXCLUDED_NAMESPACES" default:"kube-system,kube-public" desc:"comma-separated namespaces never injected"`
	CPUView              string   `envconfig:"CPU_VIEW" default:"quota" desc:"default CPU view of the sidecar (quota or cpuset); a pod overrides it with procview.dev/cpu-view"`
	SidecarCPURequest    string   `envconfig:"SIDECAR_CPU_REQUEST" default:"10m" desc:"default CPU request of the sidecar (it never gets a CPU limit unless the pod is Guaranteed)"`
	SidecarCPUGuaranteed string   `envconfig:"SIDECAR_CPU_GUARANTEED" default:"100m" desc:"the sidecar's CPU request and limit in Guaranteed pods without a procview.dev/sidecar-cpu annotation (a limit as small as 10m throttles every /proc read and delays the pod's start by tens of seconds)"`
	SidecarCPULimit      string   `envconfig:"SIDECAR_CPU_LIMIT" default:"100m" desc:"the sidecar's CPU limit where a namespace's ResourceQuota or LimitRange requires one and no LimitRange default gives it"`
	SidecarMemRequest    string   `envconfig:"SIDECAR_MEMORY_REQUEST" default:"16Mi" desc:"default memory request of the sidecar (capped by its limit; a pod's procview.dev/sidecar-memory sets both unless procview.dev/sidecar-memory-request is set too)"`
	SidecarMemLimit      string   `envconfig:"SIDECAR_MEMORY_LIMIT" default:"32Mi" desc:"default memory limit of the sidecar"`
	PSADefaultLevel      string   `envconfig:"PSA_DEFAULT_LEVEL" default:"privileged" desc:"the cluster's default Pod Security enforce level (its AdmissionConfiguration's defaults.enforce: privileged, baseline or restricted), used for namespaces without a pod-security.kubernetes.io/enforce label"`
	OwnPodSelector       string   `envconfig:"OWN_POD_SELECTOR" default:"app.kubernetes.io/name=procview-injector" desc:"label selector of the injector's own pods, which are never injected (empty: none)"`
	Version              string   `ignored:"true"` // recorded in the status annotation; set by the binary
}

// DefaultConfig returns the settings' defaults (the same as the envconfig defaults).
func DefaultConfig() Config {
	return Config{
		SidecarImage:         "localhost/procview-sidecar:dev",
		SidecarPullPolicy:    "IfNotPresent",
		ExcludedNamespaces:   []string{"kube-system", "kube-public"},
		CPUView:              "quota",
		SidecarCPURequest:    "10m",
		SidecarCPUGuaranteed: "100m",
		SidecarCPULimit:      "100m",
		SidecarMemRequest:    "16Mi",
		SidecarMemLimit:      "32Mi",
		PSADefaultLevel:      "privileged",
		OwnPodSelector:       "app.kubernetes.io/name=procview-injector",
		Version:              "dev",
	}
}

// minSidecarMemory is the smallest memory limit the sidecar runs in (it caps its Go heap at 12 MiB).
var minSidecarMemory = resource.MustParse("16Mi")

// Settings is a Config once validated, its quantities and selector parsed: what Inject takes.
type Settings struct {
	Config
	cpuRequest, cpuGuaranteed, cpuLimit resource.Quantity
	memRequest, memLimit                resource.Quantity
	ownPods                             labels.Selector // nil: none
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	_, err := c.Parse()
	return err
}

// Parse validates c and parses it, once, for Inject.
func (c Config) Parse() (*Settings, error) {
	s := &Settings{Config: c}
	if strings.TrimSpace(c.SidecarImage) == "" {
		return nil, fmt.Errorf("%s_SIDECAR_IMAGE is empty", EnvPrefix)
	}
	switch c.SidecarPullPolicy {
	case "Always", "IfNotPresent", "Never":
	default:
		return nil, fmt.Errorf("%s_SIDECAR_PULL_POLICY=%q: want Always, IfNotPresent or Never", EnvPrefix, c.SidecarPullPolicy)
	}
	if _, err := podview.ParseCPUView(c.CPUView); err != nil {
		return nil, fmt.Errorf("%s_CPU_VIEW: %w", EnvPrefix, err)
	}
	for _, q := range []struct {
		name  string
		value string
		min   resource.Quantity
		dst   *resource.Quantity
	}{
		{"SIDECAR_CPU_REQUEST", c.SidecarCPURequest, resource.Quantity{}, &s.cpuRequest},
		{"SIDECAR_CPU_GUARANTEED", c.SidecarCPUGuaranteed, resource.Quantity{}, &s.cpuGuaranteed},
		{"SIDECAR_CPU_LIMIT", c.SidecarCPULimit, resource.Quantity{}, &s.cpuLimit},
		{"SIDECAR_MEMORY_REQUEST", c.SidecarMemRequest, resource.Quantity{}, &s.memRequest},
		{"SIDECAR_MEMORY_LIMIT", c.SidecarMemLimit, minSidecarMemory, &s.memLimit},
	} {
		v, err := positiveQuantity(q.value, q.min)
		if err != nil {
			return nil, fmt.Errorf("%s_%s: %w", EnvPrefix, q.name, err)
		}
		*q.dst = v
	}
	switch c.PSADefaultLevel {
	case "privileged", "baseline", "restricted":
	default:
		return nil, fmt.Errorf("%s_PSA_DEFAULT_LEVEL=%q: want privileged, baseline or restricted", EnvPrefix, c.PSADefaultLevel)
	}
	sel, err := labels.Parse(c.OwnPodSelector)
	if err != nil {
		return nil, fmt.Errorf("%s_OWN_POD_SELECTOR=%q: %w", EnvPrefix, c.OwnPodSelector, err)
	}
	if c.OwnPodSelector != "" {
		s.ownPods = sel
	}
	return s, nil
}

// positiveQuantity parses s and checks it is above zero and at least min.
func positiveQuantity(s string, min resource.Quantity) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, fmt.Errorf("%q is not a quantity (e.g. 10m, 32Mi): %w", s, err)
	}
	if q.Sign() <= 0 {
		return q, fmt.Errorf("%q: must be above zero", s)
	}
	if q.Cmp(min) < 0 {
		return q, fmt.Errorf("%q: must be at least %s", s, min.String())
	}
	return q, nil
}
