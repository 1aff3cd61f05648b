// Command reader times open+read-to-EOF+close loops on one file, the way `top` or a JVM
// reads /proc/meminfo, and prints one benchstat-compatible line:
//
//	Benchmark<name>/readers=<c> <n> <mean> ns/op <p50> p50-ns <p99> p99-ns
//
// It uses raw syscalls so the numbers are the file system's, not the Go runtime's.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	file := flag.String("file", "/proc/meminfo", "file to read")
	name := flag.String("name", "Meminfo", "benchmark name")
	n := flag.Int("n", 20000, "reads per reader")
	readers := flag.Int("readers", 1, "concurrent readers (threads)")
	warmup := flag.Int("warmup", 200, "untimed reads per reader first")
	flag.Parse()

	samples := make([][]time.Duration, *readers)
	errs := make([]error, *readers)
	var wg sync.WaitGroup
	start := time.Now()
	for r := range *readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			samples[r], errs[r] = loop(*file, *warmup, *n)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, "reader:", err)
			os.Exit(1)
		}
	}
	all := slices.Concat(samples...)
	slices.Sort(all)
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	mean := sum / time.Duration(len(all))
	fmt.Printf("Benchmark%s/readers=%d %d %d ns/op %d p50-ns %d p99-ns %d wall-ns\n",
		*name, *readers, len(all), mean.Nanoseconds(),
		pct(all, 50).Nanoseconds(), pct(all, 99).Nanoseconds(), wall.Nanoseconds())
}

// loop reads file to EOF n times after warmup untimed reads, returning each read's duration.
func loop(file string, warmup, n int) ([]time.Duration, error) {
	buf := make([]byte, 64<<10)
	out := make([]time.Duration, 0, n)
	for i := range warmup + n {
		t0 := time.Now()
		if err := readAll(file, buf); err != nil {
			return nil, err
		}
		if i >= warmup {
			out = append(out, time.Since(t0))
		}
	}
	return out, nil
}

func readAll(file string, buf []byte) error {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer unix.Close(fd)
	total := 0
	for {
		m, err := unix.Read(fd, buf)
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		if m == 0 {
			break
		}
		total += m
	}
	if total == 0 {
		return fmt.Errorf("read %s: empty", file)
	}
	return nil
}

// pct returns the p-th percentile of sorted durations (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}
