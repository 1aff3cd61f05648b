// Command procview-sidecar serves a per-container view of /proc files over FUSE.
//
//	procview-sidecar serve --mountpoint DIR   mount the view on DIR and serve it until SIGTERM
//	procview-sidecar worker ...               the FUSE server that serve runs and restarts
//	procview-sidecar probe --mountpoint DIR   exit 0 only when the view at DIR answers
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/kelseyhightower/envconfig"

	"github.com/procview/procview/internal/podview"
	"github.com/procview/procview/sidecar/config"
)

func main() {
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, args) }, funcr.Options{LogTimestamp: true})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, log))
}

// version is stamped by the Makefile (-ldflags -X main.version=...); unstamped builds say "dev".
var version = "dev"

func run(args []string, stdout, stderr io.Writer, log logr.Logger) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "procview-sidecar %s\n", version)
		return 0
	}
	var cfg config.Serve
	if err := envconfig.Process(podview.EnvPrefix, &cfg); err != nil {
		fmt.Fprintf(stderr, "procview-sidecar: %v\n", err)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	case "serve", "worker", "probe":
	default:
		fmt.Fprintf(stderr, "procview-sidecar: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	wait, err := parseFlags(cmd, rest, &cfg, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		return 2
	}
	switch {
	case cmd == "probe":
		err = probeWait(cfg, wait)
	case cmd == "serve" && cfg.Supervise:
		return supervise(cfg.MountPoint, filepath.Join(cfg.MountPoint, probeFile(cfg)), rest, stderr, log)
	case cmd == "worker":
		err = serve(cfg, log, workerReady(log))
	default:
		err = serve(cfg, log, func() {})
	}
	if err != nil {
		fmt.Fprintf(stderr, "procview-sidecar %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// parseFlags lets flags override the environment. It returns probe's --wait.
func parseFlags(cmd string, args []string, cfg *config.Serve, stderr io.Writer) (time.Duration, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var wait time.Duration
	if cmd == "probe" {
		fs.DurationVar(&wait, "wait", 0, "keep probing this long until the view answers")
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	fs.StringVar(&cfg.MountPoint, "mountpoint", cfg.MountPoint, "directory to mount the view on")
	fs.StringVar(&cfg.CgroupRoot, "cgroup-root", cfg.CgroupRoot, "cgroup filesystem root, or auto")
	fs.StringVar(&cfg.ProcRoot, "proc-root", cfg.ProcRoot, "procfs of the readers' PID namespace")
	fs.StringVar(&cfg.SysRoot, "sys-root", cfg.SysRoot, "sysfs")
	fs.StringVar(&cfg.Scope, "scope", cfg.Scope, "cgroup path prefix to serve, or pod")
	fs.StringVar(&cfg.CPUView, "cpu-view", cfg.CPUView, "quota or cpuset")
	files := fs.String("files", strings.Join(cfg.Files, ","), "comma-separated view files (default all)")
	fs.BoolVar(&cfg.Reattach, "reattach", cfg.Reattach, "re-bind the view over stale mounts in this PID namespace")
	fs.BoolVar(&cfg.Supervise, "supervise", cfg.Supervise, "serve from a child process, restarted when it dies")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "procview-sidecar %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 0, errors.New("bad arguments")
	}
	cfg.Files = nil
	if *files != "" {
		cfg.Files = strings.Split(*files, ",")
	}
	return wait, nil
}

func usage(w io.Writer) {
	all := podview.Files()
	var files, dirs []string
	for _, f := range all {
		switch {
		case f.Dir:
			dirs = append(dirs, "the directory "+f.Target())
		case !slices.ContainsFunc(all, func(d podview.File) bool { return d.Contains(f.Path) }):
			files = append(files, f.Target()) // else served as part of its directory
		}
	}
	fmt.Fprintf(w, "procview-sidecar serves %s\nand %s over FUSE, each computed from the cgroup of the process reading it.\n\n",
		strings.Join(files, " "), strings.Join(dirs, ", "))
	fmt.Fprint(w, `Usage:
  procview-sidecar serve --mountpoint DIR [flags]   mount the view on DIR; unmount on SIGTERM/SIGINT
  procview-sidecar worker [flags]                   the FUSE server itself (serve runs it as a child)
  procview-sidecar probe --mountpoint DIR [--wait D] exit 0 only when the view at DIR answers
                                                    (--wait: keep trying for up to D, e.g. 60s)
  procview-sidecar version                          the version of this build
  procview-sidecar help                             this text

Every setting is an environment variable; the flag of the same name (--mountpoint,
--cgroup-root, --proc-root, --sys-root, --scope, --cpu-view, --files, --reattach, --supervise)
overrides it.

`)
	fmt.Fprint(w, settingsTable)
}

// settingsTable is envconfig's table of the settings (config.Serve), written by
// TestSettingsTableIsCurrent (go test -run SettingsTable -update). Calling envconfig.Usagef
// here instead would link text/template, whose use of reflection keeps every exported method
// of the binary's types: 1.1 MB more binary, mapped into every pod's sidecar.
//
//go:embed settings.txt
var settingsTable string
