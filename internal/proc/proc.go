// Package proc reads what the process used so far, for benchmarks that
// report resources per operation next to wall time (which other load on
// the machine distorts).
package proc

import (
	"os"
	"strconv"
	"strings"
)

// Written returns the bytes the process passed to write system calls so
// far (wchar of /proc/self/io), or 0 where that file does not exist.
func Written() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// MachineCPU is the machine's CPU time so far by what it was spent on
// (the first line of /proc/stat, in clock ticks): Idle counts idle and
// I/O wait, Stolen what a hypervisor gave other guests, Total all of it.
type MachineCPU struct {
	Idle, Stolen, Total uint64
}

// Machine returns the machine's CPU times so far, or zeros where
// /proc/stat does not exist.
func Machine() MachineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseStatCPU(line)
}

// parseStatCPU reads the "cpu" line of /proc/stat: user nice system idle
// iowait irq softirq steal (guest and guest_nice are inside user and nice).
func parseStatCPU(line string) MachineCPU {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return MachineCPU{}
		}
		v[i] = n
	}
	var m MachineCPU
	for _, n := range v {
		m.Total += n
	}
	m.Idle, m.Stolen = v[3]+v[4], v[7]
	return m
}

// Shares returns the idle and stolen shares of the CPU time between m0
// and m (0 when none passed).
func (m MachineCPU) Shares(m0 MachineCPU) (idle, stolen float64) {
	total := m.Total - m0.Total
	if m.Total <= m0.Total {
		return 0, 0
	}
	return float64(m.Idle-m0.Idle) / float64(total), float64(m.Stolen-m0.Stolen) / float64(total)
}
