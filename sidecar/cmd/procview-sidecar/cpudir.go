package main

import (
	"slices"

	"github.com/procview/procview/sidecar/config"
	"github.com/procview/procview/sidecar/render"
)

// expandDirs replaces a view directory in names (PROCVIEW_FILES) by the rendered files under
// it, and reports whether the directory is served whole. No names means every file and the
// directory.
func expandDirs(names []string) ([]string, bool) {
	if len(names) == 0 {
		return nil, true
	}
	var out []string
	dir := false
	for _, n := range names {
		if !config.IsDir(n) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
			continue
		}
		dir = true
		for _, f := range render.Files() {
			if config.Under(f.Path, n) && !slices.Contains(out, f.Path) {
				out = append(out, f.Path)
			}
		}
	}
	return out, dir
}
