package protocol

import (
	"container/heap"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// NonceCache remembers which (keyid, nonce) pairs have been used, so that a
// signed request is accepted at most once. VerifyRequest calls Use after the
// signature has verified, never before, so a forged request cannot burn a
// genuine nonce.
type NonceCache interface {
	// Use records that keyID used nonce, and must remember it at least until
	// expires (after which the signature is refused on time grounds alone).
	// It returns nil the first time a pair is used, an error wrapping
	// ErrNonceReplayed if the pair was recorded before and its expiry has not
	// passed, ErrNonceCacheFull if it cannot remember one more pair, or
	// ctx's error. Implementations are safe for concurrent use, and two
	// concurrent Use calls with the same pair return nil to at most one.
	Use(ctx context.Context, keyID, nonce string, expires time.Time) error
}

// NonceCacheEntriesMaxDefault is the entry bound NewMemoryNonceCache uses
// when given none. A verifier needs about (signed requests per second) ×
// (VerifyOptions.MaxAge + ClockSkew) entries: 524,288 covers 1,450 requests
// per second at the default 6 minutes, in roughly 75 MiB when full.
const NonceCacheEntriesMaxDefault = 1 << 19

// MemoryNonceCache is an in-memory NonceCache for one process. It holds at
// most its entry bound of pairs: each costs about 75 bytes plus the lengths of
// the keyid and nonce (about 140 bytes for a thumbprint and a 22-character
// nonce). Expired pairs are pruned on every Use, oldest expiry
// first, in O(log n) each. When the bound is reached and no pair has expired,
// Use returns ErrNonceCacheFull rather than forget an unexpired pair, since
// forgetting one would let its request be replayed.
//
// Several processes verifying for the same keys need a shared NonceCache
// instead (a store table with a unique key), or requests routed by keyid.
// It is safe for concurrent use.
type MemoryNonceCache struct {
	now        func() time.Time
	entriesMax int

	mu      sync.Mutex
	entries map[string]struct{}
	byTime  nonceHeap
}

// NewMemoryNonceCache returns an empty cache holding at most entriesMax pairs
// (NonceCacheEntriesMaxDefault if entriesMax <= 0). now is the clock used to
// prune expired pairs; nil means time.Now.
func NewMemoryNonceCache(entriesMax int, now func() time.Time) *MemoryNonceCache {
	if entriesMax <= 0 {
		entriesMax = NonceCacheEntriesMaxDefault
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryNonceCache{
		now:        now,
		entriesMax: entriesMax,
		entries:    make(map[string]struct{}),
	}
}

// Use implements NonceCache. keyID and nonce longer than KeyIDBytesMax or
// NonceBytesMax return an error wrapping ErrSignatureParamsInvalid. A pair
// whose expires is not after the cache's clock is accepted without being
// recorded: a verifier refuses its signature on time grounds already.
func (c *MemoryNonceCache) Use(ctx context.Context, keyID, nonce string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keyID) > KeyIDBytesMax || len(nonce) > NonceBytesMax {
		return fmt.Errorf("%w: keyid of %d or nonce of %d bytes over the limit", ErrSignatureParamsInvalid, len(keyID), len(nonce))
	}
	now := c.now()

	c.mu.Lock()
	defer c.mu.Unlock()
	nowNanos := now.UnixNano()
	for len(c.byTime) > 0 && c.byTime[0].expires <= nowNanos {
		old := heap.Pop(&c.byTime).(nonceEntry)
		delete(c.entries, old.key)
	}
	if !expires.After(now) {
		return nil
	}
	// The length prefix makes the key unambiguous for any keyid and nonce.
	key := strconv.Itoa(len(keyID)) + ":" + keyID + nonce
	at := expires.UnixNano()
	if _, used := c.entries[key]; used {
		return fmt.Errorf("%w: keyid %q nonce %q", ErrNonceReplayed, keyID, nonce)
	}
	if len(c.entries) >= c.entriesMax {
		return fmt.Errorf("%w: %d unexpired entries", ErrNonceCacheFull, len(c.entries))
	}
	c.entries[key] = struct{}{}
	heap.Push(&c.byTime, nonceEntry{key: key, expires: at})
	return nil
}

// Len returns the number of pairs held, expired ones not yet pruned included.
func (c *MemoryNonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// nonceEntry is one remembered pair and its expiry in Unix nanoseconds.
// Every entry of the heap is in the map and the other way round: pairs leave
// both together, and an expired pair is pruned before it could be re-added.
type nonceEntry struct {
	key     string
	expires int64
}

// nonceHeap is a min-heap of entries by expiry.
type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nonceEntry{}
	*h = old[:n-1]
	return e
}
