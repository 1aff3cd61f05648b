// Command ociimage writes a single-layer image of one static binary as an image archive, offline
// and without root (no daemon, no registry, no buildah storage):
//
//	ociimage -binary bin/linux-arm64/procview-sidecar -path /procview-sidecar -arch arm64 \
//	  -ref localhost/procview-sidecar:v1.2.3 -entrypoint /procview-sidecar -cmd serve \
//	  -label org.opencontainers.image.version=v1.2.3 -created 2026-01-02T03:04:05Z -o out.tar
//
// The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries
// Docker's manifest.json, the layout `docker save` (25+) and `ctr export` write, so every loader
// reads it: `ctr images import`, `kind load image-archive`, `docker load`, `podman load`,
// `skopeo copy oci-archive:` or `docker-archive:`, `crane push`. The same inputs give the same
// bytes (file times are -created, owner root), so the digest is reproducible.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of the index entry: the image's name for containerd and its tag for OCI tools.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// spec is what goes into one image.
type spec struct {
	Binary     string            // file on this machine
	Path       string            // absolute path of the binary in the image, mode 0755
	Arch       string            // GOARCH: amd64, arm64, ...
	Ref        string            // image name and tag, e.g. localhost/procview-sidecar:dev
	Entrypoint []string          // the image's ENTRYPOINT
	Cmd        []string          // the image's CMD
	User       string            // USER, e.g. 65532:65532; empty: root
	Labels     map[string]string // config labels (org.opencontainers.image.*)
	Created    time.Time         // image creation time and every file's mtime
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %v\n", err)
		os.Exit(1)
	}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	var s spec
	var out, created string
	var entrypoint, cmd, labels listFlag
	fs.StringVar(&s.Binary, "binary", "", "static binary to put in the image")
	fs.StringVar(&s.Path, "path", "", "its absolute path in the image")
	fs.StringVar(&s.Arch, "arch", "", "architecture (GOARCH)")
	fs.StringVar(&s.Ref, "ref", "", "image name:tag recorded in the archive")
	fs.StringVar(&s.User, "user", "", "user (uid[:gid]) the image runs as; empty: root")
	fs.StringVar(&created, "created", "1970-01-01T00:00:00Z", "creation time, RFC 3339 (e.g. the commit's)")
	fs.StringVar(&out, "o", "", "archive to write")
	fs.Var(&entrypoint, "entrypoint", "entrypoint argument (repeat for more)")
	fs.Var(&cmd, "cmd", "cmd argument (repeat for more)")
	fs.Var(&labels, "label", "key=value config label (repeat for more)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	s.Created, s.Entrypoint, s.Cmd = t.UTC(), entrypoint, cmd
	s.Labels = map[string]string{}
	for _, kv := range labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("-label %q: want key=value", kv)
		}
		s.Labels[k] = v
	}
	if out == "" {
		return errors.New("-o is required")
	}
	return writeArchive(s, out)
}

func (s spec) validate() error {
	var errs []error
	if s.Binary == "" {
		errs = append(errs, errors.New("-binary is required"))
	}
	if !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path || s.Path == "/" {
		errs = append(errs, fmt.Errorf("-path %q: want an absolute file path", s.Path))
	}
	if s.Arch == "" {
		errs = append(errs, errors.New("-arch is required"))
	}
	if _, err := name.NewTag(s.Ref, name.WeakValidation); err != nil {
		errs = append(errs, fmt.Errorf("-ref %q: %w", s.Ref, err))
	}
	return errors.Join(errs...)
}

// writeArchive builds the image and writes its archive to out (through a temporary file, so
// out is either complete or untouched).
func writeArchive(s spec, out string) error {
	if err := s.validate(); err != nil {
		return err
	}
	img, err := image(s)
	if err != nil {
		return fmt.Errorf("image of %s: %w", s.Binary, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeLayout(tmp, img, s); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// image is an OCI image of one gzip layer holding the binary, for linux/s.Arch.
func image(s spec) (v1.Image, error) {
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	layerTar, err := fileTar(strings.TrimPrefix(s.Path, "/"), bin, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: s.Created}, CreatedBy: "ociimage: " + s.Path,
	}})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = s.Arch, "linux"
	if s.Arch == "arm64" {
		cfg.Variant = "v8"
	}
	cfg.Created = v1.Time{Time: s.Created}
	cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.User = s.Entrypoint, s.Cmd, s.User
	cfg.Config.Labels = s.Labels
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// fileTar is a tar holding one executable file at name (and its parent directories), owned by
// root, every time set to mtime.
func fileTar(name string, data []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var dirs []string
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return nil, fmt.Errorf("layer tar: %w", err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

// writeLayout writes img as an OCI image layout in a tar, plus Docker's manifest.json naming it
// s.Ref.
func writeLayout(w io.Writer, img v1.Image, s spec) error {
	tag, err := name.NewTag(s.Ref, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("ref %q: %w", s.Ref, err)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	mDigest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("manifest digest: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cDigest, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("config digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1,
			Digest:    mDigest,
			Size:      int64(len(manifest)),
			Annotations: map[string]string{
				annotationContainerdName: tag.Name(),
				annotationRefName:        tag.TagStr(),
			},
			Platform: &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("index.json: %w", err)
	}
	docker := tarball.Manifest{{Config: blobPath(cDigest), RepoTags: []string{s.Ref}}}

	tw := tar.NewWriter(w)
	add := func(name string, data []byte) error {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: s.Created, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: s.Created, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	if err := add(blobPath(cDigest), config); err != nil {
		return err
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("layer %d digest: %w", i, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if err := add(blobPath(d), b); err != nil {
			return err
		}
		docker[0].Layers = append(docker[0].Layers, blobPath(d))
	}
	if err := add(blobPath(mDigest), manifest); err != nil {
		return err
	}
	dockerJSON, err := json.Marshal(docker)
	if err != nil {
		return fmt.Errorf("manifest.json: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", indexJSON},
		{"manifest.json", dockerJSON},
	} {
		if err := add(f.name, f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close tar: %w", err)
	}
	return nil
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
