package cgroup

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// The parsers below take a file's bytes and never panic on odd input: the kernel's formats
// change across versions and a fixture or a future kernel may surprise us.

// v1Unlimited: v1 reports "no limit" as a page-aligned value near 2^63.
const v1Unlimited = 1 << 62

// parseLimit parses a single limit value: "max" (v2) or a number; huge v1 values are Unlimited.
func parseLimit(b []byte) (uint64, error) {
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 writes -1 in some files for "no limit".
		if n, err2 := strconv.ParseInt(s, 10, 64); err2 == nil && n < 0 {
			return Unlimited, nil
		}
		return 0, fmt.Errorf("parse limit %q: %w", s, err)
	}
	if v >= v1Unlimited {
		return Unlimited, nil
	}
	return v, nil
}

// parseUint parses one unsigned number with surrounding space.
func parseUint(b []byte) (uint64, error) {
	s := string(bytes.TrimSpace(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse number %q: %w", s, err)
	}
	return v, nil
}

// parseInt parses one signed number with surrounding space (v1 cfs_quota_us is -1 when unset).
func parseInt(b []byte) (int64, error) {
	s := string(bytes.TrimSpace(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse number %q: %w", s, err)
	}
	return v, nil
}

// parseFlatKeyed parses "key value" lines (memory.stat, cpu.stat, cpuacct.stat) and calls
// set for each well-formed line; malformed lines are skipped, as newer kernels add fields.
// key aliases b (no copy per line: memory.stat has ~40 on every open): set may compare it but
// must not keep it.
func parseFlatKeyed(b []byte, set func(key string, v uint64)) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			continue
		}
		if len(k) > 0 {
			set(unsafe.String(&k[0], len(k)), n)
		} else {
			set("", n)
		}
	}
}

// parseCPUMax parses v2 cpu.max: "max 100000" or "50000 100000". quota < 0 means no quota.
func parseCPUMax(b []byte) (quota int64, period uint64, err error) {
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, fmt.Errorf("parse cpu.max %q: want \"QUOTA PERIOD\"", b)
	}
	period = 100000
	if len(f) == 2 {
		if period, err = strconv.ParseUint(f[1], 10, 64); err != nil || period == 0 {
			return 0, 0, fmt.Errorf("parse cpu.max period %q", f[1])
		}
	}
	if f[0] == "max" {
		return -1, period, nil
	}
	q, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || q <= 0 {
		return 0, 0, fmt.Errorf("parse cpu.max quota %q", f[0])
	}
	return q, period, nil
}

// maxCPU bounds CPU numbers in lists so a malformed range cannot allocate without limit.
const maxCPU = 1 << 16

// ParseCPUList parses the kernel's CPU list format ("0-3,7", "" for none) into sorted,
// de-duplicated CPU numbers.
func ParseCPUList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a >= maxCPU {
			return nil, fmt.Errorf("parse cpu list %q: bad cpu %q", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b >= maxCPU {
				return nil, fmt.Errorf("parse cpu list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	sort.Ints(cpus)
	out := cpus[:0]
	for i, c := range cpus {
		if i == 0 || c != cpus[i-1] {
			out = append(out, c)
		}
	}
	return out, nil
}

// parseIOStatV2 parses v2 io.stat lines: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
func parseIOStatV2(b []byte) []IODevice {
	var devs []IODevice
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		if !ok {
			continue
		}
		d := IODevice{Major: maj, Minor: min}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				d.ReadBytes = n
			case "wbytes":
				d.WriteBytes = n
			case "rios":
				d.ReadIOs = n
			case "wios":
				d.WriteIOs = n
			case "dbytes":
				d.DiscardBytes = n
			case "dios":
				d.DiscardIOs = n
			}
		}
		devs = append(devs, d)
	}
	sortDevices(devs)
	return devs
}

// parseBlkioV1 parses a v1 blkio file ("8:0 Read 123" lines, "Total" lines ignored) and
// calls set with the device, the operation (Read, Write, ...) and the value.
func parseBlkioV1(b []byte, set func(maj, min uint32, op string, v uint64)) {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		set(maj, min, f[1], n)
	}
}

func parseDevice(s string) (maj, min uint32, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 10, 32)
	y, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(x), uint32(y), true
}

func sortDevices(devs []IODevice) {
	sort.Slice(devs, func(i, j int) bool {
		if devs[i].Major != devs[j].Major {
			return devs[i].Major < devs[j].Major
		}
		return devs[i].Minor < devs[j].Minor
	})
}

// procStat is what we use of /proc/<pid>/stat.
type procStat struct {
	State     byte
	StartTime uint64 // clock ticks since boot
}

// parseProcStat parses /proc/<pid>/stat. The command name may hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse stat: no ')' in %q", truncate(b))
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("parse stat: too few fields in %q", truncate(b))
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse stat starttime %q: %w", f[19], err)
	}
	return procStat{State: f[0][0], StartTime: st}, nil
}

// parsePIDs parses cgroup.procs: one PID a line.
func parsePIDs(b []byte) []int {
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	return pids
}

// UserHZ is USER_HZ, the unit of the clock ticks in /proc and cgroup v1 files: 100 on every Linux ABI.
const UserHZ = 100

// ticks converts USER_HZ clock ticks to a Duration.
func ticks(n uint64) time.Duration { return time.Duration(n) * (time.Second / UserHZ) }

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// parseLines calls fn with the fields of each line.
func parseLines(b []byte, fn func(fields []string)) {
	for _, line := range strings.Split(string(b), "\n") {
		fn(strings.Fields(line))
	}
}

func atoi(s string) (int, bool) {
	v, err := strconv.Atoi(s)
	return v, err == nil
}

func atou(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// parseProcCgroup parses /proc/<pid>/cgroup ("ID:controllers:path" lines) into v1 controller ->
// path and the v2 (empty controller list) path, as containerd's ParseCgroupFromReaderUnified
// does, without its per-call 4 KiB scanner buffer and per-line splits: it runs on every open.
func parseProcCgroup(b []byte) (v1 map[string]string, unified string, err error) {
	v1 = make(map[string]string, 16)
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		c1 := bytes.IndexByte(line, ':')
		c2 := -1
		if c1 >= 0 {
			c2 = bytes.IndexByte(line[c1+1:], ':')
		}
		if c2 < 0 {
			return nil, unified, fmt.Errorf("invalid cgroup entry: %q", line)
		}
		ctls, p := line[c1+1:c1+1+c2], string(line[c1+2+c2:])
		for {
			var c []byte
			if i := bytes.IndexByte(ctls, ','); i >= 0 {
				c, ctls = ctls[:i], ctls[i+1:]
			} else {
				c, ctls = ctls, nil
			}
			if len(c) == 0 {
				unified = p
			} else {
				v1[string(c)] = p
			}
			if ctls == nil {
				break
			}
		}
	}
	return v1, unified, nil
}
