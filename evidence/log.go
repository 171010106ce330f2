package evidence

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
)

// ErrConflict is returned by Log.Commit when the log moved since Prepare.
var ErrConflict = errors.New("evidence: log changed since prepare")

// AppendMaxCount is the most entries one Prepare accepts.
const AppendMaxCount = 1 << 20

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// Log is an append-only RFC 6962 Merkle log that maintains its tlog-tiles
// incrementally. It keeps only the right edge in memory: the compact range of
// the tree (O(log n) hashes), the partial tile of each level and the partial
// entry bundle. It is safe for concurrent use, but appends are serialised.
//
// An append has two steps so that a store can write tiles in the same
// transaction as the batch: Prepare computes the new tiles without changing
// the Log, the caller writes them with Pending.Write inside its transaction,
// and calls Commit after the transaction commits. If the transaction fails,
// the caller simply drops the Pending. After a crash, OpenLog at the size
// recorded in the same transaction restores the exact state: tiles written
// by a transaction that did not commit are never seen.
//
// Cost: every append rewrites the partial right-edge tile of each level it
// touches and the partial entry bundle (up to 255 entries), so single-leaf
// appends cost O(bundle); engine batches, or one batch leaf per engine batch,
// amortise this.
type Log struct {
	mu    sync.Mutex
	state logState
}

type logState struct {
	size   uint64
	rng    *compact.Range
	edge   map[uint64][]byte // tile level -> hashes of its partial right-edge tile
	bundle [][]byte          // entries of the partial entry bundle
}

func (s *logState) clone() logState {
	c := logState{size: s.size, edge: make(map[uint64][]byte, len(s.edge))}
	r, err := rangeFactory.NewRange(0, s.size, append([][]byte(nil), s.rng.Hashes()...))
	if err != nil {
		panic(fmt.Sprintf("evidence: clone range: %v", err)) // invariant: rng covers [0, size)
	}
	c.rng = r
	// Capacity is capped so that an append copies instead of writing into
	// the committed state's arrays (copy on write).
	for l, t := range s.edge {
		c.edge[l] = t[:len(t):len(t)]
	}
	c.bundle = s.bundle[:len(s.bundle):len(s.bundle)]
	return c
}

func encodeBundle(entries [][]byte) []byte {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	b := make([]byte, 0, n)
	for _, e := range entries {
		b, _ = AppendBundleEntry(b, e) // lengths were checked on the way in
	}
	return b
}

// NewLog returns an empty log.
func NewLog() *Log {
	return &Log{state: logState{rng: rangeFactory.NewEmptyRange(0), edge: map[uint64][]byte{}}}
}

// OpenLog loads the right edge of a log of the given size from its tiles.
func OpenLog(ctx context.Context, r TileReader, size uint64) (*Log, error) {
	c := newTileCache(ctx, r, size)
	hs, err := c.fetch(compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, fmt.Errorf("evidence: open log at %d: %w", size, err)
	}
	rng, err := rangeFactory.NewRange(0, size, hs)
	if err != nil {
		return nil, fmt.Errorf("evidence: open log at %d: %w", size, err)
	}
	s := logState{size: size, rng: rng, edge: map[uint64][]byte{}}
	for level := uint64(0); level*TileHeight < 64 && size>>(level*TileHeight) > 0; level++ {
		n := size >> (level * TileHeight)
		w := n % TileWidth
		if w == 0 {
			continue
		}
		t, err := c.tile(level, n/TileWidth)
		if err != nil {
			return nil, fmt.Errorf("evidence: open log at %d: %w", size, err)
		}
		if uint64(len(t)) < w*HashSizeBytes {
			return nil, fmt.Errorf("evidence: open log at %d: tile %s holds %d bytes", size, TilePath(level, n/TileWidth, int(w)), len(t))
		}
		s.edge[level] = append(make([]byte, 0, TileWidth*HashSizeBytes), t[:w*HashSizeBytes]...)
	}
	if w := int(size % TileWidth); w > 0 {
		b, err := r.ReadEntryBundle(ctx, size/TileWidth)
		if err != nil {
			return nil, fmt.Errorf("evidence: open log at %d: %w", size, err)
		}
		es, err := SplitBundle(b)
		if err != nil || len(es) < w {
			return nil, fmt.Errorf("evidence: open log at %d: bundle %s: %d entries, %v", size, EntryBundlePath(size/TileWidth, w), len(es), err)
		}
		for _, e := range es[:w] {
			s.bundle = append(s.bundle, append([]byte(nil), e...))
		}
	}
	return &Log{state: s}, nil
}

// Size returns the number of leaves committed.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.size
}

// Root returns the root hash of the committed tree.
func (l *Log) Root() Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.root()
}

func (s *logState) root() Hash {
	if s.size == 0 {
		return emptyRoot()
	}
	r, err := s.rng.GetRootHash(nil)
	if err != nil {
		panic(fmt.Sprintf("evidence: root: %v", err)) // invariant: rng begins at 0
	}
	var h Hash
	copy(h[:], r)
	return h
}

type tileWrite struct {
	level, index uint64
	hashes       []byte
}

