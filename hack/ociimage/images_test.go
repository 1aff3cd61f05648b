package main

// The image archives `make images` writes (hack/images.sh + this tool), read back with
// go-containerregistry both as an OCI layout and as a Docker archive: platform, entrypoint,
// cmd and user (against Dockerfile.sidecar and Dockerfile.injector), labels, the files in the
// image (the binary alone: no shell), size, the binary's ELF machine, and the stamped version
// printed by the binary inside.
//
// By default the test packages binaries it builds itself: the sidecar for amd64 and arm64 exactly
// as `make images` builds it (static, -trimpath; a few seconds), and the injector for this
// machine's architecture with the default build flags, whose dependencies `go vet ./...` (run
// before the tests by test/run-tests.sh) has already compiled, so only the link is new:
// cross-compiling client-go and controller-runtime cold takes 3-6 minutes on 2 cores. To check
// the real output of `make images`, all four archives, set PROCVIEW_IMAGES_DIR=bin/images.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	testVersion  = "v0.0.0-imagetest"
	testRevision = "0123456789abcdef0123456789abcdef01234567"
	testCreated  = "2001-02-03T04:05:06Z"
	testSource   = "https://github.com/procview/procview"
	maxSidecar   = 5 << 20 // bytes: compressed (what a node pulls) and uncompressed (on its disk)
)

var repoRoot = filepath.Join("..", "..")

// archive is one image archive to check.
type archive struct {
	name, arch, path string
	static           bool // the binary must have no ELF interpreter (FROM scratch)
}

// wantImage is what every archive of one image must hold.
type wantImage struct {
	user        string   // config User; empty = root
	versionArgs []string // arguments that make the binary print "procview-NAME VERSION"; nil: none yet
	maxBytes    int64    // 0: no limit
}

var images = map[string]wantImage{
	// The sidecar has no version command yet (sidecar/cmd/procview-sidecar is not part of this
	// change); its version is in its image's labels and tag.
	"sidecar":  {maxBytes: maxSidecar, versionArgs: []string{"version"}},
	"injector": {user: "65532:65532", versionArgs: []string{"version"}},
}

func TestImageArchives(t *testing.T) {
	var archives []archive
	version := testVersion
	if dir := os.Getenv("PROCVIEW_IMAGES_DIR"); dir != "" {
		version = ""
		for _, n := range []string{"sidecar", "injector"} {
			for _, a := range []string{"amd64", "arm64"} {
				archives = append(archives, archive{n, a, filepath.Join(dir, "procview-"+n+"-"+a+".tar"), true})
			}
		}
	} else {
		archives = buildArchives(t)
	}
	for _, a := range archives {
		t.Run(a.name+"-"+a.arch, func(t *testing.T) { checkArchive(t, a, version) })
	}
}

// buildArchives builds the binaries and runs hack/images.sh on them, into a temporary BIN.
func buildArchives(t *testing.T) []archive {
	t.Helper()
	bin := t.TempDir()
	ldflags := "-s -w -X main.version=" + testVersion
	goBuild := func(arch, name string, env []string, flags ...string) {
		out := filepath.Join(bin, "linux-"+arch, "procview-"+name)
		args := append([]string{"build"}, flags...)
		args = append(args, "-ldflags", ldflags, "-o", out, "./"+name+"/cmd/procview-"+name)
		command(t, append(env, "GOOS=linux", "GOARCH="+arch), "go", args...)
	}
	host := runtime.GOARCH
	goBuild("amd64", "sidecar", []string{"CGO_ENABLED=0"}, "-trimpath")
	goBuild("arm64", "sidecar", []string{"CGO_ENABLED=0"}, "-trimpath")
	goBuild(host, "injector", nil)
	env := []string{"BIN=" + bin, "BUILD=0", "VERSION=" + testVersion, "REVISION=" + testRevision,
		"CREATED=" + testCreated, "SOURCE=" + testSource, "IMAGE_REPO=localhost", "LDFLAGS=" + ldflags}
	command(t, append(env, "NAMES=sidecar", "ARCHES=amd64 arm64"), "bash", "hack/images.sh")
	command(t, append(env, "NAMES=injector", "ARCHES="+host), "bash", "hack/images.sh")
	img := func(n, a string, static bool) archive {
		return archive{n, a, filepath.Join(bin, "images", "procview-"+n+"-"+a+".tar"), static}
	}
	return []archive{img("sidecar", "amd64", true), img("sidecar", "arm64", true), img("injector", host, false)}
}

