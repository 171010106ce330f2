package evidence

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestTilesMatchSumdbTlog checks the tiles and paths against an independent
// implementation, golang.org/x/mod/sumdb/tlog (height-8 tiles; its paths carry
// the height, "tile/8/…", which tlog-tiles omits).
func TestTilesMatchSumdbTlog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 70000 // crosses the level-1 boundary at 65,536 leaves
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = []byte{byte(i), byte(i >> 8), byte(i >> 16), 'e'}
	}
	store, lg := NewMemStore(), NewLog()
	prev := int64(0)
	for _, size := range []int64{1, 255, 256, 300, 65535, 65536, 65537, n} {
		for i := prev; i < size; i++ {
			hs, err := tlog.StoredHashes(i, entries[i], hr)
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, hs...)
		}
		if _, err := lg.Append(ctx, store, entries[prev:size]); err != nil {
			t.Fatal(err)
		}
		want, err := tlog.TreeHash(size, hr)
		if err != nil {
			t.Fatal(err)
		}
		if got := lg.Root(); !bytes.Equal(got[:], want[:]) {
			t.Fatalf("size %d: root %x, tlog %x", size, got[:], want[:])
		}
		for _, tl := range tlog.NewTiles(TileHeight, prev, size) {
			data, err := tlog.ReadTileData(tl, hr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := store.ReadTile(ctx, uint64(tl.L), uint64(tl.N))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(data)], data) {
				t.Fatalf("size %d: tile %s differs", size, tl.Path())
			}
			if want := strings.Replace(tl.Path(), "tile/8/", "tile/", 1); TilePath(uint64(tl.L), uint64(tl.N), tl.W) != want {
				t.Fatalf("path %q, tlog %q", TilePath(uint64(tl.L), uint64(tl.N), tl.W), want)
			}
		}
		prev = size
	}
}
