package render

import (
	"bytes"

	"github.com/procview/procview/sidecar/cgroup"
	"strconv"
	"time"
)

// renderStat replaces the host's cpu lines with the container's: one line per visible CPU,
// renumbered from 0, from its cgroup CPU time (v1 per-CPU where it fits, otherwise spread
// evenly); idle is the container's lifetime on that CPU minus its use. Other lines are the host's.
func renderStat(dst []byte, in Input) ([]byte, error) {
	cpus := cpuTimes(in)
	var sumU, sumS, sumI uint64
	for _, c := range cpus {
		sumU, sumS, sumI = sumU+c.user, sumS+c.system, sumI+c.idle
	}
	dst = appendStatCPU(dst, "cpu  ", sumU, sumS, sumI)
	for i, c := range cpus {
		name := strconv.AppendInt([]byte("cpu"), int64(i), 10)
		dst = appendStatCPU(dst, string(append(name, ' ')), c.user, c.system, c.idle)
	}
	host := in.Host.Stat
	for len(host) > 0 {
		var line []byte
		line, host = nextLine(host)
		if bytes.HasPrefix(line, []byte("cpu")) || len(line) == 0 {
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return dst, nil
}

type cpuTime struct{ user, system, idle uint64 } // clock ticks

func cpuTimes(in Input) []cpuTime {
	visible := VisibleCPUs(in)
	c := in.Snap.CPU
	life := age(in)
	out := make([]cpuTime, len(visible))
	perCPU := perCPUOnVisible(c.PerCPU, visible)
	for i, cpu := range visible {
		var u, s time.Duration
		if perCPU != nil {
			u, s = perCPU[cpu].User, perCPU[cpu].System
		} else {
			u, s = c.User/time.Duration(len(visible)), c.System/time.Duration(len(visible))
		}
		out[i] = cpuTime{
			user:   ticks(int64(u), in.Host.ClockTick),
			system: ticks(int64(s), in.Host.ClockTick),
			idle:   ticks(int64(life-u-s), in.Host.ClockTick),
		}
	}
	return out
}

// perCPUOnVisible indexes per-CPU times by CPU when all the container's use lies on visible
// CPUs; otherwise (its usage ran on CPUs it no longer sees) it returns nil to spread evenly.
func perCPUOnVisible(per []cgroup.CPUTime, visible []int) map[int]cgroup.CPUTime {
	if len(per) == 0 {
		return nil
	}
	seen := make(map[int]bool, len(visible))
	for _, v := range visible {
		seen[v] = true
	}
	out := make(map[int]cgroup.CPUTime, len(per))
	for _, p := range per {
		if !seen[p.CPU] && p.User+p.System > 0 {
			return nil
		}
		out[p.CPU] = p
	}
	return out
}

func appendStatCPU(dst []byte, name string, user, system, idle uint64) []byte {
	dst = append(dst, name...)
	dst = strconv.AppendUint(dst, user, 10)
	dst = append(dst, " 0 "...)
	dst = strconv.AppendUint(dst, system, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, idle, 10)
	return append(dst, " 0 0 0 0 0 0\n"...)
}

// age is how long the container has run: Now minus its start, or Now when the start is unknown.
func age(in Input) time.Duration {
	if s := in.Snap.Start; s > 0 && s <= in.Now {
		return in.Now - s
	}
	return in.Now
}