func command(t *testing.T, env []string, cmd string, args ...string) {
	t.Helper()
	c := exec.Command(cmd, args...)
	c.Dir = repoRoot
	c.Env = append(os.Environ(), env...)
	start := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cmd, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s: %v", cmd, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
}

func checkArchive(t *testing.T, a archive, version string) {
	want := images[a.name]
	ociImg, ann := readLayout(t, a.path)
	dockerImg, err := tarball.ImageFromPath(a.path, nil)
	if err != nil {
		t.Fatalf("read %s as a Docker archive: %v", a.path, err)
	}
	cfg, err := ociImg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if version == "" { // given archives: the version is what they say, checked below against the tag and binary
		version = cfg.Config.Labels["org.opencontainers.image.version"]
	}

	// Both readings agree: same config, same layers.
	for _, f := range []func(v1.Image) (any, error){
		func(i v1.Image) (any, error) { return i.ConfigName() },
		func(i v1.Image) (any, error) { return layerDigests(i) },
	} {
		o, err1 := f(ociImg)
		d, err2 := f(dockerImg)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(o, d); diff != "" {
			t.Errorf("OCI layout and Docker manifest.json disagree (-oci +docker):\n%s", diff)
		}
	}

	ref := "localhost/procview-" + a.name + ":" + version
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{annotationContainerdName: tag.Name(), annotationRefName: version}, ann); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	repoTags := dockerRepoTags(t, a.path)
	if diff := cmp.Diff([]string{ref}, repoTags); diff != "" {
		t.Errorf("manifest.json RepoTags (-want +got):\n%s", diff)
	}

	entrypoint, cmd, user := dockerfile(t, "Dockerfile."+a.name)
	type runCfg struct {
		OS, Arch, Variant string
		Entrypoint, Cmd   []string
		User              string
	}
	variant := map[string]string{"arm64": "v8"}[a.arch]
	gotCfg := runCfg{cfg.OS, cfg.Architecture, cfg.Variant, cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.User}
	if diff := cmp.Diff(runCfg{"linux", a.arch, variant, []string{"/procview-" + a.name}, cmd, want.user}, gotCfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(runCfg{"linux", a.arch, variant, entrypoint, cmd, user}, gotCfg); diff != "" {
		t.Errorf("config differs from Dockerfile.%s (-Dockerfile +image):\n%s", a.name, diff)
	}

	labels := cfg.Config.Labels
	for _, k := range []string{"version", "revision", "source", "created", "title"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("label org.opencontainers.image.%s missing (labels %v)", k, labels)
		}
	}
	if os.Getenv("PROCVIEW_IMAGES_DIR") == "" {
		for k, v := range map[string]string{"version": testVersion, "revision": testRevision, "source": testSource, "created": testCreated} {
			if got := labels["org.opencontainers.image."+k]; got != v {
				t.Errorf("label org.opencontainers.image.%s = %q, want %q", k, got, v)
			}
		}
	}

	// The files: the binary alone, executable, no shell.
	files := imageFiles(t, ociImg)
	binPath := "procview-" + a.name
	if diff := cmp.Diff([]string{binPath}, keys(files)); diff != "" {
		t.Errorf("files in the image (-want +got):\n%s", diff)
	}
	if _, ok := files["bin/sh"]; ok {
		t.Error("the image has /bin/sh")
	}
	bin := files[binPath]
	if bin == nil {
		t.Fatalf("no /%s in the image", binPath)
	}
	checkELF(t, bin.data, a)
	if bin.mode&0o111 != 0o111 {
		t.Errorf("/%s mode %o, want executable", binPath, bin.mode)
	}

	if want.maxBytes > 0 {
		size := imageSize(t, ociImg)
		fi, err := os.Stat(a.path)
		if err != nil {
			t.Fatal(err)
		}
		for what, n := range map[string]int64{"compressed (layers + config)": size, "uncompressed binary": int64(len(bin.data)), "archive": fi.Size()} {
			if n >= want.maxBytes {
				t.Errorf("%s image %s: %d bytes, want < %d", a.name, what, n, want.maxBytes)
			}
		}
	}

	if want.versionArgs != nil && a.arch == runtime.GOARCH {
		exe := filepath.Join(t.TempDir(), binPath)
		if err := os.WriteFile(exe, bin.data, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(exe, want.versionArgs...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", binPath, want.versionArgs, err)
		}
		if got, w := string(out), "procview-"+a.name+" "+version+"\n"; got != w {
			t.Errorf("%s %v printed %q, want %q", binPath, want.versionArgs, got, w)
		}
	}
}

