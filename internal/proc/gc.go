package proc

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// ServerGCPercent is the garbage collector's target (GOGC) a server runs
// with unless the GOGC environment variable sets one.
//
// A payment allocates about 15 KB that dies young (the request's parse,
// the decision, the doc's encoding, the batch's records) while the live
// heap is mostly what the wallet keeps: at Go's default of 100 the
// collector runs each time the heap doubles, which at 1024 concurrent
// callers cost about 6.8 µs of CPU per payment; at 200 about 3.4–3.9, at
// 400 about 2.7–2.9 (runtime/metrics /cpu/classes/gc/total in
// BenchmarkPay, docs/benchmarks.md, "Seventh round"). 200 takes most of
// the gain for a heap up to three times the live data instead of two.
const ServerGCPercent = 200

// ServerGC returns the GC percent a server runs with, given the current
// one: ServerGCPercent, unless the GOGC environment variable sets it
// (then the current one, which the runtime took from there).
func ServerGC(current int) int {
	if _, set := os.LookupEnv("GOGC"); set {
		return current
	}
	return ServerGCPercent
}

// UseServerGC sets the GC percent to ServerGC and, when the process runs
// in a cgroup with a memory limit and GOMEMLIMIT is not set, a soft
// memory limit of three quarters of it, so a larger heap target never
// takes the process past its container's limit (the collector works
// harder near the soft limit instead). It returns a function that
// restores both as they were.
func UseServerGC() (restore func()) {
	old := GCPercent()
	debug.SetGCPercent(ServerGC(old))
	oldLimit := debug.SetMemoryLimit(-1)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		if limit, ok := cgroupMemoryMax(); ok {
			debug.SetMemoryLimit(limit / 4 * 3)
		}
	}
	return func() {
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(oldLimit)
	}
}

// GCPercent returns the garbage collector's current target (GOGC).
func GCPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// cgroupMemoryMax returns the memory limit of the process's cgroup, if
// it has one: cgroup v2's memory.max, else v1's memory.limit_in_bytes.
func cgroupMemoryMax() (int64, bool) {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(f); err == nil {
			return parseMemoryMax(string(b))
		}
	}
	return 0, false
}

// parseMemoryMax reads a cgroup memory limit: bytes, or "max" (v2) or a
// number near 2^63 (v1) for none.
func parseMemoryMax(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= math.MaxInt64/2 {
		return 0, false
	}
	return n, true
}
