package render

import (
	"strconv"
	"time"
)

// renderUptime shows the container's age (not the PID namespace init's, which in a pod with a
// shared PID namespace is the pause container) and its idle CPU time over its visible CPUs.
func renderUptime(dst []byte, in Input) ([]byte, error) {
	life := age(in)
	n := time.Duration(len(VisibleCPUs(in)))
	idle := life*n - in.Snap.CPU.User - in.Snap.CPU.System
	dst = strconv.AppendFloat(dst, max(0, life.Seconds()), 'f', 2, 64)
	dst = append(dst, ' ')
	dst = strconv.AppendFloat(dst, max(0, idle.Seconds()), 'f', 2, 64)
	return append(dst, '\n'), nil
}
