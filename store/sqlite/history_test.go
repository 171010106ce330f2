package sqlite

import (
	"errors"
	"math"
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
