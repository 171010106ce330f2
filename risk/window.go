package risk

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// The counters below are small helpers for the wallet to fill Features
// (agent.payments_last_minute, merchant.amount_today, ...). They are
// in-memory and per process; a wallet running several replicas must
// route a key to one replica or use a shared store instead.

const counterShards = 16

// SlidingCounter sums values per key over a sliding time window, for
// example payments per agent in the last minute. The window is split into
// buckets; Sum includes every value added in the last Window, plus, at
// most, values of the one bucket that straddles the window's start. So it
// may over-count by up to one bucket width but never under-counts, which
// is the safe side for risk rules (they only add friction).
//
// Add and Sum are O(1) amortized. Memory is bounded: a key whose window is
// empty is idle and is dropped by periodic sweeps, and at most MaxKeys
// keys are kept (beyond that the least recently updated keys are evicted,
// which forgets their history; size MaxKeys above the number of keys
// active within one window). Safe for concurrent use.
type SlidingCounter struct {
	now     func() time.Time
	width   int64 // bucket width, ns
	buckets int   // ring size: window buckets + 1 straddling bucket
	perCap  int   // max keys per shard
	seed    maphash.Seed
	shards  [counterShards]slidingShard
}

type slidingShard struct {
	mu        sync.Mutex
	keys      map[string]*slidingKey
	nextSweep int
	_         [40]byte // keep shards on separate cache lines
}

type slidingKey struct {
	ring  []int64
	last  int64 // absolute index of the newest bucket
	total int64
}

// NewSlidingCounter returns a counter over window, split into buckets
// buckets (window/buckets is the precision), keeping at most maxKeys keys,
// reading time from now (time.Now when nil).
func NewSlidingCounter(window time.Duration, buckets, maxKeys int, now func() time.Time) *SlidingCounter {
	if buckets < 1 {
		buckets = 1
	}
	width := int64(window) / int64(buckets)
	if width < 1 {
		width = 1
	}
	if now == nil {
		now = time.Now
	}
	c := &SlidingCounter{now: now, width: width, buckets: buckets + 1, perCap: shardCap(maxKeys), seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].keys = make(map[string]*slidingKey)
		c.shards[i].nextSweep = minSweep
	}
	return c
}

const minSweep = 64

func shardCap(maxKeys int) int {
	if maxKeys < counterShards {
		return 1
	}
	return maxKeys / counterShards
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// advance drops buckets older than the ring for bucket index idx. A clock
// that went backwards counts into the newest bucket.
func (k *slidingKey) advance(idx int64) {
	if idx <= k.last {
		return
	}
	n := int64(len(k.ring))
	if idx-k.last >= n {
		clear(k.ring)
		k.total = 0
	} else {
		for i := k.last + 1; i <= idx; i++ {
			j := floorMod(i, n)
			k.total -= k.ring[j]
			k.ring[j] = 0
		}
	}
	k.last = idx
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func (c *SlidingCounter) shard(key string) *slidingShard {
	return &c.shards[maphash.String(c.seed, key)%counterShards]
}

// Add adds delta to key at the current time and returns the key's sum
// over the window, including delta.
func (c *SlidingCounter) Add(key string, delta int64) int64 { return c.AddAt(key, delta, c.now()) }

// AddAt is Add at time now, read from the counter's clock by the caller
// (one read for several counters).
func (c *SlidingCounter) AddAt(key string, delta int64, now time.Time) int64 {
	idx := floorDiv(now.UnixNano(), c.width)
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[key]
	if k == nil {
		c.makeRoom(s, idx)
		k = &slidingKey{ring: make([]int64, c.buckets), last: idx}
		s.keys[key] = k
	}
	k.advance(idx)
	k.ring[floorMod(k.last, int64(len(k.ring)))] += delta
	k.total += delta
	return k.total
}

// Sum returns key's sum over the window.
func (c *SlidingCounter) Sum(key string) int64 { return c.SumAt(key, c.now()) }

// SumAt is Sum at time now, read from the counter's clock by the caller.
func (c *SlidingCounter) SumAt(key string, now time.Time) int64 {
	idx := floorDiv(now.UnixNano(), c.width)
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[key]
	if k == nil {
		return 0
	}
	k.advance(idx)
	return k.total
}

// Len returns the number of keys held.
func (c *SlidingCounter) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}

// makeRoom runs before a key is inserted into s. When the shard has
// doubled since the last sweep, idle keys are dropped (a full sweep every
// O(n) inserts: O(1) amortized). When the shard is at capacity, the least
// recently updated eighth is evicted as well.
func (c *SlidingCounter) makeRoom(s *slidingShard, idx int64) {
	if len(s.keys) < s.nextSweep && len(s.keys) < c.perCap {
		return
	}
	horizon := idx - int64(c.buckets) // keys last updated at or before are empty
	for key, k := range s.keys {
		if k.last <= horizon {
			delete(s.keys, key)
		}
	}
	if len(s.keys) >= c.perCap {
		evictOldest(s.keys, len(s.keys)-c.perCap+max(1, c.perCap/8), func(k *slidingKey) int64 { return k.last })
	}
	s.nextSweep = max(minSweep, 2*len(s.keys))
}

// evictOldest deletes the n entries with the smallest age(v).
func evictOldest[V any](m map[string]V, n int, age func(V) int64) {
	type ent struct {
		key string
		at  int64
	}
	all := make([]ent, 0, len(m))
	for key, v := range m {
		all = append(all, ent{key, age(v)})
	}
	slices.SortFunc(all, func(a, b ent) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.key, b.key)) })
	for _, e := range all[:min(n, len(all))] {
		delete(m, e.key)
	}
}

