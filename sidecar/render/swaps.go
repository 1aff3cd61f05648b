package render

import "strconv"

// renderSwaps lists one virtual swap device sized to the container's swap, as lxcfs does,
// or only the header when it has none.
func renderSwaps(dst []byte, in Input) ([]byte, error) {
	header, _ := nextLine(in.Host.Swaps)
	if len(header) == 0 {
		header = []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority")
	}
	dst = append(dst, header...)
	dst = append(dst, '\n')
	total, free := swapValues(in)
	if total == 0 {
		return dst, nil
	}
	dst = append(dst, "none\t\t\t\t\tvirtual\t\t"...)
	dst = strconv.AppendUint(dst, total, 10)
	dst = append(dst, "\t\t"...)
	dst = strconv.AppendUint(dst, total-free, 10)
	return append(dst, "\t\t0\n"...), nil
}
