//go:build linux

package proc

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// threadPolicies returns the scheduling policy of every thread of the
// process, by thread id.
func threadPolicies(t *testing.T) map[int]uint32 {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]uint32{}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			t.Fatalf("task %q", task.Name())
		}
		if p, err := threadPolicy(tid); err == nil {
			out[tid] = p
		}
	}
	return out
}

// newThreads makes the runtime start n more threads (goroutines locked
// to their threads, all running at once) and returns a function that
// lets them go.
func newThreads(n int) (release func()) {
	var started sync.WaitGroup
	stop := make(chan struct{})
	started.Add(n)
	for range n {
		go func() {
			runtime.LockOSThread() // held to the end: the thread exits with the goroutine
			started.Done()
			<-stop
		}()
	}
	started.Wait()
	return func() { close(stop) }
}

// TestUseBatchScheduling: every thread is in SCHED_BATCH after it, those
// the runtime starts afterwards too, and every one is back in SCHED_OTHER
// after restore.
func TestUseBatchScheduling(t *testing.T) {
	if p, err := threadPolicy(os.Getpid()); err != nil || p != policyOther {
		t.Skipf("the test process runs in scheduling class %d (%v), not SCHED_OTHER", p, err)
	}
	if _, err := setPolicy(policyBatch); errors.Is(err, unix.EPERM) {
		setPolicy(policyOther)
		t.Skip("this environment refuses sched_setattr:", err)
	}
	setPolicy(policyOther)

	restore, ok := UseBatchScheduling()
	if !ok {
		t.Fatal("UseBatchScheduling did not take")
	}
	before := threadPolicies(t)
	for tid, p := range before {
		if p != policyBatch {
			t.Errorf("thread %d in class %d after UseBatchScheduling, want SCHED_BATCH (%d)", tid, p, policyBatch)
		}
	}
	release := newThreads(4)
	after := threadPolicies(t)
	fresh := 0
	for tid, p := range after {
		if _, seen := before[tid]; seen {
			continue
		}
		fresh++
		if p != policyBatch {
			t.Errorf("thread %d, started after UseBatchScheduling, in class %d, want SCHED_BATCH", tid, p)
		}
	}
	if fresh == 0 {
		t.Error("no thread was started to check")
	}
	if _, ok := UseBatchScheduling(); !ok {
		t.Error("a second UseBatchScheduling reports it did not take, want it already in SCHED_BATCH")
	}
	restore()
	for tid, p := range threadPolicies(t) {
		if p != policyOther {
			t.Errorf("thread %d in class %d after restore, want SCHED_OTHER", tid, p)
		}
	}
	release()
}
