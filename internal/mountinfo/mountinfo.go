// Package mountinfo parses /proc/<pid>/mountinfo, for the sidecar (its own stale mounts) and
// initmount (the view's mounts in app containers).
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Mount is one line of /proc/<pid>/mountinfo, reduced to what re-attaching needs.
type Mount struct {
	ID         int
	Parent     int
	Dev        string // "major:minor" of the filesystem; a FUSE mount's minor names its connection in fusectl
	Root       string // path inside the mounted filesystem (for a bind of one file: that file)
	MountPoint string
	FSType     string // e.g. "fuse.procview"
	Source     string
}

// Parse parses /proc/<pid>/mountinfo (proc(5)), keeping the kernel's order.
func Parse(data []byte) ([]Mount, error) {
	var mounts []Mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseMountLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan mountinfo: %w", err)
	}
	return mounts, nil
}

// parseMountLine parses "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func parseMountLine(line string) (Mount, error) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if len(fields) < 6 || sep < 0 || sep+2 >= len(fields) {
		return Mount{}, fmt.Errorf("malformed: %q", line)
	}
	id, err := strconv.Atoi(fields[0])
	if err != nil {
		return Mount{}, fmt.Errorf("mount id %q: %w", fields[0], err)
	}
	parent, err := strconv.Atoi(fields[1])
	if err != nil {
		return Mount{}, fmt.Errorf("parent id %q: %w", fields[1], err)
	}
	return Mount{
		ID:         id,
		Parent:     parent,
		Dev:        fields[2],
		Root:       unescape(fields[3]),
		MountPoint: unescape(fields[4]),
		FSType:     fields[sep+1],
		Source:     unescape(fields[sep+2]),
	}, nil
}

// unescape undoes the kernel's octal escapes (\040 for space, \011, \012, \134) in mountinfo paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Top returns, for each mount point, the mount on top: the one no other mount at the
// same point is stacked on. (File order is not mount order: newer kernels list by mount ID.)
func Top(mounts []Mount) map[string]Mount {
	type at struct {
		point string
		id    int
	}
	covered := make(map[at]bool) // mounts that another mount at the same point is stacked on
	for _, m := range mounts {
		covered[at{m.MountPoint, m.Parent}] = true
	}
	top := make(map[string]Mount, len(mounts))
	for _, m := range mounts {
		if !covered[at{m.MountPoint, m.ID}] {
			top[m.MountPoint] = m
		}
	}
	return top
}
