package inject

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kelseyhightower/envconfig"
)

// DefaultConfig is what envconfig makes of an empty environment.
func TestDefaultConfigIsEnvconfigs(t *testing.T) {
	var c Config
	if err := envconfig.Process("PROCVIEW_INJECTOR_TEST_UNSET", &c); err != nil {
		t.Fatal(err)
	}
	c.Version = DefaultConfig().Version // set by the binary, not the environment
	if diff := cmp.Diff(DefaultConfig(), c); diff != "" {
		t.Errorf("DefaultConfig differs from envconfig's defaults (-DefaultConfig +envconfig):\n%s", diff)
	}
}

// Parse reports the setting at fault.
func TestParseRejects(t *testing.T) {
	for name, change := range map[string]func(*Config){
		"SIDECAR_IMAGE":          func(c *Config) { c.SidecarImage = " " },
		"SIDECAR_PULL_POLICY":    func(c *Config) { c.SidecarPullPolicy = "Sometimes" },
		"CPU_VIEW":               func(c *Config) { c.CPUView = "cores" },
		"SIDECAR_CPU_REQUEST":    func(c *Config) { c.SidecarCPURequest = "0" },
		"SIDECAR_CPU_GUARANTEED": func(c *Config) { c.SidecarCPUGuaranteed = "x" },
		"SIDECAR_CPU_LIMIT":      func(c *Config) { c.SidecarCPULimit = "-1" },
		"SIDECAR_MEMORY_REQUEST": func(c *Config) { c.SidecarMemRequest = "0" },
		"SIDECAR_MEMORY_LIMIT":   func(c *Config) { c.SidecarMemLimit = "8Mi" },
		"PSA_DEFAULT_LEVEL":      func(c *Config) { c.PSADefaultLevel = "strict" },
		"OWN_POD_SELECTOR":       func(c *Config) { c.OwnPodSelector = "a in (" },
	} {
		c := DefaultConfig()
		change(&c)
		if _, err := c.Parse(); err == nil || !strings.HasPrefix(err.Error(), EnvPrefix+"_"+name) {
			t.Errorf("%s: Parse error %v, want one naming %s_%s", name, err, EnvPrefix, name)
		}
	}
	if _, err := DefaultConfig().Parse(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
