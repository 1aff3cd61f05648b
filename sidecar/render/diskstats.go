package render

import (
	"bytes"
	"strconv"
	"time"
)

// renderDiskstats lists only the devices the container did I/O on, named as on the host, with
// its own counters (cgroup v2 io.stat has no merges or times: those are 0).
func renderDiskstats(dst []byte, in Input) ([]byte, error) {
	names := map[[2]uint64][]byte{}
	host := in.Host.DiskStats
	for len(host) > 0 {
		var line []byte
		line, host = nextLine(host)
		f := bytes.Fields(line)
		if len(f) < 3 {
			continue
		}
		maj, err1 := strconv.ParseUint(string(f[0]), 10, 32)
		min, err2 := strconv.ParseUint(string(f[1]), 10, 32)
		if err1 == nil && err2 == nil {
			names[[2]uint64{maj, min}] = f[2]
		}
	}
	for _, d := range in.Snap.IO {
		name, ok := names[[2]uint64{uint64(d.Major), uint64(d.Minor)}]
		if !ok {
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
