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

// TestServerGC: ServerGCPercent unless GOGC is set in the environment;
// UseServerGC applies it and its restore puts the old setting back.
func TestServerGC(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	if got := ServerGC(100); got != ServerGCPercent {
		t.Errorf("ServerGC(100) = %d, want %d", got, ServerGCPercent)
	}
	before := GCPercent()
	restore := UseServerGC()
	if now := GCPercent(); now != ServerGCPercent {
		t.Errorf("after UseServerGC the GC percent is %d, want %d", now, ServerGCPercent)
	}
	restore()
	if back := GCPercent(); back != before {
		t.Errorf("after restore the GC percent is %d, want %d", back, before)
	}
	t.Setenv("GOGC", "300")
	if got := ServerGC(300); got != 300 {
		t.Errorf("with GOGC set, ServerGC(300) = %d, want 300", got)
	}
}

// TestParseMemoryMax: a byte count is a limit; "max", garbage and
// non-positive values are none.
func TestParseMemoryMax(t *testing.T) {
	for in, want := range map[string]int64{"1073741824\n": 1 << 30, "max\n": 0, "": 0, "-5": 0, "0": 0, "x1": 0,
		"9223372036854775807": 0, "9223372036854771712": 0} {
		got, ok := parseMemoryMax(in)
		if got != want || ok != (want > 0) {
			t.Errorf("parseMemoryMax(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

// TestParseStatCPU: the fields of /proc/stat's cpu line land where they
// belong; anything else reads as zeros; shares are of the time between.
func TestParseStatCPU(t *testing.T) {
	m := parseStatCPU("cpu  100 5 20 300 40 1 2 30 0 0")
	if m != (MachineCPU{Idle: 340, Stolen: 30, Total: 498}) {
		t.Fatalf("parsed %+v", m)
	}
	for _, bad := range []string{"", "cpu 1 2 3", "cpu0 1 2 3 4 5 6 7 8", "cpu a b c d e f g h"} {
		if got := parseStatCPU(bad); got != (MachineCPU{}) {
			t.Errorf("parseStatCPU(%q) = %+v, want zeros", bad, got)
		}
	}
	later := MachineCPU{Idle: 340 + 25, Stolen: 30 + 5, Total: 498 + 100}
	if idle, stolen := later.Shares(m); idle != 0.25 || stolen != 0.05 {
		t.Fatalf("shares %v, %v; want 0.25, 0.05", idle, stolen)
	}
	if idle, stolen := m.Shares(m); idle != 0 || stolen != 0 {
		t.Fatalf("shares of no time: %v, %v", idle, stolen)
	}
	if runtime.GOOS == "linux" && Machine().Total == 0 {
		t.Fatal("Machine read nothing from /proc/stat")
	}
}
