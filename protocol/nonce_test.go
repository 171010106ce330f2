package protocol

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// nonceClock is a settable clock, safe for concurrent use.
type nonceClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *nonceClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *nonceClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryNonceCache(t *testing.T) {
	ctx := context.Background()
	clock := &nonceClock{t: sigTestNow}
	c := NewMemoryNonceCache(3, clock.Now)
	exp := sigTestNow.Add(time.Minute)

	if err := c.Use(ctx, "k1", "n1", exp); err != nil {
		t.Fatal(err)
	}
	if err := c.Use(ctx, "k1", "n1", exp.Add(time.Hour)); !errors.Is(err, ErrNonceReplayed) {
		t.Fatalf("replay: %v", err)
	}
	// The pair is (keyid, nonce): same nonce under another key is fresh, and
	// the concatenation "k1"+"n1" cannot collide with "k"+"1n1".
	if err := c.Use(ctx, "k2", "n1", exp); err != nil {
		t.Fatal(err)
	}
	if err := c.Use(ctx, "k", "1n1", exp); err != nil {
		t.Fatal(err)
	}
	// Full: three unexpired pairs.
	if err := c.Use(ctx, "k3", "n3", exp); !errors.Is(err, ErrNonceCacheFull) {
		t.Fatalf("full: %v", err)
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d", c.Len())
	}
	// An already expired pair is accepted and not stored.
	if err := c.Use(ctx, "k4", "n4", sigTestNow); err != nil {
		t.Fatalf("expired pair: %v", err)
	}
	// After expiry the pairs are pruned and may be used again.
	clock.Advance(time.Minute)
	if err := c.Use(ctx, "k1", "n1", clock.Now().Add(time.Minute)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if c.Len() != 1 {
		t.Fatalf("Len after prune = %d, want 1", c.Len())
	}
	// Limits and context.
	if err := c.Use(ctx, "k", strings.Repeat("n", NonceBytesMax+1), exp.Add(time.Hour)); !errors.Is(err, ErrSignatureParamsInvalid) {
		t.Fatalf("long nonce: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Use(cctx, "k9", "n9", exp.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func TestMemoryNonceCachePrunesInExpiryOrder(t *testing.T) {
	ctx := context.Background()
	clock := &nonceClock{t: sigTestNow}
	c := NewMemoryNonceCache(100, clock.Now)
	// Insert with shuffled expiries 1..100 s.
	for i := range 100 {
		s := (i*37)%100 + 1
		if err := c.Use(ctx, "k", fmt.Sprint(s), sigTestNow.Add(time.Duration(s)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for s := 1; s <= 100; s++ {
		clock.Advance(time.Second)
		// Any Use prunes; use an already expired pair to prune without adding.
		if err := c.Use(ctx, "x", "x", sigTestNow); err != nil {
			t.Fatal(err)
		}
		if got := c.Len(); got != 100-s {
			t.Fatalf("after %d s: Len = %d, want %d", s, got, 100-s)
		}
		if s < 100 {
			if err := c.Use(ctx, "k", fmt.Sprint(s+1), sigTestNow.Add(time.Hour)); !errors.Is(err, ErrNonceReplayed) {
				t.Fatalf("after %d s: nonce %d: %v", s, s+1, err)
			}
		}
	}
}

// TestMemoryNonceCacheConcurrent has goroutines race to use the same pairs;
// each pair must be accepted exactly once. Run with -race.
func TestMemoryNonceCacheConcurrent(t *testing.T) {
	const (
		goroutines = 8
		pairs      = 2000
	)
	ctx := context.Background()
	clock := &nonceClock{t: sigTestNow}
	c := NewMemoryNonceCache(pairs, clock.Now)
	var accepted [pairs]atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pairs {
				n := (i + g*pairs/goroutines) % pairs
				err := c.Use(ctx, "agent", fmt.Sprint("nonce-", n), sigTestNow.Add(time.Duration(n+1)*time.Millisecond))
				switch {
				case err == nil:
					accepted[n].Add(1)
				case errors.Is(err, ErrNonceReplayed):
				default:
					t.Error(err)
					return
				}
				if g == 0 && i%100 == 0 {
					clock.Advance(0) // exercise the clock under the race detector
				}
			}
		}()
	}
	wg.Wait()
	for n := range accepted {
		if got := accepted[n].Load(); got != 1 {
			t.Fatalf("pair %d accepted %d times", n, got)
		}
	}
	if c.Len() != pairs {
		t.Fatalf("Len = %d", c.Len())
	}
}

func TestNonceCacheDefaults(t *testing.T) {
	c := NewMemoryNonceCache(0, nil)
	if c.entriesMax != NonceCacheEntriesMaxDefault || c.now == nil {
		t.Fatalf("defaults not applied: %d", c.entriesMax)
	}
}

func BenchmarkMemoryNonceCacheUse(b *testing.B) {
	ctx := context.Background()
	c := NewMemoryNonceCache(b.N+1, nil)
	exp := time.Now().Add(time.Hour)
	nonces := make([]string, b.N)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("nonce-%016d", i)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := c.Use(ctx, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", nonces[i], exp); err != nil {
			b.Fatal(err)
		}
	}
}
