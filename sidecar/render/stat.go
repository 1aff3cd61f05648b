package render

import (
	"bytes"
	"strconv"
	"time"
)

// renderStat replaces the host's cpu lines with the container's: one line per visible CPU,
// renumbered from 0, from its cgroup CPU time (v1 per-CPU where it fits, otherwise User/System
// spread evenly); idle is the container's lifetime on that CPU minus its use, never negative.
// btime is the host's boot plus the container's start, so now − btime is the container's
// uptime as /proc/uptime shows it; procs_running and procs_blocked count the container's own
// threads (the reader among the running, as the kernel counts it). Other lines are the host's.
func renderStat(dst []byte, in Input) ([]byte, error) {
	visible := VisibleCPUs(in)
	perCPU := perCPUFits(in, visible)
	var sum cpuTime
	for i := range visible {
		c := cpuTimeAt(in, visible, i, perCPU)
		sum = cpuTime{sum.user + c.user, sum.system + c.system, sum.idle + c.idle}
	}
	dst = appendStatCPU(dst, -1, sum)
	for i := range visible {
		dst = appendStatCPU(dst, i, cpuTimeAt(in, visible, i, perCPU))
	}
	host := in.Host.Stat
	for len(host) > 0 {
		var line []byte
		line, host = nextLine(host)
		if bytes.HasPrefix(line, []byte("cpu")) || len(line) == 0 {
			continue
		}
		if v, ok := statLine(line, in); ok {
			dst = append(dst, v...)
			dst = append(dst, '\n')
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return dst, nil
}

// statLine returns the container's value of a /proc/stat line that has one.
func statLine(line []byte, in Input) ([]byte, bool) {
	key, rest := nextField(line)
	var v uint64
	switch string(key) {
	case "btime":
		host, _ := nextField(rest)
		b, err := strconv.ParseUint(string(host), 10, 64)
		if err != nil {
			return nil, false
		}
		v = b + uint64((max(0, in.Now-age(in))+time.Second/2)/time.Second) // nearest second
	case "procs_running":
		t := in.Snap.Tasks
		v = uint64(min(t.Running+1, max(t.Total, 1)))
	case "procs_blocked":
		v = uint64(in.Snap.Tasks.Blocked)
	default:
		return nil, false
	}
	out := append(append([]byte(nil), key...), ' ')
	return strconv.AppendUint(out, v, 10), true
}

type cpuTime struct{ user, system, idle uint64 } // clock ticks

// cpuTimeAt is the time of the i-th visible CPU.
func cpuTimeAt(in Input, visible []int, i int, perCPU bool) cpuTime {
	c := in.Snap.CPU
	var u, s time.Duration
	if perCPU {
		for _, p := range c.PerCPU {
			if p.CPU == visible[i] {
				u, s = p.User, p.System
				break
			}
		}
	} else {
		u, s = c.User/time.Duration(len(visible)), c.System/time.Duration(len(visible))
	}
	life := age(in)
	return cpuTime{
		user:   ticks(int64(u), in.Host.ClockTick),
		system: ticks(int64(s), in.Host.ClockTick),
		idle:   ticks(int64(life-u-s), in.Host.ClockTick),
	}
}

// perCPUFits reports whether per-CPU times can be shown as they are: the cgroup reports them
// (v1) and all its use lies on visible CPUs. Otherwise (v2, or a container that ran on CPUs it
// no longer sees) User/System are spread evenly.
func perCPUFits(in Input, visible []int) bool {
	per := in.Snap.CPU.PerCPU
	if len(per) == 0 {
		return false
	}
	for _, p := range per {
		if p.User+p.System > 0 && !contains(visible, p.CPU) {
			return false
		}
	}
	return true
}

// appendStatCPU writes "cpu  ..." (n < 0) or "cpuN ..." with the kernel's ten columns.
func appendStatCPU(dst []byte, n int, t cpuTime) []byte {
	if n < 0 {
		dst = append(dst, "cpu  "...)
	} else {
		dst = append(dst, "cpu"...)
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, ' ')
	}
	dst = strconv.AppendUint(dst, t.user, 10)
	dst = append(dst, " 0 "...)
	dst = strconv.AppendUint(dst, t.system, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, t.idle, 10)
	return append(dst, " 0 0 0 0 0 0\n"...)
}

// age is how long the container has run: Now minus its start, or Now when the start is unknown.
func age(in Input) time.Duration {
	if s := in.Snap.Start; s > 0 && s <= in.Now {
		return in.Now - s
	}
	return max(in.Now, 0)
}