type bundleWrite struct {
	index  uint64
	width  int
	bundle []byte
}

// Pending is a prepared append: the new tree state and the tiles and bundles
// to write.
type Pending struct {
	base    uint64
	state   logState
	tiles   []tileWrite
	bundles []bundleWrite
}

// FirstIndex returns the log index of the first prepared entry.
func (p *Pending) FirstIndex() uint64 { return p.base }

// Size returns the tree size after the append.
func (p *Pending) Size() uint64 { return p.state.size }

// Root returns the root hash after the append.
func (p *Pending) Root() Hash { return p.state.root() }

// TileCount returns the number of hash-tile writes.
func (p *Pending) TileCount() int { return len(p.tiles) }

// BundleCount returns the number of entry-bundle writes.
func (p *Pending) BundleCount() int { return len(p.bundles) }

// Write stores the prepared tiles and bundles through w.
func (p *Pending) Write(ctx context.Context, w TileWriter) error {
	for _, t := range p.tiles {
		if err := w.WriteTile(ctx, t.level, t.index, t.hashes); err != nil {
			return fmt.Errorf("evidence: write %s: %w", TilePath(t.level, t.index, len(t.hashes)/HashSizeBytes), err)
		}
	}
	for _, b := range p.bundles {
		if err := w.WriteEntryBundle(ctx, b.index, b.width, b.bundle); err != nil {
			return fmt.Errorf("evidence: write %s: %w", EntryBundlePath(b.index, b.width), err)
		}
	}
	return nil
}

// Prepare computes the append of entries (canonical bytes, each at most
// EntryMaxBytes) without changing the log.
func (l *Log) Prepare(entries [][]byte) (*Pending, error) {
	if len(entries) > AppendMaxCount {
		return nil, fmt.Errorf("evidence: prepare: %d entries, limit %d", len(entries), AppendMaxCount)
	}
	l.mu.Lock()
	s := l.state.clone()
	l.mu.Unlock()

	p := &Pending{base: s.size}
	dirty := map[uint64]bool{}
	var visitErr error
	visit := func(id compact.NodeID, h []byte) {
		if id.Level%TileHeight != 0 {
			return
		}
		level := uint64(id.Level / TileHeight)
		t := s.edge[level]
		if want := id.Index % TileWidth; uint64(len(t)/HashSizeBytes) != want && visitErr == nil {
			visitErr = fmt.Errorf("evidence: tile level %d: node %d at position %d", level, id.Index, len(t)/HashSizeBytes)
		}
		if t == nil {
			t = make([]byte, 0, TileWidth*HashSizeBytes)
		}
		t = append(t, h...)
		if len(t) == TileWidth*HashSizeBytes {
			p.tiles = append(p.tiles, tileWrite{level: level, index: id.Index / TileWidth, hashes: t})
			t = nil
			delete(dirty, level)
		} else {
			dirty[level] = true
		}
		s.edge[level] = t
	}
	for _, e := range entries {
		if len(e) > EntryMaxBytes {
			return nil, fmt.Errorf("evidence: prepare entry %d: %w: %d bytes, limit %d", s.size, ErrInvalidEntry, len(e), EntryMaxBytes)
		}
		s.bundle = append(s.bundle, append([]byte(nil), e...)) // the caller keeps its slice
		if len(s.bundle) == TileWidth {
			p.bundles = append(p.bundles, bundleWrite{index: s.size / TileWidth, width: TileWidth, bundle: encodeBundle(s.bundle)})
			s.bundle = nil
		}
		lh := LeafHash(e)
		if err := s.rng.Append(lh[:], visit); err != nil {
			return nil, fmt.Errorf("evidence: prepare entry %d: %w", s.size, err)
		}
		if visitErr != nil {
			return nil, visitErr
		}
		s.size++
	}
	for level := range dirty {
		n := s.size >> (level * TileHeight)
		p.tiles = append(p.tiles, tileWrite{level: level, index: n / TileWidth, hashes: s.edge[level]})
	}
	if len(s.bundle) > 0 && len(entries) > 0 {
		p.bundles = append(p.bundles, bundleWrite{index: s.size / TileWidth, width: len(s.bundle), bundle: encodeBundle(s.bundle)})
	}
	p.state = s
	return p, nil
}

// Commit installs a prepared append whose writes are durable. It returns
// ErrConflict if another append was committed since Prepare.
func (l *Log) Commit(p *Pending) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state.size != p.base {
		return fmt.Errorf("%w: prepared at %d, log at %d", ErrConflict, p.base, l.state.size)
	}
	l.state = p.state
	return nil
}

// Append prepares entries, writes them through w and commits: the one-call
// form for stores without transactions (and tests).
func (l *Log) Append(ctx context.Context, w TileWriter, entries [][]byte) (*Pending, error) {
	p, err := l.Prepare(entries)
	if err != nil {
		return nil, err
	}
	if err := p.Write(ctx, w); err != nil {
		return nil, err
	}
	if err := l.Commit(p); err != nil {
		return nil, err
	}
	return p, nil
}

// tileCache fetches perfect-subtree nodes of a tree of a given size from tiles.
type tileCache struct {
	ctx   context.Context
	r     TileReader
	size  uint64
	tiles map[[2]uint64][]byte
}

