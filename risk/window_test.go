package risk

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock safe for concurrent reads.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

func TestSlidingCounterMinute(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := NewSlidingCounter(time.Minute, 60, 1000, clk.Now)

	if got := c.Sum("agent_1"); got != 0 {
		t.Fatalf("empty sum %d", got)
	}
	for i := range 10 {
		if got := c.Add("agent_1", 1); got != int64(i+1) {
			t.Fatalf("Add #%d returned %d", i+1, got)
		}
		clk.Advance(3 * time.Second) // 10 payments over 30s
	}
	c.Add("agent_2", 5)
	if got := c.Sum("agent_1"); got != 10 {
		t.Fatalf("sum after 30s = %d, want 10", got)
	}
	if got := c.Sum("agent_2"); got != 5 {
		t.Fatalf("other key = %d, want 5", got)
	}
	// t=30s. The first payment (t=0) is still in the window at t=59.999s.
	clk.Advance(29*time.Second + 999*time.Millisecond)
	if got := c.Sum("agent_1"); got != 10 {
		t.Fatalf("sum at 59.999s = %d, want 10", got)
	}
	// Never under-counts; at most one 1s bucket of over-count: at t=60.5s
	// the t=0 payment may still count (straddling bucket), at t=61s it
	// must not.
	clk.Advance(501 * time.Millisecond)
	if got := c.Sum("agent_1"); got != 10 && got != 9 {
		t.Fatalf("sum at 60.5s = %d, want 9 or 10", got)
	}
	clk.Advance(500 * time.Millisecond) // t=61s
	if got := c.Sum("agent_1"); got != 9 {
		t.Fatalf("sum at 61s = %d, want 9", got)
	}
	clk.Advance(15 * time.Second) // t=76s: payments at 0..15s are out
	if got := c.Sum("agent_1"); got != 4 {
		t.Fatalf("sum at 76s = %d, want 4 (payments at 18..27s)", got)
	}
	clk.Advance(time.Hour)
	if got := c.Sum("agent_1"); got != 0 {
		t.Fatalf("sum after an hour = %d", got)
	}
	if got := c.Add("agent_1", 2); got != 2 {
		t.Fatalf("add after idle = %d", got)
	}
	// A clock that steps back counts into the newest bucket.
	clk.Advance(-10 * time.Second)
	if got := c.Add("agent_1", 1); got != 3 {
		t.Fatalf("add after clock step back = %d", got)
	}
}

// TestSlidingCounterExact compares against a brute-force window.
func TestSlidingCounterExact(t *testing.T) {
	start := time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)
	clk := newFakeClock(start)
	c := NewSlidingCounter(time.Minute, 12, 100, clk.Now)
	var events []time.Time
	bucket := 5 * time.Second
	for i := range 500 {
		clk.Advance(time.Duration(i%7) * 900 * time.Millisecond)
		now := clk.Now()
		if i%3 != 0 {
			c.Add("k", 1)
			events = append(events, now)
		}
		exact, loose := 0, 0
		for _, e := range events {
			if now.Sub(e) < time.Minute {
				exact++
			}
			if now.Sub(e) < time.Minute+bucket {
				loose++
			}
		}
		got := c.Sum("k")
		if got < int64(exact) || got > int64(loose) {
			t.Fatalf("step %d at %s: sum %d outside [%d, %d]", i, now, got, exact, loose)
		}
	}
}

func TestDailyCounterUTCDay(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 1, 23, 59, 58, 0, time.UTC))
	c := NewDailyCounter(1000, clk.Now)
	key := "wallet_1/merchant_1"
	c.Add(key, 30000)
	if got := c.Add(key, 15000); got != 45000 {
		t.Fatalf("sum = %d", got)
	}
	clk.Advance(1999 * time.Millisecond) // 23:59:59.999
	if got := c.Sum(key); got != 45000 {
		t.Fatalf("sum before midnight = %d", got)
	}
	clk.Advance(time.Millisecond) // 00:00:00 UTC
	if got := c.Sum(key); got != 0 {
		t.Fatalf("sum at midnight = %d, want 0", got)
	}
	if got := c.Add(key, 700); got != 700 {
		t.Fatalf("first add of the day = %d", got)
	}
	// The day is UTC, whatever the clock's location.
	loc := time.FixedZone("UTC+10", 10*3600)
	clk2 := newFakeClock(time.Date(2026, 3, 2, 9, 59, 0, 0, loc)) // 23:59 UTC on 1 March
	c2 := NewDailyCounter(1000, func() time.Time { return clk2.Now().In(loc) })
	c2.Add(key, 5)
	clk2.Advance(59 * time.Second)
	if got := c2.Sum(key); got != 5 {
		t.Fatalf("sum at 23:59:59 UTC = %d, want 5", got)
	}
	clk2.Advance(time.Second) // 10:00 in UTC+10, 00:00 UTC
	if got := c2.Sum(key); got != 0 {
		t.Fatalf("sum at 00:00 UTC = %d, want 0", got)
	}
	// A clock stepping back a day keeps counting into the newer day
	// (over-counts rather than forgetting).
	clk.Advance(-24 * time.Hour)
	if got := c.Add(key, 1); got != 701 {
		t.Fatalf("add after clock step back = %d, want 701", got)
	}
	clk.Advance(24 * time.Hour)
	clk.Advance(48 * time.Hour)
	if got := c.Sum(key); got != 0 {
		t.Fatalf("sum two days later = %d", got)
	}
}

