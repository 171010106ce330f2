package proc

import (
	"os"
	"runtime"
)

// ServerProcs returns the GOMAXPROCS a server runs with, given the
// current one: one more, unless the GOMAXPROCS environment variable sets
// it (then the current one, which the runtime took from there).
//
// The engine's committer, which every write waits for, spends much of
// each batch in system calls (the WAL's writes and fsync). When it comes
// back from one, the runtime needs a free P to run it; with as many Ps as
// CPUs, request work usually holds them all, and the committer (so every
// caller) waits its turn behind it. With one P more the committer runs at
// once and the kernel shares the cores among the threads. Measured in
// docs/benchmarks.md ("Fourth round"): 20–30% more authorized payments a
// second at 256 concurrent callers on two cores, up to 13% at 1024.
func ServerProcs(current int) int {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return current
	}
	return current + 1
}

// UseServerProcs sets GOMAXPROCS to ServerProcs and returns the value it
// replaced.
func UseServerProcs() int {
	return runtime.GOMAXPROCS(ServerProcs(runtime.GOMAXPROCS(0)))
}
