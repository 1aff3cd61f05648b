package render

import (
	"strconv"
	"time"
)

// renderDiskstats lists only the devices the container did I/O on, named as on the host, with
// its own counters (cgroup v2 io.stat has no merges or times: those are 0).
func renderDiskstats(dst []byte, in Input) ([]byte, error) {
	for _, d := range in.Snap.IO {
		name := diskName(in.Host.DiskStats, d.Major, d.Minor)
		if name == nil {
			continue
		}
		dst = appendPadded(dst, uint64(d.Major), 4)
		dst = append(dst, ' ')
		dst = appendPadded(dst, uint64(d.Minor), 7)
		dst = append(dst, ' ')
		dst = append(dst, name...)
		ioMS := uint64((d.ReadTime + d.WriteTime) / time.Millisecond)
		for _, v := range []uint64{
			d.ReadIOs, d.ReadMerged, d.ReadBytes / 512, uint64(d.ReadTime / time.Millisecond),
			d.WriteIOs, d.WriteMerged, d.WriteBytes / 512, uint64(d.WriteTime / time.Millisecond),
			d.InFlight, ioMS, ioMS,
			0, 0, 0, 0, 0, 0, // discards and flushes: no cgroup counts them
		} {
			dst = append(dst, ' ')
			dst = strconv.AppendUint(dst, v, 10)
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var num [20]byte
	n := strconv.AppendUint(num[:0], v, 10)
	for i := len(n); i < width; i++ {
		dst = append(dst, ' ')
	}
	return append(dst, n...)
}

// diskName finds the device name of major:minor in the host's diskstats ("   8       0 sda ...").
// The list is short and so is the container's device list: a scan beats building a map.
func diskName(host []byte, major, minor uint32) []byte {
	for len(host) > 0 {
		var line []byte
		line, host = nextLine(host)
		maj, line := nextField(line)
		min, line := nextField(line)
		name, _ := nextField(line)
		if len(name) == 0 || !uintIs(maj, major) || !uintIs(min, minor) {
			continue
		}
		return name
	}
	return nil
}

// nextField returns the first space-separated field of b and what follows it.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	return b[i:j], b[j:]
}

// uintIs reports whether the decimal digits in b spell v.
func uintIs(b []byte, v uint32) bool {
	if len(b) == 0 || len(b) > 10 {
		return false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	return n == uint64(v)
}
