package proc

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestCounters: burning CPU advances CPU, writing a file advances Written
// by at least the bytes written (on Linux, where both are read).
func TestCounters(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("read from /proc and getrusage on Linux")
	}
	c0, w0 := CPU(), Written()
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	if d := CPU() - c0; d < 10*time.Millisecond {
		t.Errorf("50ms of spinning advanced CPU by %v", d)
	}
	f, err := os.Create(t.TempDir() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if d := Written() - w0; d < 1<<20 {
		t.Errorf("writing 1 MiB advanced Written by %d", d)
	}
}

// TestServerProcs: one P more than the current, unless GOMAXPROCS is set
// in the environment; UseServerProcs applies it and returns the old one.
func TestServerProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	if got := ServerProcs(2); got != 3 {
		t.Errorf("ServerProcs(2) = %d, want 3", got)
	}
	before := runtime.GOMAXPROCS(0)
	if old := UseServerProcs(); old != before || runtime.GOMAXPROCS(0) != before+1 {
		t.Errorf("UseServerProcs: returned %d, now %d; want %d and %d", old, runtime.GOMAXPROCS(0), before, before+1)
	}
	runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "2")
	if got := ServerProcs(2); got != 2 {
		t.Errorf("with GOMAXPROCS set, ServerProcs(2) = %d, want 2", got)
	}
}
