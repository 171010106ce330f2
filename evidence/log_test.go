package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

// refTree is the library's reference tree over the same leaves.
func refTree(entries [][]byte) *testonly.Tree {
	t := testonly.New(rfc6962.DefaultHasher)
	t.AppendData(entries...)
	return t
}

func TestTreeKnownAnswers(t *testing.T) {
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	if len(roots) != len(leaves)+1 {
		t.Fatalf("%d roots for %d leaves", len(roots), len(leaves))
	}
	for n := 0; n <= len(leaves); n++ {
		if got := BatchTree(leaves[:n]).Root(); !bytes.Equal(got[:], roots[n]) {
			t.Errorf("root of %d leaves = %x, want %x", n, got[:], roots[n])
		}
	}
	if got := BatchTree(nil).Root(); !bytes.Equal(got[:], testonly.EmptyRootHash()) {
		t.Errorf("empty root = %x", got)
	}
}

func TestTreeInclusion(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 3, 7, 8, 9, 100, 255, 256, 257, 1000} {
		entries := genEntries(t, n)
		tr := BatchTree(entries)
		ref := refTree(entries)
		if got := tr.Root(); !bytes.Equal(got[:], ref.Hash()) {
			t.Fatalf("n=%d root mismatch", n)
		}
		for i := range entries {
			p, err := tr.InclusionProof(uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			lh := LeafHash(entries[i])
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), lh[:], ProofBytes(p), ref.Hash()); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
		}
		if _, err := tr.InclusionProof(uint64(n)); !errors.Is(err, ErrRange) {
			t.Fatalf("proof past end err = %v", err)
		}
	}
}