func TestCountersEvictIdleKeys(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := NewSlidingCounter(time.Minute, 6, 1<<20, clk.Now)
	d := NewDailyCounter(1<<20, clk.Now)
	for round := range 20 {
		for i := range 1000 {
			key := fmt.Sprintf("r%d-k%d", round, i)
			s.Add(key, 1)
			d.Add(key, 1)
		}
		clk.Advance(25 * time.Hour) // everything idle for both counters
	}
	// Only recent rounds survive: sweeps run as shards double.
	if n := s.Len(); n > 4000 {
		t.Errorf("sliding counter holds %d keys", n)
	}
	if n := d.Len(); n > 4000 {
		t.Errorf("daily counter holds %d keys", n)
	}
}

func TestCountersBoundedKeys(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	const maxKeys = 256
	s := NewSlidingCounter(time.Minute, 6, maxKeys, clk.Now)
	d := NewDailyCounter(maxKeys, clk.Now)
	for i := range 10000 {
		key := fmt.Sprintf("k%d", i)
		s.Add(key, 1)
		d.Add(key, 1)
		clk.Advance(time.Millisecond) // all keys active
	}
	if n := s.Len(); n > maxKeys {
		t.Errorf("sliding counter holds %d keys, cap %d", n, maxKeys)
	}
	if n := d.Len(); n > maxKeys {
		t.Errorf("daily counter holds %d keys, cap %d", n, maxKeys)
	}
	// The most recent key survives eviction.
	if s.Sum("k9999") != 1 || d.Sum("k9999") != 1 {
		t.Error("most recent key was evicted")
	}
}

func TestCountersConcurrent(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 3, 1, 23, 59, 30, 0, time.UTC))
	s := NewSlidingCounter(time.Hour, 60, 10000, clk.Now)
	d := NewDailyCounter(10000, clk.Now)
	const workers, perWorker, keys = 8, 2000, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				key := fmt.Sprintf("agent_%d", (w+i)%keys)
				s.Add(key, 1)
				d.Add(key, 3)
				_ = s.Sum(key)
				_ = d.Sum(key)
				_ = s.Len()
			}
		}()
	}
	wg.Wait()
	var sTotal, dTotal int64
	for k := range keys {
		key := fmt.Sprintf("agent_%d", k)
		sTotal += s.Sum(key)
		dTotal += d.Sum(key)
	}
	if sTotal != workers*perWorker || dTotal != 3*workers*perWorker {
		t.Fatalf("totals %d, %d; want %d, %d", sTotal, dTotal, workers*perWorker, 3*workers*perWorker)
	}
	// Crossing midnight while writers run: every add lands in one day.
	var after atomic.Int64
	wg = sync.WaitGroup{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				d.Add("agent_0", 1)
			}
		}()
	}
	clk.Advance(time.Minute) // 00:00:30 on the next day
	wg.Wait()
	after.Store(d.Sum("agent_0"))
	if v := after.Load(); v < 0 || v > workers*100 {
		t.Fatalf("sum after midnight %d", v)
	}
}

// TestCountersAt: AddAt and SumAt at a time count as Add and Sum do with
// the clock at that time.
func TestCountersAt(t *testing.T) {
	start := time.Date(2026, 3, 1, 23, 59, 30, 0, time.UTC)
	clk := newFakeClock(start)
	slide, slideAt := NewSlidingCounter(time.Minute, 60, 100, clk.Now), NewSlidingCounter(time.Minute, 60, 100, nil)
	day, dayAt := NewDailyCounter(100, clk.Now), NewDailyCounter(100, nil)
	for i := range 200 {
		key := fmt.Sprint("k", i%3)
		now := clk.Now()
		if got, want := slideAt.AddAt(key, int64(i), now), slide.Add(key, int64(i)); got != want {
			t.Fatalf("step %d: sliding AddAt %d, Add %d", i, got, want)
		}
		if got, want := dayAt.AddAt(key, int64(i), now), day.Add(key, int64(i)); got != want {
			t.Fatalf("step %d: daily AddAt %d, Add %d", i, got, want)
		}
		clk.Advance(time.Duration(i%7) * 700 * time.Millisecond)
		now = clk.Now()
		if got, want := slideAt.SumAt(key, now), slide.Sum(key); got != want {
			t.Fatalf("step %d: sliding SumAt %d, Sum %d", i, got, want)
		}
		if got, want := dayAt.SumAt(key, now), day.Sum(key); got != want {
			t.Fatalf("step %d: daily SumAt %d, Sum %d", i, got, want)
		}
	}
}
