package hostfacts

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/procview/procview/sidecar/render"
)

func TestReadThisHost(t *testing.T) {
	h, err := Read("/proc", "/sys", render.HostMemInfo|render.HostOnline)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(h.MemInfo, []byte("MemTotal:")) {
		t.Errorf("MemInfo starts %q", h.MemInfo[:min(20, len(h.MemInfo))])
	}
	if h.Stat != nil || h.CPUInfo != nil {
		t.Error("read files that were not asked for")
	}
	n := 0
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	n = bytes.Count(cpuinfo, []byte("processor\t:"))
	if len(h.Online) != n {
		t.Errorf("Online = %v, /proc/cpuinfo has %d processors", h.Online, n)
	}
}

func TestReadMissing(t *testing.T) {
	_, err := Read(t.TempDir(), t.TempDir(), render.HostStat)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("/stat")) {
		t.Fatalf("err = %v, want one naming the stat file", err)
	}
}

func TestFile(t *testing.T) {
	got, err := File("/proc", "/sys", "sys/devices/system/cpu/online")
	want, _ := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("File = %q, %v; want %q", got, err, want)
	}
}

// TestReadReadsOnlyWhatIsNeeded gives every host file distinct content and checks that each
// need bit fills exactly its own field from its own file.
func TestReadReadsOnlyWhatIsNeeded(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	for _, name := range []string{"meminfo", "cpuinfo", "stat", "diskstats", "swaps"} {
		if err := os.WriteFile(filepath.Join(proc, name), []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(sys, "devices/system/cpu"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sys, "devices/system/cpu/online"), []byte("0-2,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := func(h *render.Host) map[string]string {
		return map[string]string{"meminfo": string(h.MemInfo), "cpuinfo": string(h.CPUInfo), "stat": string(h.Stat),
			"diskstats": string(h.DiskStats), "swaps": string(h.Swaps)}
	}
	for bit, name := range map[render.HostNeed]string{render.HostMemInfo: "meminfo", render.HostCPUInfo: "cpuinfo", render.HostStat: "stat",
		render.HostDiskStats: "diskstats", render.HostSwaps: "swaps"} {
		h, err := Read(proc, sys, bit)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"meminfo": "", "cpuinfo": "", "stat": "", "diskstats": "", "swaps": ""}
		want[name] = "content of " + name
		if diff := cmp.Diff(want, fields(h)); diff != "" || h.Online != nil || h.ClockTick != 100 {
			t.Errorf("need %s: fields (-want +got):\n%s online %v tick %d", name, diff, h.Online, h.ClockTick)
		}
	}
	h, err := Read(proc, sys, render.HostOnline)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 1, 2, 5}, h.Online); diff != "" {
		t.Errorf("Online (-want +got):\n%s", diff)
	}
	os.WriteFile(filepath.Join(sys, "devices/system/cpu/online"), []byte("\n"), 0o644)
	if _, err := Read(proc, sys, render.HostOnline); err == nil || !strings.Contains(err.Error(), "devices/system/cpu/online") {
		t.Errorf("empty online list: err = %v, want one naming the file", err)
	}
}

func FuzzParseOnline(f *testing.F) {
	for _, s := range []string{"0\n", "0-3,8\n", "0-1,1-2", "", "3-1", "-", "0,,1", "99999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cpus, err := ParseOnline(b)
		if err != nil {
			return
		}
		// Valid lists are sorted and unique, and read back the same once written as a list.
		var list []string
		for i, c := range cpus {
			if i > 0 && c <= cpus[i-1] {
				t.Fatalf("ParseOnline(%q) = %v: not sorted and unique", b, cpus)
			}
			list = append(list, strconv.Itoa(c))
		}
		again, err := ParseOnline([]byte(strings.Join(list, ",")))
		if err != nil || !cmp.Equal(cpus, again) {
			t.Fatalf("ParseOnline(%q) = %v, re-read as %v, %v", b, cpus, again, err)
		}
	})
}
