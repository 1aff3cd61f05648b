package main

import (
	"slices"

	"github.com/procview/procview/internal/podview"
)

// expandDirs replaces a view directory in names (PROCVIEW_FILES) by the rendered files it
// holds, and reports whether the directory is served whole. No names means every file and the
// directory.
func expandDirs(names []string) ([]string, bool) {
	if len(names) == 0 {
		return nil, true
	}
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	dir := false
	for _, n := range names {
		f, ok := podview.Lookup(n)
		if !ok || !f.Dir {
			add(n)
			continue
		}
		dir = true
		for _, p := range f.Holds {
			add(p)
		}
	}
	return out, dir
}
