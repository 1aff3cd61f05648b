package render

import (
	"strconv"
	"time"

	"github.com/procview/procview/sidecar/cgroup"
)

// renderDiskstats lists the host's block devices as the kernel does (same devices, order and
// number of columns), each with the container's own counters, zeros where it did no I/O.
// What no cgroup has is 0: merges and times exist only with v1's CFQ/BFQ files
// (blkio.io_merged, blkio.io_service_time, blkio.io_queued), v2 io.stat has none of them but
// has discards (dios, dbytes); flushes and the time spent discarding are counted by none.
// io_ticks and time_in_queue are the service time where there is one.
func renderDiskstats(dst []byte, in Input) ([]byte, error) {
	host := in.Host.DiskStats
	for len(host) > 0 {
		var line []byte
		line, host = nextLine(host)
		majF, rest := nextField(line)
		minF, rest := nextField(rest)
		name, rest := nextField(rest)
		major, err1 := strconv.ParseUint(string(majF), 10, 32)
		minor, err2 := strconv.ParseUint(string(minF), 10, 32)
		if err1 != nil || err2 != nil || len(name) == 0 {
			continue
		}
		cols := 0
		for f, r := nextField(rest); len(f) > 0; f, r = nextField(r) {
			cols++
		}
		var d cgroup.IODevice
		for _, c := range in.Snap.IO {
			if uint64(c.Major) == major && uint64(c.Minor) == minor {
				d = c
				break
			}
		}
		dst = appendPadded(dst, major, 4)
		dst = append(dst, ' ')
		dst = appendPadded(dst, minor, 7)
		dst = append(dst, ' ')
		dst = append(dst, name...)
		ioMS := uint64((d.ReadTime + d.WriteTime) / time.Millisecond)
		vals := [...]uint64{
			d.ReadIOs, d.ReadMerged, d.ReadBytes / 512, uint64(d.ReadTime / time.Millisecond),
			d.WriteIOs, d.WriteMerged, d.WriteBytes / 512, uint64(d.WriteTime / time.Millisecond),
			d.InFlight, ioMS, ioMS,
			d.DiscardIOs, 0, d.DiscardBytes / 512, 0, // discards: ios, merges, sectors, ms
			0, 0, // flushes: no cgroup counts them
		}
		for _, v := range vals[:min(cols, len(vals))] {
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