func TestBatchProof(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	lg := NewLog()
	// Some single entries, then a batch, then more.
	if _, err := lg.Append(ctx, store, genEntries(t, 10)); err != nil {
		t.Fatal(err)
	}
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = genEntry(t, 5000+i)
	}
	tree := BatchTree(batch)
	be := NewBatchEntry(tree)
	be.ID, be.Seq, be.Time = "batch_1", 11, time.UnixMicro(1_790_000_000_000_000)
	beBytes, err := be.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := lg.Append(ctx, store, [][]byte{beBytes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Append(ctx, store, genEntries(t, 300)); err != nil {
		t.Fatal(err)
	}
	size, root := lg.Size(), lg.Root()
	logPath, err := InclusionProof(ctx, store, p.FirstIndex(), size)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 511, 998, 999} {
		path, err := tree.InclusionProof(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		bp := BatchProof{EntryIndex: uint64(i), EntryPath: path, BatchEntry: beBytes, LogIndex: p.FirstIndex(), LogSize: size, LogPath: logPath}
		if err := bp.Verify(batch[i], root); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if err := bp.Verify(batch[(i+1)%len(batch)], root); !errors.Is(err, ErrProof) {
			t.Fatalf("wrong entry verified: %v", err)
		}
		if err := bp.Verify(batch[i], HashBytes(nil)); !errors.Is(err, ErrProof) {
			t.Fatalf("wrong root verified: %v", err)
		}
		bad := bp
		bad.LogIndex++
		if err := bad.Verify(batch[i], root); !errors.Is(err, ErrProof) {
			t.Fatalf("wrong log index verified: %v", err)
		}
		bad = bp
		bad.BatchEntry = genEntry(t, 3)
		if err := bad.Verify(batch[i], root); !errors.Is(err, ErrProof) {
			t.Fatalf("non-batch entry verified: %v", err)
		}
	}
}

func TestTilePaths(t *testing.T) {
	cases := []struct {
		level, index uint64
		width        int
		want         string
	}{
		{0, 0, 256, "tile/0/000"},
		{0, 5, 256, "tile/0/005"},
		{0, 1234, 5, "tile/0/x001/234.p/5"},
		{1, 1234067, 256, "tile/1/x001/x234/067"},
		{2, 1000, 255, "tile/2/x001/000.p/255"},
	}
	for _, c := range cases {
		if got := TilePath(c.level, c.index, c.width); got != c.want {
			t.Errorf("TilePath(%d, %d, %d) = %q, want %q", c.level, c.index, c.width, got, c.want)
		}
		l, i, w, err := ParseTilePath(c.want)
		if err != nil || l != int(c.level) || i != c.index || w != c.width {
			t.Errorf("ParseTilePath(%q) = %d, %d, %d, %v", c.want, l, i, w, err)
		}
	}
	if got := EntryBundlePath(1234067, 3); got != "tile/entries/x001/x234/067.p/3" {
		t.Errorf("EntryBundlePath = %q", got)
	}
	if l, i, w, err := ParseTilePath("tile/entries/x001/x234/067.p/3"); err != nil || l != -1 || i != 1234067 || w != 3 {
		t.Errorf("ParseTilePath(entries) = %d, %d, %d, %v", l, i, w, err)
	}
	for _, bad := range []string{"", "tile/0", "tile/0/5", "tile/0/0005", "tile/0/x000/005", "tile/0/001/234",
		"tile/0/005.p/0", "tile/0/005.p/256", "tile/0/005.p/05", "tile/01/005", "tile/x/005", "tiles/0/005", "tile/0/x1/005"} {
		if _, _, _, err := ParseTilePath(bad); err == nil {
			t.Errorf("ParseTilePath(%q) accepted", bad)
		}
	}
}

// checkLog verifies, for a log holding entries, every inclusion proof at size
// and consistency proofs into size from the given older sizes.
func checkLog(t *testing.T, store TileReader, entries [][]byte, size uint64, ref *testonly.Tree, olderSizes []uint64) {
	t.Helper()
	ctx := context.Background()
	root, err := RootAt(ctx, store, size)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.HashAt(size)
	if !bytes.Equal(root[:], want) {
		t.Fatalf("size %d: root %x, want %x", size, root, want)
	}
	for i := uint64(0); i < size; i++ {
		p, err := InclusionProof(ctx, store, i, size)
		if err != nil {
			t.Fatalf("size %d index %d: %v", size, i, err)
		}
		lh := LeafHash(entries[i])
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, lh[:], ProofBytes(p), want); err != nil {
			t.Fatalf("size %d index %d: %v", size, i, err)
		}
	}
	for _, s1 := range olderSizes {
		if s1 > size {
			continue
		}
		p, err := ConsistencyProof(ctx, store, s1, size)
		if err != nil {
			t.Fatalf("consistency %d->%d: %v", s1, size, err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, s1, size, ProofBytes(p), ref.HashAt(s1), want); err != nil {
			t.Fatalf("consistency %d->%d: %v", s1, size, err)
		}
	}
}

func TestLogProofsEverySize(t *testing.T) {
	t.Parallel()
	const n = 300
	entries := genEntries(t, n)
	ref := refTree(entries)
	// One log growing by one leaf; after each append check every entry.
	// Tiles are overwritten in place as they grow, so every check reads the
	// latest tiles for an older or current size.
	store := NewMemStore()
	lg := NewLog()
	ctx := context.Background()
	for size := uint64(1); size <= n; size++ {
		if _, err := lg.Append(ctx, store, entries[size-1:size]); err != nil {
			t.Fatal(err)
		}
		if got, want := lg.Root(), ref.HashAt(size); !bytes.Equal(got[:], want) {
			t.Fatalf("size %d: Log.Root %x, want %x", size, got, want)
		}
		older := []uint64{0, 1, size / 2, size - 1, size}
		checkLog(t, store, entries, size, ref, older)
	}
	// Proofs at every older size from the final tiles, and all consistency pairs.
	for size := uint64(1); size <= n; size += 13 {
		var all []uint64
		for s1 := uint64(0); s1 <= size; s1++ {
			all = append(all, s1)
		}
		checkLog(t, store, entries, size, ref, all)
	}
}

func TestLogChunkingIsIrrelevant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 2000
	entries := genEntries(t, n)
	one := NewMemStore()
	if _, err := NewLog().Append(ctx, one, entries); err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 255, 256, 257, 1000} {
		s := NewMemStore()
		lg := NewLog()
		for i := 0; i < n; i += chunk {
			if _, err := lg.Append(ctx, s, entries[i:min(i+chunk, n)]); err != nil {
				t.Fatal(err)
			}
		}
		if len(s.tiles) != len(one.tiles) || len(s.bundles) != len(one.bundles) {
			t.Fatalf("chunk %d: %d tiles, %d bundles; want %d, %d", chunk, len(s.tiles), len(s.bundles), len(one.tiles), len(one.bundles))
		}
		for k, v := range one.tiles {
			if !bytes.Equal(s.tiles[k], v) {
				t.Fatalf("chunk %d: tile %v differs", chunk, k)
			}
		}
		for k, v := range one.bundles {
			if !bytes.Equal(s.bundles[k], v) {
				t.Fatalf("chunk %d: bundle %d differs", chunk, k)
			}
		}
	}
	// Level 1 tile: 2000 leaves = 7 full level-0 tiles, so level-1 tile 0 has width 7.
	if got := len(one.tiles[[2]uint64{1, 0}]) / HashSizeBytes; got != 7 {
		t.Fatalf("level-1 tile width %d, want 7", got)
	}
	for i := uint64(0); i < n; i += 97 {
		got, err := ReadEntry(ctx, one, i)
		if err != nil || !bytes.Equal(got, entries[i]) {
			t.Fatalf("ReadEntry(%d) = %q, %v", i, got, err)
		}
	}
	if _, err := ReadEntry(ctx, one, n); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadEntry past end err = %v", err)
	}
}

