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
