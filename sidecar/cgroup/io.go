package cgroup

import "time"

// The io controller (v1 blkio, v2 io).

func (r *FS) ioV1(s *Snapshot, paths map[string]string) error {
	root, p, err := r.v1Root("blkio", paths)
	if err != nil {
		return err
	}
	devs := map[[2]uint32]*IODevice{}
	dev := func(maj, min uint32) *IODevice {
		k := [2]uint32{maj, min}
		if devs[k] == nil {
			devs[k] = &IODevice{Major: maj, Minor: min}
		}
		return devs[k]
	}
	files := []struct {
		name     string
		required bool
		set      func(d *IODevice, op string, v uint64)
	}{
		{"blkio.throttle.io_service_bytes", true, func(d *IODevice, op string, v uint64) { byOp(op, v, &d.ReadBytes, &d.WriteBytes) }},
		{"blkio.throttle.io_serviced", true, func(d *IODevice, op string, v uint64) { byOp(op, v, &d.ReadIOs, &d.WriteIOs) }},
		// These exist only with the CFQ/BFQ schedulers.
		{"blkio.io_merged", false, func(d *IODevice, op string, v uint64) { byOp(op, v, &d.ReadMerged, &d.WriteMerged) }},
		{"blkio.io_service_time", false, func(d *IODevice, op string, v uint64) { byOp(op, time.Duration(v), &d.ReadTime, &d.WriteTime) }},
		{"blkio.io_queued", false, func(d *IODevice, op string, v uint64) {
			if op == "Total" {
				d.InFlight = v
			}
		}},
	}
	for _, f := range files {
		// Prefer the _recursive file: a container's I/O includes its children's.
		b, err := r.readCgroup(r.paths.join(root, p, f.name+"_recursive"))
		if isNotExist(err) {
			b, err = r.readCgroup(r.paths.join(root, p, f.name))
		}
		if isNotExist(err) && !f.required {
			continue
		}
		if err != nil {
			return err
		}
		parseBlkioV1(b, func(maj, min uint32, op string, v uint64) {
			if op == "Total" && f.name != "blkio.io_queued" {
				return
			}
			f.set(dev(maj, min), op, v)
		})
	}
	s.IO = make([]IODevice, 0, len(devs))
	for _, d := range devs {
		s.IO = append(s.IO, *d)
	}
	sortDevices(s.IO)
	return nil
}

func (r *FS) ioV2(s *Snapshot) error {
	b, err := r.readCgroup(r.fileV2(s, "io.stat"))
	if err != nil {
		return err
	}
	s.IO = parseIOStatV2(b)
	return nil
}

// byOp sets *read or *write to v by a blkio line's operation; other operations are ignored.
func byOp[T uint64 | time.Duration](op string, v T, read, write *T) {
	switch op {
	case "Read":
		*read = v
	case "Write":
		*write = v
	}
}
