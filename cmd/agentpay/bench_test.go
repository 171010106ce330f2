package main

import (
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

// TestBenchWallet runs `agentpay bench --wallet` briefly: payments are
// made over HTTP and then in the service, none held or failed, and each
// run reports a rate.
func TestBenchWallet(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0)) // bench sets serve's
	out := string(runCLI(t, "bench", "--skip-engine", "--skip-http", "--wallet", "--duration", "300ms",
		"--agents", "2", "--concurrency", "4", "--service-callers", "16"))
	for _, run := range []string{`wallet payments over HTTP, 4 concurrent +(\d+) payments .* = +(\d+) payments/s .*\(0 failed\)`,
		`wallet payments in the service, 16 callers +(\d+) payments .* = +(\d+) payments/s +(\d+) µs of CPU each +\(0 held, 0 failed\)`} {
		m := regexp.MustCompile(run).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no line matching %q in:\n%s", run, out)
		}
		for _, v := range m[1:3] {
			if n, _ := strconv.Atoi(v); n <= 0 {
				t.Errorf("%q: a count or rate of %s:\n%s", run, v, out)
			}
		}
	}
}
