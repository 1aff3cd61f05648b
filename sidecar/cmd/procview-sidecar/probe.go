package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/config"
	"github.com/procview/procview/sidecar/fusefs"
)

// probeWait probes every probeEvery until the view answers or wait has passed. As the sidecar's
// postStart hook it holds the app containers back exactly until the view is up, where a
// startupProbe would add up to its period (1 s) to every pod's start.
func probeWait(cfg config.Serve, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := probe(cfg)
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(probeEvery)
	}
}

const probeEvery = 10 * time.Millisecond

// probeFile is the view file that probes read: the first one served.
func probeFile(cfg config.Serve) string {
	if len(cfg.Files) > 0 {
		return cfg.Files[0]
	}
	return podview.Files()[0].Path
}

// probe checks that the view at cfg.MountPoint is mounted and answers a read with content.
func probe(cfg config.Serve) error {
	if cfg.MountPoint == "" {
		return fmt.Errorf("%s (--mountpoint) is required", podview.EnvMountPoint)
	}
	if err := fusefs.CheckMounted(cfg.MountPoint); err != nil {
		return err
	}
	p := filepath.Join(cfg.MountPoint, probeFile(cfg))
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) == 0 {
		return fmt.Errorf("read %s: empty", p)
	}
	return nil
}
