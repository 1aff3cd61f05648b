package render

import (
	"bytes"
	"math/bits"
	"strconv"
)

// renderSwaps keeps the host's swap devices, each scaled to the container's share: sizes add up
// to the container's swap (its limit capped at the host's swap) and its usage is spread over
// them in proportion to size. Only the header is left when the container has no swap.
func renderSwaps(dst []byte, in Input) ([]byte, error) {
	header, devices := nextLine(in.Host.Swaps)
	if len(header) == 0 {
		header = []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority")
	}
	dst = append(dst, header...)
	dst = append(dst, '\n')
	hostTotal := hostSwapsKB(devices)
	total, free := swapValues(in.Snap.Memory, hostTotal)
	if total == 0 {
		return dst, nil
	}
	used := total - free
	var sizeLeft, usedLeft, hostLeft = total, used, hostTotal
	for rest := devices; len(rest) > 0; {
		var line []byte
		line, rest = nextLine(rest)
		size, ok := swapSize(line)
		if !ok {
			continue
		}
		// The last device takes what is left, so the lines add up exactly.
		s, u := sizeLeft, usedLeft
		if size < hostLeft {
			s = mulDiv(size, total, hostTotal)
			u = mulDiv(size, used, hostTotal)
		}
		u = min(u, usedLeft, s)
		sizeLeft, usedLeft, hostLeft = sizeLeft-min(s, sizeLeft), usedLeft-u, hostLeft-min(size, hostLeft)
		dst = appendSwapLine(dst, line, s, u)
	}
	return dst, nil
}

// hostSwapsKB sums the Size column of /proc/swaps lines (saturating).
func hostSwapsKB(devices []byte) uint64 {
	var sum uint64
	for len(devices) > 0 {
		var line []byte
		line, devices = nextLine(devices)
		if size, ok := swapSize(line); ok {
			s, carry := bits.Add64(sum, size, 0)
			if carry != 0 {
				return ^uint64(0)
			}
			sum = s
		}
	}
	return sum
}

// swapSize reads the third field (Size, kB) of a /proc/swaps device line.
func swapSize(line []byte) (uint64, bool) {
	f := bytes.Fields(line)
	if len(f) < 5 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[2]), 10, 64)
	return v, err == nil
}

// appendSwapLine copies a device line with its Size and Used fields replaced, keeping the
// host's spacing.
func appendSwapLine(dst, line []byte, size, used uint64) []byte {
	field := 0
	for i := 0; i < len(line); {
		if line[i] == ' ' || line[i] == '\t' {
			dst = append(dst, line[i])
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		switch field {
		case 2:
			dst = strconv.AppendUint(dst, size, 10)
		case 3:
			dst = strconv.AppendUint(dst, used, 10)
		default:
			dst = append(dst, line[i:j]...)
		}
		field++
		i = j
	}
	return append(dst, '\n')
}

// mulDiv returns a*b/c without overflow, or a when the result would not fit (b > c).
func mulDiv(a, b, c uint64) uint64 {
	if c == 0 {
		return 0
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return a
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}
