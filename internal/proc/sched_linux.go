//go:build linux

package proc

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// setPolicy gives every thread of the process the scheduling policy
// policy (unix.SCHED_BATCH or unix.SCHED_OTHER, nice unchanged) and
// returns the number of threads it set. Threads the runtime starts later
// inherit the policy of the thread that starts them, so once every
// thread has it, every later one does; a pass that found a thread not
// yet set is followed by another, in case one was started meanwhile.
func setPolicy(policy uint32) (int, error) {
	set := map[int]bool{}
	for pass := 0; pass < 8; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return len(set), err
		}
		fresh := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || set[tid] {
				continue
			}
			attr, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				continue // the thread has exited
			}
			attr.Policy, attr.Priority = policy, 0
			if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
				if err == unix.ESRCH {
					continue
				}
				return len(set), err
			}
			set[tid] = true
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	return len(set), nil
}

// threadPolicy returns the scheduling policy of thread tid.
func threadPolicy(tid int) (uint32, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, err
	}
	return attr.Policy, nil
}

const (
	policyBatch = unix.SCHED_BATCH
	policyOther = unix.SCHED_NORMAL
)

const batchSupported = true
