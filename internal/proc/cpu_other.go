//go:build !unix

package proc

import "time"

// CPU returns 0: the process's CPU time is not read on this system.
func CPU() time.Duration { return 0 }
