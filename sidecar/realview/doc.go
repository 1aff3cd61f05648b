// Package realview holds integration tests only: real tools (procps, glibc, util-linux,
// Python) read a real FUSE view served by this process, bind-mounted over /proc and /sys in a
// private mount namespace, from processes in real cgroups.
package realview
