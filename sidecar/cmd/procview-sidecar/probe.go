package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/procview/procview/sidecar/config"
)

// fuseMagic is FUSE_SUPER_MAGIC: a probe must see the mount, not the empty directory under it.
const fuseMagic = 0x65735546

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

// probe checks that the view at cfg.MountPoint is mounted and answers a read with content.
func probe(cfg config.Serve) error {
	if cfg.MountPoint == "" {
		return fmt.Errorf("%s (--mountpoint) is required", config.EnvMountPoint)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(cfg.MountPoint, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", cfg.MountPoint, err)
	}
	if st.Type != fuseMagic {
		return fmt.Errorf("%s is not mounted yet", cfg.MountPoint)
	}
	name := config.ViewFiles[0]
	if len(cfg.Files) > 0 {
		name = cfg.Files[0]
	}
	p := filepath.Join(cfg.MountPoint, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) == 0 {
		return fmt.Errorf("read %s: empty", p)
	}
	return nil
}