func TestOpenLogContinues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	entries := genEntries(t, 1100)
	ref := refTree(entries)
	for _, cut := range []int{0, 1, 255, 256, 257, 600, 1024} {
		s := NewMemStore()
		if _, err := NewLog().Append(ctx, s, entries[:cut]); err != nil {
			t.Fatal(err)
		}
		lg, err := OpenLog(ctx, s, uint64(cut))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if got := lg.Root(); !bytes.Equal(got[:], ref.HashAt(uint64(cut))) {
			t.Fatalf("cut %d: reopened root differs", cut)
		}
		if _, err := lg.Append(ctx, s, entries[cut:]); err != nil {
			t.Fatal(err)
		}
		if got := lg.Root(); !bytes.Equal(got[:], ref.Hash()) {
			t.Fatalf("cut %d: final root differs", cut)
		}
		if cut == 600 {
			checkLog(t, s, entries, uint64(len(entries)), ref, []uint64{0, 1, 255, 256, 600, 1099})
		}
	}
	if _, err := OpenLog(ctx, NewMemStore(), 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenLog on empty store err = %v", err)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) WriteTile(context.Context, uint64, uint64, []byte) error {
	if f.after--; f.after < 0 {
		return errors.New("disk full")
	}
	return nil
}

func (f *failingWriter) WriteEntryBundle(context.Context, uint64, int, []byte) error {
	return f.WriteTile(nil, 0, 0, nil)
}

func TestPrepareCommit(t *testing.T) {
	ctx := context.Background()
	entries := genEntries(t, 10)
	lg := NewLog()
	if _, err := lg.Append(ctx, &failingWriter{after: 1}, entries); err == nil {
		t.Fatal("Append with failing writer succeeded")
	}
	if lg.Size() != 0 || lg.Root() != emptyRoot() {
		t.Fatal("failed append changed the log")
	}
	p1, err := lg.Prepare(entries[:5])
	if err != nil {
		t.Fatal(err)
	}
	p2, err := lg.Prepare(entries[:3])
	if err != nil {
		t.Fatal(err)
	}
	if lg.Size() != 0 {
		t.Fatal("Prepare changed the log")
	}
	if err := lg.Commit(p1); err != nil {
		t.Fatal(err)
	}
	if err := lg.Commit(p2); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale Commit err = %v, want ErrConflict", err)
	}
	if p1.FirstIndex() != 0 || p1.Size() != 5 || lg.Size() != 5 || p1.Root() != lg.Root() {
		t.Fatalf("after commit: first %d size %d log size %d", p1.FirstIndex(), p1.Size(), lg.Size())
	}
	if _, err := lg.Prepare([][]byte{make([]byte, EntryMaxBytes+1)}); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("oversized entry err = %v", err)
	}
}

func TestProofErrors(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	if _, err := NewLog().Append(ctx, s, genEntries(t, 20)); err != nil {
		t.Fatal(err)
	}
	if _, err := InclusionProof(ctx, s, 20, 20); !errors.Is(err, ErrRange) {
		t.Errorf("index = size: %v", err)
	}
	if _, err := InclusionProof(ctx, s, 3, 21); err == nil {
		t.Errorf("size past the tiles accepted")
	}
	if _, err := ConsistencyProof(ctx, s, 10, 5); !errors.Is(err, ErrRange) {
		t.Errorf("size1 > size2: %v", err)
	}
	if _, err := RootAt(ctx, s, 300); !errors.Is(err, ErrNotFound) {
		t.Errorf("root past the tiles: %v", err)
	}
}

