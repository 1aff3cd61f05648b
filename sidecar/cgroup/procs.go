package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// readTasks counts thread states and the highest PID over the processes in cgroup.procs.
func (r *FS) readTasks(procsFile string, caller int, need Need, s *Snapshot) error {
	b, err := readFile(procsFile)
	if err != nil {
		return err
	}
	pids := parsePIDs(b)
	var earliest uint64
	haveStart := false
	for _, pid := range pids {
		if need&NeedStart != 0 {
			st, err := r.procStat(filepath.Join(r.opts.ProcRoot, strconv.Itoa(pid), "stat"))
			if err == nil && (!haveStart || st.StartTime < earliest) {
				earliest, haveStart = st.StartTime, true
			}
		}
		if need&NeedTasks != 0 {
			r.countThreads(pid, caller, &s.Tasks)
		}
	}
	if need&NeedStart != 0 && !haveStart {
		// Every listed process exited meanwhile (or the list was empty): the caller itself is in
		// the cgroup, so its start bounds the container's; no stat at all means it is gone too.
		p := filepath.Join(r.opts.ProcRoot, strconv.Itoa(caller), "stat")
		st, err := r.procStat(p)
		if err != nil {
			return fmt.Errorf("no start time in %s: %w: %w", procsFile, ErrNoProcess, err)
		}
		earliest = st.StartTime
	}
	if need&NeedStart != 0 {
		s.Start = ticks(earliest)
	}
	if need&NeedTasks != 0 {
		ino, err := inode(filepath.Dir(procsFile))
		if err != nil {
			return err
		}
		s.Inode = ino
	}
	return nil
}

func (r *FS) procStat(p string) (procStat, error) {
	b, err := readFile(p)
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// countThreads adds pid's threads to t; a process that exits meanwhile is simply not counted.
// The caller thread (the one reading the view) counts as a thread but not by state: it is
// waiting on our answer right now, which would add 1 to every load average it reads.
func (r *FS) countThreads(pid, caller int, t *Tasks) {
	dir := filepath.Join(r.opts.ProcRoot, strconv.Itoa(pid), "task")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := r.procStat(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		t.Total++
		t.LastPID = max(t.LastPID, tid)
		if tid == caller {
			continue
		}
		switch st.State {
		case 'R':
			t.Running++
		case 'D':
			t.Blocked++
		}
	}
}
