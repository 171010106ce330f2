package api

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// OutcomeFilterBitsDefault sizes the idempotency key filter: 2^27 bits
// (16 MiB) hold about 14 million keys at a 1% false-positive rate.
const OutcomeFilterBitsDefault = 1 << 27

// outcomeFilterHashes is the number of bits a key sets (k).
const outcomeFilterHashes = 4

// outcomeFilter is an in-memory Bloom filter of the scoped idempotency keys
// that may have a stored outcome. A key it does not contain certainly has
// none, so a first request skips the store lookup; a false positive only
// costs that lookup. It never has false negatives:
//
//   - a request adds its key before it reaches the engine, while it holds
//     the key in the in-flight set, so its outcome cannot commit before the
//     key is in the filter;
//   - a rebuild (at Start, and after each sweep so deleted keys stop
//     costing lookups) first makes the new filter receive every add, then
//     copies the keys in flight, then reads the store: a key committed
//     after the store snapshot was in flight or added after.
//
// Until the first build has finished every key may have an outcome.
type outcomeFilter struct {
	bits  uint64 // a power of two
	seed  maphash.Seed
	cur   atomic.Pointer[bloom] // nil until the first build finished
	mu    sync.Mutex            // guards next
	next  *bloom                // the filter being built, or nil
	skips atomic.Uint64         // store lookups the filter saved
}

type bloom struct{ words []atomic.Uint64 }

func newOutcomeFilter(bits uint64) *outcomeFilter {
	n := uint64(64)
	for n < bits {
		n <<= 1
	}
	return &outcomeFilter{bits: n, seed: maphash.MakeSeed()}
}

func (f *outcomeFilter) positions(key string) [outcomeFilterHashes]uint64 {
	h1 := maphash.String(f.seed, key)
	h2 := h1*0x9e3779b97f4a7c15 ^ h1>>29 | 1
	var p [outcomeFilterHashes]uint64
	for i := range p {
		p[i] = (h1 + uint64(i)*h2) & (f.bits - 1)
	}
	return p
}

func (b *bloom) set(p [outcomeFilterHashes]uint64) {
	for _, x := range p {
		b.words[x/64].Or(1 << (x % 64))
	}
}

func (b *bloom) has(p [outcomeFilterHashes]uint64) bool {
	for _, x := range p {
		if b.words[x/64].Load()&(1<<(x%64)) == 0 {
			return false
		}
	}
	return true
}

// mayHave reports whether key may have a stored outcome.
func (f *outcomeFilter) mayHave(key string) bool {
	b := f.cur.Load()
	if b == nil || b.has(f.positions(key)) {
		return true
	}
	f.skips.Add(1)
	return false
}

// add records that key may get an outcome.
func (f *outcomeFilter) add(key string) {
	p := f.positions(key)
	if b := f.cur.Load(); b != nil {
		b.set(p)
	}
	f.mu.Lock()
	if f.next != nil {
		f.next.set(p)
	}
	f.mu.Unlock()
}

// rebuild builds a new filter from the keys in flight and the store's keys
// and makes it current. On error the current filter stays.
func (f *outcomeFilter) rebuild(ctx context.Context, inflight *inflightSet,
	keys func(ctx context.Context, fn func(string) error) error) error {
	b := &bloom{words: make([]atomic.Uint64, f.bits/64)}
	f.mu.Lock()
	f.next = b
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.next = nil
		f.mu.Unlock()
	}()
	inflight.each(func(k string) { b.set(f.positions(k)) })
	if err := keys(ctx, func(k string) error { b.set(f.positions(k)); return ctx.Err() }); err != nil {
		return err
	}
	f.mu.Lock()
	f.cur.Store(b)
	f.next = nil
	f.mu.Unlock()
	return nil
}
