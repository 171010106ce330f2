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
