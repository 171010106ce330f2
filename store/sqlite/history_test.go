package sqlite

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/google/go-cmp/cmp"
)

func decodeAll(t *testing.T, b []byte) []uint64 {
	t.Helper()
	var out []uint64
	if err := eachTimestamp(b, func(ts uint64) bool { out = append(out, ts); return true }); err != nil {
		t.Fatalf("eachTimestamp: %v", err)
	}
	return out
}

func TestTimestampsRoundTrip(t *testing.T) {
	t.Parallel()
	tss := []uint64{1, 2, 1_700_000_000_000_000_000, 1_700_000_000_000_000_001, 1_700_000_000_000_999_999, math.MaxUint64}
	b, n := appendTimestamps(nil, tss, 1000)
	if n != len(tss) {
		t.Fatalf("appendTimestamps took %d of %d", n, len(tss))
	}
	if got := decodeAll(t, b); !cmp.Equal(tss, got) {
		t.Errorf("round trip = %v, want %v", got, tss)
	}
	// A limit cuts the list; the rest continues in a new stream.
	b1, n1 := appendTimestamps(nil, tss, 2*maxVarintLen)
	if n1 < 1 || n1 >= len(tss) || len(b1) > 2*maxVarintLen {
		t.Fatalf("appendTimestamps(limit %d) took %d in %d bytes", 2*maxVarintLen, n1, len(b1))
	}
	b2, n2 := appendTimestamps(nil, tss[n1:], 1000)
	if got := append(decodeAll(t, b1), decodeAll(t, b2)...); n1+n2 != len(tss) || !cmp.Equal(tss, got) {
		t.Errorf("split round trip = %v, want %v", got, tss)
	}
	// Stopping early.
	var first []uint64
	if err := eachTimestamp(b, func(ts uint64) bool { first = append(first, ts); return len(first) < 2 }); err != nil || len(first) != 2 {
		t.Errorf("eachTimestamp stopped after %v, %v; want 2", first, err)
	}
}

func TestEachTimestampRejectsMalformed(t *testing.T) {
	t.Parallel()
	for name, b := range map[string][]byte{
		"truncated uvarint": {0x80},
		"repeated":          {5, 0},
		"overflow":          {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01},
	} {
		if err := eachTimestamp(b, func(uint64) bool { return true }); !errors.Is(err, errTimestamps) {
			t.Errorf("eachTimestamp(%s) error = %v, want errTimestamps", name, err)
		}
	}
}

func TestParseL0(t *testing.T) {
	t.Parallel()
	var entries []byte
	want := map[ledger.ID][]uint64{ledger.IDFromUint64(1): {10, 20}, ledger.IDFromUint64(2): {15}}
	for _, id := range []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)} {
		entries = append(entries, id[:]...)
		entries = append(entries, 0, 0)
		start := len(entries)
		entries, _ = appendTimestamps(entries, want[id], 100)
		entries[start-2], entries[start-1] = 0, byte(len(entries)-start)
	}
	got := map[ledger.ID][]uint64{}
	err := parseL0(entries, func(a ledger.ID, off, end int) error {
		got[a] = decodeAll(t, entries[off:end])
		return nil
	})
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("parseL0 = %v, %v; want %v", got, err, want)
	}
	for _, bad := range [][]byte{entries[:5], entries[:len(entries)-1], append(make([]byte, 16), 0, 0)} {
		if err := parseL0(bad, func(ledger.ID, int, int) error { return nil }); err == nil {
			t.Errorf("parseL0(%x) succeeded, want an error", bad)
		}
	}
}

func FuzzHistoryDecoders(f *testing.F) {
	b, _ := appendTimestamps(nil, []uint64{5, 9, 1 << 40}, 100)
	f.Add(b)
	f.Add(append(append(make([]byte, 16), 0, byte(len(b))), b...))
	f.Fuzz(func(t *testing.T, in []byte) {
		var prev uint64
		first := true
		_ = eachTimestamp(in, func(ts uint64) bool {
			if !first && ts <= prev {
				t.Fatalf("eachTimestamp yielded %d after %d", ts, prev)
			}
			first, prev = false, ts
			return true
		})
		_ = parseL0(in, func(_ ledger.ID, off, end int) error {
			if off < 0 || off > end || end > len(in) {
				t.Fatalf("parseL0 record [%d:%d] outside %d bytes", off, end, len(in))
			}
			return eachTimestamp(in[off:end], func(uint64) bool { return true })
		})
	})
}

// TestMergeFrom checks which level-0 batches a merge replaces: the newest
// and each older one smaller than twice those after it, or all of them if
// more than half of historyBatchesMax would be kept.
func TestMergeFrom(t *testing.T) {
	t.Parallel()
	batches := func(sizes ...int64) []l0Batch {
		var l0 []l0Batch
		for i, s := range sizes {
			l0 = append(l0, l0Batch{first: int64(i), last: int64(i), size: s})
		}
		return l0
	}
	equal := make([]int64, historyBatchesMax)
	for i := range equal {
		equal[i] = 100
	}
	tail := append([]int64{1000, 500, 200}, equal[3:]...)
	grown := append([]int64{100_000, 40_000}, equal[2:]...)
	grownOnce := append([]int64{100_000, 2_000}, equal[2:]...)
	halving := make([]int64, historyBatchesMax)
	for i := range halving {
		halving[i] = int64(1) << (historyBatchesMax - i) // each twice the next
	}
	// kept(n): n batches, each 4 times the next, then equal ones.
	kept := func(n int) []int64 {
		sizes := slices.Clone(equal)
		for i := range n {
			sizes[i] = int64(1) << (2*(n-i) + 12)
		}
		return sizes
	}
	for _, tc := range []struct {
		name  string
		sizes []int64
		want  int
	}{
		{"equal", equal, 0},
		{"merged smaller than the rest", tail, 0},
		{"merged larger than twice the rest", grown, 2},
		{"merged larger than twice the rest once", grownOnce, 1},
		{"halving", halving, 0},
		{"half kept", kept(historyBatchesMax / 2), historyBatchesMax / 2},
		{"more than half kept", kept(historyBatchesMax/2 + 1), 0},
		{"one", []int64{5}, 0},
		{"newest largest", []int64{1, 1, 1, 50}, 0},
		{"oldest largest", []int64{50, 1, 1, 1}, 1},
	} {
		if got := mergeFrom(batches(tc.sizes...)); got != tc.want {
			t.Errorf("%s: mergeFrom(%v) = %d, want %d", tc.name, tc.sizes, got, tc.want)
		}
	}
}
