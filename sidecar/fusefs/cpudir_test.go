package fusefs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/cgroup"
	"github.com/procview/procview/sidecar/render"
)

// envCpusetReader gives a reader the cpuset in its CPUSET environment variable (inherited by
// the commands a test script runs); a reader without one is not placed (the host's view).
type envCpusetReader struct{}

func (envCpusetReader) Read(pid int, _ cgroup.Need) (*cgroup.Snapshot, error) {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, cgroup.ErrNoProcess)
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("CPUSET=")); ok {
			set, err := cgroup.ParseCPUList(string(v))
			if err != nil {
				return nil, err
			}
			return &cgroup.Snapshot{Path: "/fake", CPU: cgroup.CPU{QuotaUS: -1, PeriodUS: 100000, Cpuset: set}}, nil
		}
	}
	return nil, fmt.Errorf("pid %d: %w", pid, cgroup.ErrOutOfScope)
}

// fakeSys writes a sysfs with 4 CPUs whose files say which CPU they belong to: cpu0 has no
// online file (as on x86), cpuN/cpufreq links to ../cpufreq/policyN, cpu3 has a root-only file.
func fakeSys(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	cpu := filepath.Join(root, "devices/system/cpu")
	files := map[string]string{"online": "0-3\n", "possible": "0-3\n", "present": "0-3\n", "offline": "\n", "kernel_max": "7\n"}
	for i := range 4 {
		files[fmt.Sprintf("cpu%d/topology/core_id", i)] = fmt.Sprintf("core %d\n", i)
		files[fmt.Sprintf("cpufreq/policy%d/scaling_cur_freq", i)] = fmt.Sprintf("freq %d\n", i)
		if i > 0 {
			files[fmt.Sprintf("cpu%d/online", i)] = "1\n"
		}
	}
	for p, content := range files {
		full := filepath.Join(cpu, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if err := os.Symlink(fmt.Sprintf("../cpufreq/policy%d", i), filepath.Join(cpu, fmt.Sprintf("cpu%d/cpufreq", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cpu, "cpu3/secret"), []byte("x\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	return root
}

// cpuDirFiles are the rendered files the CPU directory holds.
func cpuDirFiles(t *testing.T) []render.File {
	t.Helper()
	dir, _ := podview.Lookup(podview.CPUDir)
	var fs []render.File
	for _, p := range dir.Holds {
		f, ok := render.Lookup(p)
		if !ok {
			t.Fatalf("%s: no renderer", p)
		}
		fs = append(fs, f)
	}
	return fs
}

// The CPU directory per reader: cpuset {1,3} sees cpu0 and cpu1 standing for host CPUs 1 and 3
// (their files, links and permissions), the rendered count files, and the host's other
// entries; cpuset {0} sees host CPU 0's files; an unplaced reader sees the host's directory.
func TestCPUDirPerReader(t *testing.T) {
	dir := mountOpts(t, Options{Reader: envCpusetReader{}, Files: cpuDirFiles(t), SysRoot: fakeSys(t), CPUDir: true})
	cpu := filepath.Join(dir, podview.CPUDir)
	run := func(cpuset, script string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = cpu
		if cpuset != "" {
			cmd.Env = append(os.Environ(), "CPUSET="+cpuset)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cpuset %q: %s: %v\n%s", cpuset, script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	tests := []struct{ cpuset, script, want string }{
		{"1,3", "ls | tr '\\n' ' '", "cpu0 cpu1 cpufreq kernel_max offline online possible present"},
		{"1,3", "cat possible present online offline | tr '\\n' ,", "0-1,0-1,0-1,,"},
		{"1,3", "cat cpu0/topology/core_id cpu1/topology/core_id", "core 1\ncore 3"},
		{"1,3", "readlink cpu1/cpufreq; cat cpu1/cpufreq/scaling_cur_freq", "../cpufreq/policy3\nfreq 3"},
		{"1,3", "ls cpu0 | tr '\\n' ' '; stat -c %a cpu1/secret", "cpufreq online topology 400"},
		{"1,3", "test -e cpu2 || echo no cpu2", "no cpu2"},
		{"0", "ls -d cpu[0-9]*; ls cpu0 | tr '\\n' ' '; cat cpu0/topology/core_id", "cpu0\ncpufreq topology core 0"},
		{"", "ls -d cpu[0-9]* | tr '\\n' ' '; cat online", "cpu0 cpu1 cpu2 cpu3 0-3"},
		{"1,3", "cat cpu1/topology/core_id", "core 3"}, // after the others: nothing cached across readers
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, run(tt.cpuset, tt.script)); diff != "" {
			t.Errorf("cpuset %q: %s (-want +got):\n%s", tt.cpuset, tt.script, diff)
		}
	}
}
