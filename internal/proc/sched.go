package proc

import "os"

// UseBatchScheduling puts every thread of the process in the kernel's
// SCHED_BATCH class (on Linux; elsewhere it does nothing) and returns a
// function that puts them back in SCHED_OTHER, and whether it took.
//
// A Go server's threads wake each other all the time: a goroutine made
// ready wakes an idle P's thread, a request's answer wakes its caller's.
// Under SCHED_OTHER each such wakeup may preempt the thread running on
// that CPU, mid-batch and with its caches warm, and on a machine with
// fewer CPUs than runnable threads a preempted thread can sit queued
// behind another while the other CPU idles. SCHED_BATCH is the kernel's
// class for exactly this ("a deterministic scheduling policy without
// interactivity causing extra preemptions between the workload's
// tasks", sched(7)): the threads share the CPUs as before, at the same
// nice level, but a wakeup does not preempt. No privilege is needed.
// On two cores it gave 3–10% more authorized payments a second at the
// same p99 over HTTP (docs/benchmarks.md, "Ninth round").
//
// A process started in another class (chrt, a real-time policy) is left
// in it. serve calls it unless --sched-batch=false (or
// AGENTPAY_SCHED_BATCH=0).
func UseBatchScheduling() (restore func(), ok bool) {
	if !batchSupported {
		return func() {}, false
	}
	if p, err := threadPolicy(os.Getpid()); err != nil || p != policyOther {
		return func() {}, p == policyBatch
	}
	if _, err := setPolicy(policyBatch); err != nil {
		setPolicy(policyOther)
		return func() {}, false
	}
	return func() { setPolicy(policyOther) }, true
}

// BatchSchedulingFromEnv reports whether AGENTPAY_SCHED_BATCH allows
// UseBatchScheduling: unset or anything but "0", "false" and "off".
func BatchSchedulingFromEnv() bool {
	switch os.Getenv("AGENTPAY_SCHED_BATCH") {
	case "0", "false", "off":
		return false
	}
	return true
}
