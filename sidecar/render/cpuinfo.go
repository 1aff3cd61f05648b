package render

import (
	"bytes"
	"strconv"
)

// renderCpuinfo keeps the host's blocks of the visible CPUs, renumbered from 0, so tools that
// count "processor" lines see the container's CPUs. An unknown layout (no "processor : N"
// blocks) is copied unchanged rather than guessed at.
func renderCpuinfo(dst []byte, in Input) ([]byte, error) {
	blocks := bytes.Split(bytes.TrimRight(in.Host.CPUInfo, "\n"), []byte("\n\n"))
	byCPU := make(map[int][]byte, len(blocks))
	var other [][]byte
	for _, b := range blocks {
		if n, ok := processorNumber(b); ok {
			byCPU[n] = b
		} else {
			other = append(other, b)
		}
	}
	if len(byCPU) == 0 {
		return append(dst, in.Host.CPUInfo...), nil
	}
	i := 0
	for _, c := range VisibleCPUs(in) {
		b, ok := byCPU[c]
		if !ok {
			continue
		}
		line, rest := nextLine(b)
		colon := bytes.IndexByte(line, ':')
		dst = append(dst, line[:colon+1]...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, '\n')
		dst = append(dst, rest...)
		dst = append(dst, "\n\n"...)
		i++
	}
	for _, b := range other {
		dst = append(dst, b...)
		dst = append(dst, "\n\n"...)
	}
	return dst, nil
}

// processorNumber reads N from a block whose first line is "processor\t: N".
func processorNumber(block []byte) (int, bool) {
	line, _ := nextLine(block)
	key, val, ok := bytes.Cut(line, []byte(":"))
	if !ok || string(bytes.TrimSpace(key)) != "processor" {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
	return n, err == nil && n >= 0
}
