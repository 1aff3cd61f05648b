package mountinfo

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMountInfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Mount
	}{
		{
			name: "kubelet subPath bind of a FUSE file",
			in: "22 1 0:21 / /proc rw,nosuid - proc proc rw\n" +
				"812 22 0:95 /proc/meminfo /proc/meminfo ro,relatime master:301 - fuse.procview procview ro,user_id=0\n",
			want: []Mount{
				{ID: 22, Parent: 1, Dev: "0:21", Root: "/", MountPoint: "/proc", FSType: "proc", Source: "proc"},
				{ID: 812, Parent: 22, Dev: "0:95", Root: "/proc/meminfo", MountPoint: "/proc/meminfo", FSType: "fuse.procview", Source: "procview"},
			},
		},
		{
			name: "no optional fields, escaped space, blank line",
			in:   "36 35 98:0 /a\\040b /mnt\\040x rw - ext4 /dev/vda rw\n\n",
			want: []Mount{{ID: 36, Parent: 35, Dev: "98:0", Root: "/a b", MountPoint: "/mnt x", FSType: "ext4", Source: "/dev/vda"}},
		},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Parse (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseMountInfoRejectsMalformed(t *testing.T) {
	for _, in := range []string{
		"36 35 98:0 / /mnt rw ext4 /dev/vda rw",  // no separator
		"x 35 98:0 / /mnt rw - ext4 /dev/vda rw", // id not a number
		"36 35 98:0 / /mnt rw -",                 // nothing after the separator
		"36 35",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q): want an error", in)
		}
	}
}

func TestTopMountsFollowsStackingNotFileOrder(t *testing.T) {
	// 3 is stacked on 7 at /proc/meminfo although it is listed first.
	mounts, err := Parse([]byte(
		"1 0 0:1 / /proc rw - proc proc rw\n" +
			"3 7 0:3 /proc/meminfo /proc/meminfo ro - fuse.other other ro\n" +
			"7 1 0:2 /proc/meminfo /proc/meminfo ro - fuse.procview procview ro\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Top(mounts)["/proc/meminfo"].FSType; got != "fuse.other" {
		t.Errorf("top of /proc/meminfo = %q, want fuse.other", got)
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add([]byte("812 22 0:95 /proc/meminfo /proc/meminfo ro,relatime master:301 - fuse.procview procview ro\n"))
	f.Add([]byte("36 35 98:0 /a\\040b /mnt\\04 rw - ext4 /dev/vda rw\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mounts, err := Parse(data)
		if err != nil {
			return
		}
		for _, m := range mounts {
			if m.FSType == "" || m.FSType == "-" && m.Source == "" {
				t.Fatalf("parsed a mount with no type: %+v", m)
			}
		}
	})
}