// TestLogLargeBoundaries checks proofs around the level-1 and level-2 tile
// boundaries (256·256 = 65,536 leaves).
func TestLogLargeBoundaries(t *testing.T) {
	if testing.Short() {
		t.Skip("large log")
	}
	t.Parallel()
	ctx := context.Background()
	const n = 65536 + 300
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = []byte(fmt.Sprintf("leaf %d", i)) // raw leaves: the log takes any bytes
	}
	ref := refTree(entries)
	s := NewMemStore()
	lg := NewLog()
	sizes := []uint64{255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 65536 + 255, 65536 + 256, n}
	prev := uint64(0)
	for _, size := range sizes {
		if _, err := lg.Append(ctx, s, entries[prev:size]); err != nil {
			t.Fatal(err)
		}
		prev = size
		root, err := RootAt(ctx, s, size)
		if err != nil || !bytes.Equal(root[:], ref.HashAt(size)) {
			t.Fatalf("size %d root: %v", size, err)
		}
		for _, i := range []uint64{0, 1, 255, 256, size / 2, size - 257, size - 256, size - 2, size - 1} {
			if i >= size {
				continue
			}
			p, err := InclusionProof(ctx, s, i, size)
			if err != nil {
				t.Fatal(err)
			}
			lh := LeafHash(entries[i])
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, lh[:], ProofBytes(p), root[:]); err != nil {
				t.Fatalf("size %d index %d: %v", size, i, err)
			}
		}
		for _, s1 := range sizes {
			if s1 > size {
				break
			}
			p, err := ConsistencyProof(ctx, s, s1, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, s1, size, ProofBytes(p), ref.HashAt(s1), root[:]); err != nil {
				t.Fatalf("consistency %d->%d: %v", s1, size, err)
			}
		}
	}
	if got := len(s.tiles[[2]uint64{2, 0}]) / HashSizeBytes; got != 1 {
		t.Fatalf("level-2 tile width %d, want 1", got)
	}
	lg2, err := OpenLog(ctx, s, n)
	if err != nil || lg2.Root() != lg.Root() {
		t.Fatalf("reopen at %d: %v", n, err)
	}
}

func TestReadTilePath(t *testing.T) {
	ctx := context.Background()
	s, lg := NewMemStore(), NewLog()
	entries := genEntries(t, 300)
	if _, err := lg.Append(ctx, s, entries[:5]); err != nil {
		t.Fatal(err)
	}
	p5, err := ReadTilePath(ctx, s, "tile/0/000.p/5")
	if err != nil || len(p5) != 5*HashSizeBytes {
		t.Fatalf("partial tile: %d bytes, %v", len(p5), err)
	}
	b5, err := ReadTilePath(ctx, s, "tile/entries/000.p/5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Append(ctx, s, entries[5:]); err != nil {
		t.Fatal(err)
	}
	// After growth the partial paths serve the same bytes.
	again, err := ReadTilePath(ctx, s, "tile/0/000.p/5")
	if err != nil || !bytes.Equal(again, p5) {
		t.Fatalf("partial tile changed after growth: %v", err)
	}
	bAgain, err := ReadTilePath(ctx, s, "tile/entries/000.p/5")
	if err != nil || !bytes.Equal(bAgain, b5) {
		t.Fatalf("partial bundle changed after growth: %v", err)
	}
	es, err := SplitBundle(b5)
	if err != nil || len(es) != 5 || !bytes.Equal(es[4], entries[4]) {
		t.Fatalf("bundle entries: %d, %v", len(es), err)
	}
	full, err := ReadTilePath(ctx, s, "tile/0/000")
	if err != nil || len(full) != TileWidth*HashSizeBytes || !bytes.Equal(full[:len(p5)], p5) {
		t.Fatalf("full tile: %d bytes, %v", len(full), err)
	}
	if _, err := ReadTilePath(ctx, s, "tile/0/001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tile/0/001 (44 wide) as full: %v", err)
	}
	if _, err := ReadTilePath(ctx, s, "tile/0/001.p/44"); err != nil {
		t.Fatalf("tile/0/001.p/44: %v", err)
	}
	if _, err := ReadTilePath(ctx, s, "tile/entries/001.p/45"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bundle too wide: %v", err)
	}
}

// TestConcurrentReaders computes proofs from the store while appends go on.
func TestConcurrentReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, lg := NewMemStore(), NewLog()
	entries := genEntries(t, 1000)
	ref := refTree(entries)
	if _, err := lg.Append(ctx, s, entries[:1]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := 1; i < len(entries); i += 10 {
			if _, err := lg.Append(ctx, s, entries[i:min(i+10, len(entries))]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		size := lg.Size()
		root, err := RootAt(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root[:], ref.HashAt(size)) {
			t.Fatalf("size %d: root differs", size)
		}
		i := size / 3
		p, err := InclusionProof(ctx, s, i, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(i, size, LeafHash(entries[i]), p, root); err != nil {
			t.Fatal(err)
		}
	}
}