// readLayout extracts the archive and reads it as an OCI image layout: its one image and that
// image's annotations in index.json.
func readLayout(t *testing.T, path string) (v1.Image, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(dst, dir+string(filepath.Separator)) {
			t.Fatalf("%s: entry %q leaves the archive", path, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(dst, b, 0o644)
			}
		default:
			err = fmt.Errorf("unexpected entry type %c", h.Typeflag)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("%s as an OCI layout: %v", path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s: index.json has %d manifests, want 1", path, len(im.Manifests))
	}
	d := im.Manifests[0]
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if d.Platform == nil || d.Platform.Architecture != cfg.Architecture || d.Platform.OS != cfg.OS {
		t.Errorf("index.json platform %+v, config %s/%s", d.Platform, cfg.OS, cfg.Architecture)
	}
	return img, d.Annotations
}

func dockerRepoTags(t *testing.T, path string) []string {
	t.Helper()
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatalf("%s: manifest.json: %v", path, err)
	}
	if len(m) != 1 {
		t.Fatalf("%s: manifest.json has %d images, want 1", path, len(m))
	}
	return m[0].RepoTags
}

func layerDigests(img v1.Image) ([]v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// imageSize is what a node pulls: the config and the compressed layers.
func imageSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

type file struct {
	mode int64
	data []byte
}

// imageFiles is the image's flattened file system: regular files and links by path (no
// directories).
func imageFiles(t *testing.T, img v1.Image) map[string]*file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]*file{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("read the image's files: %v", err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "/")] = &file{h.Mode, b}
	}
}

func keys(m map[string]*file) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func checkELF(t *testing.T, data []byte, a archive) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not an ELF binary: %v", a.name, err)
	}
	if want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[a.arch]; f.Machine != want {
		t.Errorf("%s %s: ELF machine %v, want %v", a.name, a.arch, f.Machine, want)
	}
	if !a.static {
		return
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s %s: dynamically linked (has an ELF interpreter); a FROM scratch image needs a static binary", a.name, a.arch)
		}
	}
}

// dockerfile reads ENTRYPOINT, CMD (JSON form) and USER of a Dockerfile at the repository root.
func dockerfile(t *testing.T, file string) (entrypoint, cmd []string, user string) {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		instr, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		var dst *[]string
		switch instr {
		case "ENTRYPOINT":
			dst = &entrypoint
		case "CMD":
			dst = &cmd
		case "USER":
			user = arg
			continue
		default:
			continue
		}
		if err := json.Unmarshal([]byte(arg), dst); err != nil {
			t.Fatalf("%s: %s %s: %v", file, instr, arg, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return entrypoint, cmd, user
}

// TestReproducible: the same inputs give the same archive, byte for byte; another binary or
// label gives another.
func TestReproducible(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("\x7fELF another"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := spec{Binary: bin, Path: "/x", Arch: "arm64", Ref: "localhost/x:1", Entrypoint: []string{"/x"},
		Labels: map[string]string{"a": "b"}, Created: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	write := func(s spec) []byte {
		out := filepath.Join(t.TempDir(), "x.tar")
		if err := writeArchive(s, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := write(base)
	otherBin, otherLabel := base, base
	otherBin.Binary = other
	otherLabel.Labels = map[string]string{"a": "c"}
	for _, tc := range []struct {
		name string
		s    spec
		same bool
	}{
		{"same inputs", base, true},
		{"another binary", otherBin, false},
		{"another label", otherLabel, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bytes.Equal(first, write(tc.s)); got != tc.same {
				t.Errorf("identical archives: %v, want %v", got, tc.same)
			}
		})
	}
}

func TestRunArguments(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.tar")
	good := []string{"-binary", bin, "-path", "/x", "-arch", "amd64", "-ref", "localhost/x:1", "-o", out}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // empty: success
	}{
		{"minimal", good, ""},
		{"labels", append(good, "-label", "a=b", "-label", "c="), ""},
		{"label without =", append(good, "-label", "ab"), `-label "ab": want key=value`},
		{"relative path", append(good, "-path", "x"), `-path "x": want an absolute file path`},
		{"no arch", append(good, "-arch", ""), "-arch is required"},
		{"bad ref", append(good, "-ref", "Bad Ref"), `-ref "Bad Ref"`},
		{"bad time", append(good, "-created", "yesterday"), "-created"},
		{"no output", append(good, "-o", ""), "-o is required"},
		{"missing binary", append(good, "-binary", filepath.Join(dir, "nope")), "no such file"},
		{"stray argument", append(good, "extra"), `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if _, err := tarball.ImageFromPath(out, nil); err != nil {
					t.Errorf("output unreadable: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
