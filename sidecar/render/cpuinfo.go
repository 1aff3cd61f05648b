package render

import (
	"bytes"
	"strconv"
)

// renderCpuinfo keeps the host's entries of the visible CPUs, renumbered from 0, so tools that
// count "processor" lines see the container's CPUs. It knows two layouts:
//   - one blank-line separated block per CPU with a "processor : N" line (x86, arm64, and
//     arm32, whose first block also carries a "Processor : <model>" line), or a
//     "cpu number : N" line (s390, whose other block lists "processor N: ..." lines and
//     "# processors : N");
//   - anything else: the first n blocks are kept, n being the number of visible CPUs, so the
//     count is right even where the layout is not understood.
//
// Blocks without a CPU number (arm32's trailing "Hardware" block, s390's summary) are kept.
func renderCpuinfo(dst []byte, in Input) ([]byte, error) {
	visible := VisibleCPUs(in)
	host := bytes.TrimRight(in.Host.CPUInfo, "\n")
	known := cpuinfoKnown(host)
	kept, renum := 0, 0
	for rest := host; len(rest) > 0; {
		var block []byte
		block, rest = nextBlock(rest)
		if !known {
			if kept < len(visible) {
				dst = appendBlock(dst, block)
				kept++
			}
			continue
		}
		if cpu, ok := blockCPU(block); ok {
			if !contains(visible, cpu) {
				continue
			}
			dst = appendCPUBlock(dst, block, renum, visible)
			renum++
			continue
		}
		dst = appendCPUBlock(dst, block, -1, visible)
	}
	return dst, nil
}

// cpuinfoKnown reports whether any block names its CPU, or any line is s390's "processor N:".
func cpuinfoKnown(host []byte) bool {
	for rest := host; len(rest) > 0; {
		var block []byte
		block, rest = nextBlock(rest)
		if _, ok := blockCPU(block); ok {
			return true
		}
		for b := block; len(b) > 0; {
			var line []byte
			line, b = nextLine(b)
			if _, ok := s390ProcessorLine(line); ok {
				return true
			}
		}
	}
	return false
}

// nextBlock splits b after the first blank line.
func nextBlock(b []byte) (block, rest []byte) {
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		rest = b[i+2:]
		for len(rest) > 0 && rest[0] == '\n' {
			rest = rest[1:]
		}
		return b[:i], rest
	}
	return b, nil
}

func appendBlock(dst, block []byte) []byte {
	dst = append(dst, block...)
	return append(dst, "\n\n"...)
}

// appendCPUBlock copies block, writing n as its CPU number (n < 0: a block without one),
// keeping only visible CPUs' s390 "processor N:" lines (renumbered) and setting
// "# processors" to the visible count.
func appendCPUBlock(dst, block []byte, n int, visible []int) []byte {
	s390 := 0
	for b := block; len(b) > 0; {
		var line []byte
		line, b = nextLine(b)
		key, _, hasColon := bytes.Cut(line, []byte(":"))
		k := string(bytes.TrimSpace(key))
		switch {
		case hasColon && n >= 0 && (k == "processor" || k == "cpu number"):
			dst = append(dst, line[:len(key)+1]...)
			dst = append(dst, ' ')
			dst = strconv.AppendInt(dst, int64(n), 10)
		case hasColon && k == "# processors":
			dst = append(dst, line[:len(key)+1]...)
			dst = append(dst, ' ')
			dst = strconv.AppendInt(dst, int64(len(visible)), 10)
		default:
			if cpu, ok := s390ProcessorLine(line); ok {
				if !contains(visible, cpu) {
					continue
				}
				dst = append(dst, "processor "...)
				dst = strconv.AppendInt(dst, int64(s390), 10)
				dst = append(dst, line[bytes.IndexByte(line, ':'):]...)
				s390++
			} else {
				dst = append(dst, line...)
			}
		}
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

// blockCPU reads N from a block's "processor : N" or "cpu number : N" line.
func blockCPU(block []byte) (int, bool) {
	for len(block) > 0 {
		var line []byte
		line, block = nextLine(block)
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		if k := string(bytes.TrimSpace(key)); k != "processor" && k != "cpu number" {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
		return n, err == nil && n >= 0
	}
	return 0, false
}

// s390ProcessorLine reads N from s390's "processor N: version = ...".
func s390ProcessorLine(line []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("processor "))
	if !ok {
		return 0, false
	}
	num, _, ok := bytes.Cut(rest, []byte(":"))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(num))
	return n, err == nil && n >= 0
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
