package hostfacts

import (
	"bytes"
	"os"
	"testing"

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