func newTileCache(ctx context.Context, r TileReader, size uint64) *tileCache {
	return &tileCache{ctx: ctx, r: r, size: size, tiles: map[[2]uint64][]byte{}}
}

func (c *tileCache) tile(level, index uint64) ([]byte, error) {
	k := [2]uint64{level, index}
	if t, ok := c.tiles[k]; ok {
		return t, nil
	}
	t, err := c.r.ReadTile(c.ctx, level, index)
	if err != nil {
		return nil, err
	}
	c.tiles[k] = t
	return t, nil
}

func (c *tileCache) fetch(ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level >= 64 || id.Index >= (c.size>>id.Level) {
			return nil, fmt.Errorf("%w: node (%d, %d) not complete at size %d", ErrRange, id.Level, id.Index, c.size)
		}
		level := uint64(id.Level / TileHeight)
		up := id.Level % TileHeight
		first := id.Index << up
		pos, count := first%TileWidth, uint64(1)<<up
		t, err := c.tile(level, first/TileWidth)
		if err != nil {
			return nil, err
		}
		if uint64(len(t)) < (pos+count)*HashSizeBytes {
			return nil, fmt.Errorf("%w: tile %s too short for node (%d, %d)", ErrNotFound, TilePath(level, first/TileWidth, TileWidth), id.Level, id.Index)
		}
		hs := make([][]byte, count)
		for j := range hs {
			o := (pos + uint64(j)) * HashSizeBytes
			hs[j] = t[o : o+HashSizeBytes]
		}
		for len(hs) > 1 {
			for j := 0; j < len(hs)/2; j++ {
				hs[j] = hashChildren(hs[2*j], hs[2*j+1])
			}
			hs = hs[:len(hs)/2]
		}
		out[i] = hs[0]
	}
	return out, nil
}

// InclusionProof returns the audit path of leaf index in the tree of the
// given size, computed from the tiles in r.
func InclusionProof(ctx context.Context, r TileReader, index, size uint64) ([]Hash, error) {
	p, err := inclusionFrom(index, size, newTileCache(ctx, r, size).fetch)
	if err != nil {
		return nil, fmt.Errorf("evidence: inclusion proof %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof from size1 to
// size2, computed from the tiles in r.
func ConsistencyProof(ctx context.Context, r TileReader, size1, size2 uint64) ([]Hash, error) {
	p, err := consistencyFrom(size1, size2, newTileCache(ctx, r, size2).fetch)
	if err != nil {
		return nil, fmt.Errorf("evidence: consistency proof %d to %d: %w", size1, size2, err)
	}
	return p, nil
}

// RootAt returns the root hash of the tree of the given size, computed from the tiles in r.
func RootAt(ctx context.Context, r TileReader, size uint64) (Hash, error) {
	h, err := rootFrom(size, newTileCache(ctx, r, size).fetch)
	if err != nil {
		return Hash{}, fmt.Errorf("evidence: root at %d: %w", size, err)
	}
	return h, nil
}

// ReadEntry returns the canonical bytes of entry index from the bundles in r.
func ReadEntry(ctx context.Context, r TileReader, index uint64) ([]byte, error) {
	b, err := r.ReadEntryBundle(ctx, index/TileWidth)
	if err != nil {
		return nil, fmt.Errorf("evidence: read entry %d: %w", index, err)
	}
	es, err := SplitBundle(b)
	if err != nil {
		return nil, fmt.Errorf("evidence: read entry %d: %w", index, err)
	}
	if i := index % TileWidth; i < uint64(len(es)) {
		return es[i], nil
	}
	return nil, fmt.Errorf("%w: entry %d", ErrNotFound, index)
}

// ReadTilePath returns the content served at a tlog-tiles path (as made by
// TilePath or EntryBundlePath): the stored tile or bundle cut to the width the
// path names. err wraps ErrNotFound if the stored one is narrower, so a
// partial path stays valid (and immutable) after its tile has grown.
func ReadTilePath(ctx context.Context, r TileReader, path string) ([]byte, error) {
	level, index, width, err := ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	if level < 0 {
		b, err := r.ReadEntryBundle(ctx, index)
		if err != nil {
			return nil, fmt.Errorf("evidence: read %s: %w", path, err)
		}
		es, err := SplitBundle(b)
		if err != nil {
			return nil, fmt.Errorf("evidence: read %s: %w", path, err)
		}
		if len(es) < width {
			return nil, fmt.Errorf("%w: %s holds %d entries", ErrNotFound, path, len(es))
		}
		n := 0
		for _, e := range es[:width] {
			n += 2 + len(e)
		}
		return b[:n:n], nil
	}
	t, err := r.ReadTile(ctx, uint64(level), index)
	if err != nil {
		return nil, fmt.Errorf("evidence: read %s: %w", path, err)
	}
	if len(t) < width*HashSizeBytes {
		return nil, fmt.Errorf("%w: %s holds %d hashes", ErrNotFound, path, len(t)/HashSizeBytes)
	}
	return t[: width*HashSizeBytes : width*HashSizeBytes], nil
}
