package render

import "strconv"

func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// renderLoadavg prints the container's load (kept by a LoadTracker) in the kernel's format:
// "0.50 0.20 0.10 running/threads lastpid". The reader itself is running as it reads, as it
// would be reading the host file.
func renderLoadavg(dst []byte, in Input) ([]byte, error) {
	t := in.Snap.Tasks
	for _, l := range []float64{in.Load.One, in.Load.Five, in.Load.Fifteen} {
		dst = appendLoad(dst, l)
		dst = append(dst, ' ')
	}
	running := min(t.Running+1, max(t.Total, 1))
	dst = strconv.AppendInt(dst, int64(running), 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(max(t.Total, 1)), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(t.LastPID), 10)
	return append(dst, '\n'), nil
}
