package render

import (
	"bytes"
	"strconv"

	"github.com/procview/procview/sidecar/cgroup"
)

// Helpers over the host's files. Host files come from the kernel but are still parsed
// defensively: a bad line is copied or skipped, never a panic.

// nextLine splits b at the first newline; line excludes the newline.
func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// meminfoKey returns "MemTotal" for the line "MemTotal:   123 kB".
func meminfoKey(line []byte) []byte {
	if i := bytes.IndexByte(line, ':'); i > 0 {
		return line[:i]
	}
	return nil
}

// meminfoKB returns the value of key in a meminfo-format file, in kB.
func meminfoKB(b []byte, key string) (uint64, bool) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if string(meminfoKey(line)) != key {
			continue
		}
		f, _ := nextField(line[len(key)+1:])
		v, err := strconv.ParseUint(string(f), 10, 64)
		return v, err == nil
	}
	return 0, false
}

// HasSwap reports whether a meminfo-format file's SwapTotal is above 0 (or unreadable).
func HasSwap(meminfo []byte) bool {
	n, ok := meminfoKB(meminfo, "SwapTotal")
	return !ok || n > 0
}

// appendMeminfoLine writes a line the way the kernel does: "Key:" padded to 16 columns,
// the value right-aligned in 8, then " kB".
func appendMeminfoLine(dst []byte, key []byte, kb uint64) []byte {
	dst = append(dst, key...)
	dst = append(dst, ':')
	for i := len(key) + 1; i < 16; i++ {
		dst = append(dst, ' ')
	}
	var num [20]byte
	n := strconv.AppendUint(num[:0], kb, 10)
	for i := len(n); i < 8; i++ {
		dst = append(dst, ' ')
	}
	dst = append(dst, n...)
	return append(dst, " kB\n"...)
}

// ticks converts nanoseconds to USER_HZ clock ticks.
func ticks(ns int64, clockTick int) uint64 {
	if ns <= 0 {
		return 0
	}
	if clockTick <= 0 {
		clockTick = cgroup.UserHZ
	}
	return uint64(ns / (1e9 / int64(clockTick)))
}
