// Package cgroup reads the effective resource view of one container's cgroup(s),
// cgroup v1 or v2, from a cgroup filesystem root that tests can point at fixture trees.
package cgroup

import (
	"errors"
	"math"
	"time"
)

// Unlimited marks a limit that no cgroup on the path sets ("max", or v1's huge default).
const Unlimited = math.MaxUint64

// Need says which parts of a Snapshot a caller wants, so a render reads only those files.
type Need uint32

const (
	NeedMemory   Need = 1 << iota // Memory: limit, usage, memory.stat
	NeedSwap                      // Memory.Swap*: swap limit and usage
	NeedCPULimit                  // CPU.QuotaUS/PeriodUS and CPU.Cpuset
	NeedCPUUsage                  // CPU.User/System/PerCPU
	NeedIO                        // IO
	NeedTasks                     // Tasks (thread states, for loadavg)
	NeedStart                     // Start (container start time)
	NeedSlab                      // Slabinfo (v1 memory.kmem.slabinfo)

	NeedAll = NeedMemory | NeedSwap | NeedCPULimit | NeedCPUUsage | NeedIO | NeedTasks | NeedStart | NeedSlab
)

// Snapshot is the effective view of one container's cgroup at one moment.
// Only the parts asked for with a Need are filled in.
type Snapshot struct {
	Version int    // 1 or 2
	Path    string // the container's cgroup path (v2, or v1's memory hierarchy), e.g. /kubepods/pod<uid>/<id>
	Inode   uint64 // the inode of that cgroup's directory (filled with NeedTasks): its identity
	Memory  Memory
	CPU     CPU
	IO      []IODevice // sorted by Major, Minor
	Tasks   Tasks
	// Start is when the container's oldest process started, as time since boot (CLOCK_BOOTTIME),
	// the same clock /proc/uptime and /proc/<pid>/stat's starttime use.
	Start time.Duration
	// Slabinfo is the memory cgroup's own slabinfo (v1 memory.kmem.slabinfo, as the kernel
	// wrote it), nil where the kernel keeps none: v2, kmem accounting off, or kernels from 5.9
	// on, whose v1 file is empty.
	Slabinfo []byte
}

// Memory holds bytes. Limit and SwapLimit are the smallest set on the path up to the root,
// or Unlimited; renderers cap them at the host's values.
type Memory struct {
	Limit uint64
	Usage uint64 // memory.current (v2) / memory.usage_in_bytes (v1), page cache included
	Stat  MemoryStat

	SwapAccounting bool   // false when the kernel keeps no swap accounting for this cgroup
	SwapLimit      uint64 // swap only (v2 memory.swap.max; v1 memsw limit minus memory limit), or Unlimited
	SwapUsage      uint64 // swap only
}

// MemoryStat holds the memory.stat fields the views use, hierarchical (v1 total_*) where there is a choice.
type MemoryStat struct {
	ActiveAnon, InactiveAnon           uint64
	ActiveFile, InactiveFile           uint64
	Unevictable                        uint64
	Anon, File                         uint64 // v1: rss, cache
	Shmem                              uint64
	Mapped                             uint64 // v2 file_mapped, v1 mapped_file
	Dirty, Writeback                   uint64
	SlabReclaimable, SlabUnreclaimable uint64 // 0 on v1, which has no slab split in memory.stat
	KernelStack, PageTables            uint64
}

// CPU holds the effective CPU limit and the cgroup's CPU time.
type CPU struct {
	// QuotaUS/PeriodUS is the most restrictive CFS quota on the path (smallest quota/period);
	// QuotaUS < 0 means no quota.
	QuotaUS  int64
	PeriodUS uint64
	// Cpuset is the effective set of CPUs, sorted ascending (cpuset.cpus.effective, or the
	// nearest ancestor's cpuset.cpus where a cgroup leaves it empty).
	Cpuset []int

	User, System time.Duration
	// PerCPU is CPU time by host CPU number, where the cgroup version reports it (v1 cpuacct.usage_all);
	// empty on v2, where renderers spread User/System over the visible CPUs.
	PerCPU []CPUTime
}

// CPUTime is the CPU time spent on one host CPU.
type CPUTime struct {
	CPU          int
	User, System time.Duration
}

// IODevice is the cgroup's I/O on one block device.
type IODevice struct {
	Major, Minor          uint32
	ReadBytes, WriteBytes uint64
	ReadIOs, WriteIOs     uint64
	ReadMerged            uint64        // v1 only
	WriteMerged           uint64        // v1 only
	ReadTime, WriteTime   time.Duration // v1 only (blkio.io_service_time)
	InFlight              uint64        // v1 only (blkio.io_queued)
	DiscardBytes          uint64        // v2 only (io.stat dbytes)
	DiscardIOs            uint64        // v2 only (io.stat dios)
}

// Tasks counts the cgroup's threads by state, for /proc/loadavg.
type Tasks struct {
	Total   int // threads
	Running int // state R, not counting the thread reading the view
	Blocked int // state D
	LastPID int // the highest PID in the cgroup
}

// Reader reads Snapshots for processes.
type Reader interface {
	// Read returns the snapshot of the container cgroup that pid belongs to,
	// with the parts in need filled in. Errors name the file that failed.
	Read(pid int, need Need) (*Snapshot, error)
}

// Errors a Reader returns for callers it must not or cannot answer; match with errors.Is.
var (
	// ErrNoProcess: the PID is 0 or no longer exists (or /proc/<pid>/cgroup cannot be read).
	ErrNoProcess = errors.New("no such process")
	// ErrOutOfScope: the process's cgroup is not under the configured scope.
	ErrOutOfScope = errors.New("cgroup outside the served scope")
)