// DailyCounter sums values per key over the current UTC calendar day, for
// example the amount a wallet paid a merchant today. At 00:00 UTC every
// key starts again from zero. Keys from a previous day are idle and are
// dropped by periodic sweeps; at most maxKeys keys are kept (beyond that
// the least recently updated are evicted). Add and Sum are O(1) amortized.
// Safe for concurrent use.
type DailyCounter struct {
	now    func() time.Time
	perCap int
	seed   maphash.Seed
	shards [counterShards]dailyShard
}

type dailyShard struct {
	mu        sync.Mutex
	keys      map[string]dailyKey
	nextSweep int
	_         [40]byte
}

type dailyKey struct {
	day int64 // days since the Unix epoch, UTC
	sum int64
	at  int64 // last update, Unix ns, for eviction order
}

// NewDailyCounter returns a counter keeping at most maxKeys keys, reading
// time from now (time.Now when nil).
func NewDailyCounter(maxKeys int, now func() time.Time) *DailyCounter {
	if now == nil {
		now = time.Now
	}
	c := &DailyCounter{now: now, perCap: shardCap(maxKeys), seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].keys = make(map[string]dailyKey)
		c.shards[i].nextSweep = minSweep
	}
	return c
}

// utcDay returns the UTC day number of t.
func utcDay(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

func (c *DailyCounter) shard(key string) *dailyShard {
	return &c.shards[maphash.String(c.seed, key)%counterShards]
}

// Add adds delta to key for the current UTC day and returns the day's sum
// including delta.
func (c *DailyCounter) Add(key string, delta int64) int64 { return c.AddAt(key, delta, c.now()) }

// AddAt is Add at time now, read from the counter's clock by the caller
// (one read for several counters).
func (c *DailyCounter) AddAt(key string, delta int64, now time.Time) int64 {
	day := utcDay(now)
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[key]
	if !ok {
		c.makeRoom(s, day)
	}
	if k.day < day {
		k = dailyKey{day: day}
	}
	// A clock that went back to the previous day adds to the newer day.
	k.sum += delta
	k.at = max(k.at, now.UnixNano())
	s.keys[key] = k
	return k.sum
}

// Sum returns key's sum for the current UTC day.
func (c *DailyCounter) Sum(key string) int64 { return c.SumAt(key, c.now()) }

// SumAt is Sum at time now, read from the counter's clock by the caller.
func (c *DailyCounter) SumAt(key string, now time.Time) int64 {
	day := utcDay(now)
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[key]
	if !ok || k.day < day {
		return 0
	}
	return k.sum
}

// Len returns the number of keys held.
func (c *DailyCounter) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}

func (c *DailyCounter) makeRoom(s *dailyShard, day int64) {
	if len(s.keys) < s.nextSweep && len(s.keys) < c.perCap {
		return
	}
	for key, k := range s.keys {
		if k.day < day {
			delete(s.keys, key)
		}
	}
	if len(s.keys) >= c.perCap {
		evictOldest(s.keys, len(s.keys)-c.perCap+max(1, c.perCap/8), func(k dailyKey) int64 { return k.at })
	}
	s.nextSweep = max(minSweep, 2*len(s.keys))
}
