package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/agentpay/agentpay/ledger"
)

// ulidKey returns prefix followed by the ULID text of millisecond ms and
// the 80 bits hi (upper 16) and lo.
func ulidKey(prefix string, ms uint64, hi uint16, lo uint64) string {
	var id ledger.ID
	binary.BigEndian.PutUint64(id[:8], ms<<16|uint64(hi))
	binary.BigEndian.PutUint64(id[8:], lo)
	return prefix + id.String()
}

// groupedKey reports whether key is stored in doc_key_groups, by the
// definition: its last 26 characters are a ULID's canonical (upper-case)
// text.
func groupedKey(key string) bool {
	if len(key) < ledger.IDTextLength {
		return false
	}
	u := key[len(key)-ledger.IDTextLength:]
	id, err := ledger.ParseID(u)
	return err == nil && id.String() == u
}

func TestSplitDocKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, prefix string
		ok          bool
	}{
		{"pay_01M8MVEB20H67Y3XBWBAN6PAW3", "pay_01M8MVEB20", true},
		{"01M8MVEB20H67Y3XBWBAN6PAW3", "01M8MVEB20", true}, // a bare ULID
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "7ZZZZZZZZZ", true}, // the largest ULID
		{"a:b/00000000000000000000000000", "a:b/0000000000", true},
		{"pay_81M8MVEB20H67Y3XBWBAN6PAW3", "", false},  // 8 first: more than 128 bits
		{"pay_01m8mveb20h67y3xbwban6paw3", "", false},  // lower case
		{"pay_01M8MVEB20H67Y3XBWBAN6PAw3", "", false},  // one lower-case letter
		{"pay_01M8MVEB20H67Y3XBWBAN6PAWU", "", false},  // U is not Crockford
		{"pay_01M8MVEB2OH67Y3XBWBAN6PAW3", "", false},  // O in the time part
		{"pay_01M8MVEB20H67Y3XBWBAN6PAW3_", "", false}, // not at the end
		{"1M8MVEB20H67Y3XBWBAN6PAW3", "", false},       // 25 characters
		{"pay_3", "", false},
		{"", "", false},
	} {
		prefix, suffix, ok := splitDocKey(tc.key)
		if ok != tc.ok || prefix != tc.prefix {
			t.Errorf("splitDocKey(%q) = %q, %v; want %q, %v", tc.key, prefix, ok, tc.prefix, tc.ok)
		}
		if ok != groupedKey(tc.key) {
			t.Errorf("splitDocKey(%q) = %v, disagrees with ledger.ParseID", tc.key, ok)
		}
		if ok {
			id, _ := ledger.ParseID(tc.key[len(tc.key)-26:])
			if !bytes.Equal(suffix[:], id[6:]) {
				t.Errorf("splitDocKey(%q) suffix %x, want the id's lower 80 bits %x", tc.key, suffix, id[6:])
			}
		}
	}
	// The suffix is the id's lower 80 bits, so suffixes order as the
	// keys' last 16 characters do.
	rng := rand.New(rand.NewPCG(3, 4))
	var prev [docSuffixSize]byte
	prevKey := "k_" + ledger.ID{}.String()
	for range 2000 {
		var id ledger.ID
		binary.BigEndian.PutUint64(id[:8], rng.Uint64()>>(1+rng.IntN(60)))
		binary.BigEndian.PutUint64(id[8:], rng.Uint64()>>rng.IntN(64))
		key := "k_" + id.String()
		prefix, suffix, ok := splitDocKey(key)
		if !ok || prefix != key[:len(key)-16] || !bytes.Equal(suffix[:], id[6:]) {
			t.Fatalf("splitDocKey(%q) = %q, %x, %v; want %q, %x", key, prefix, suffix, ok, key[:len(key)-16], id[6:])
		}
		if bytes.Compare(prev[:], suffix[:]) != strings.Compare(prevKey[len(prevKey)-16:], key[len(key)-16:]) {
			t.Fatalf("suffixes %x and %x order unlike keys %s and %s", prev, suffix, prevKey, key)
		}
		prev, prevKey = suffix, key
	}
}

// FuzzSplitDocKey: a key is grouped exactly when its last 26 characters
// are a ULID's canonical text; its prefix and suffix then make up the key.
func FuzzSplitDocKey(f *testing.F) {
	for _, k := range []string{"pay_01M8MVEB20H67Y3XBWBAN6PAW3", "01M8MVEB20H67Y3XBWBAN6PAW3", "pay_81M8MVEB20H67Y3XBWBAN6PAW3",
		"pay_01m8mveb20h67y3xbwban6paw3", "pay_3", "\xff\x00ZZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		prefix, suffix, ok := splitDocKey(key)
		if ok != groupedKey(key) {
			t.Fatalf("splitDocKey(%q) = %v, want %v", key, ok, !ok)
		}
		if !ok {
			return
		}
		id, _ := ledger.ParseID(key[len(key)-26:])
		if prefix != key[:len(key)-16] || !bytes.Equal(suffix[:], id[6:]) {
			t.Fatalf("splitDocKey(%q) = %q, %x; want %q, %x", key, prefix, suffix, key[:len(key)-16], id[6:])
		}
	})
}

// docGroupBlob returns the entries blob of es (suffix, ts, chunk) and its
// first and last suffixes.
func docGroupBlob(es ...docGroupEntry) (minSuffix, maxSuffix, entries []byte) {
	entries = make([]byte, len(es)*docEntrySize)
	for i, e := range es {
		var s [docSuffixSize]byte
		copy(s[:], e.suffix)
		putDocGroupEntry(entries[i*docEntrySize:], &s, e.ts, e.chunk)
	}
	if len(es) == 0 {
		return nil, nil, entries
	}
	return es[0].suffix, es[len(es)-1].suffix, entries
}

func sfx(b ...byte) []byte { return append(make([]byte, docSuffixSize-len(b)), b...) }

// TestDocGroupMalformed: rows that are not a group's fail every reader
// with an error naming what is wrong.
func TestDocGroupMalformed(t *testing.T) {
	t.Parallel()
	minS, maxS, good := docGroupBlob(docGroupEntry{sfx(1), 10, 5}, docGroupEntry{sfx(1), 12, 5}, docGroupEntry{sfx(3), 11, 11})
	if n, err := checkDocGroup(minS, maxS, good); err != nil || n != 3 {
		t.Fatalf("checkDocGroup(good) = %d, %v", n, err)
	}
	var found []uint64
	if err := findDocGroup(minS, maxS, good, sfx(1), func(e docGroupEntry) { found = append(found, e.ts) }); err != nil || !slices.Equal(found, []uint64{10, 12}) {
		t.Fatalf("findDocGroup(good, 1) = %v, %v; want [10 12]", found, err)
	}
	_, _, unsorted := docGroupBlob(docGroupEntry{sfx(3), 11, 11}, docGroupEntry{sfx(1), 10, 5})
	_, _, dup := docGroupBlob(docGroupEntry{sfx(1), 10, 5}, docGroupEntry{sfx(1), 10, 5})
	_, _, chunkAfter := docGroupBlob(docGroupEntry{sfx(1), 10, 11})
	_, _, tsHigh := docGroupBlob(docGroupEntry{sfx(1), 1 << 63, 5})
	for _, tc := range []struct {
		name           string
		min, max, blob []byte
		want           string
	}{
		{"empty", minS, maxS, nil, "not a positive multiple"},
		{"cut short", minS, maxS, good[:len(good)-1], "not a positive multiple"},
		{"unsorted", sfx(3), sfx(1), unsorted, "not after entry"},
		{"duplicate", sfx(1), sfx(1), dup, "not after entry"},
		{"chunk after its doc", sfx(1), sfx(1), chunkAfter, "chunk 11 after its doc"},
		{"timestamp above 2^63-1", sfx(1), sfx(1), tsHigh, "above 2^63-1"},
		{"min_suffix not the first", sfx(0), maxS, good, "min_suffix"},
		{"max_suffix not the last", minS, sfx(4), good, "max_suffix"},
		{"short min_suffix", sfx(1)[:9], maxS, good, "min_suffix"},
	} {
		called := false
		fn := func(docGroupEntry) { called = true }
		for name, err := range map[string]error{
			"each": eachDocGroup(tc.min, tc.max, tc.blob, fn),
			"find": findDocGroup(tc.min, tc.max, tc.blob, sfx(1), fn),
		} {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %s = %v, want an error saying %q", tc.name, name, err, tc.want)
			}
		}
		if called {
			t.Errorf("%s: an entry was passed on from a malformed row", tc.name)
		}
	}
}

// FuzzDocGroup: checking, walking and searching any row never panics; a
// row either fails all three with an error, passing on no entry, or is
// whole entries in strictly increasing order between its bounds, and a
// search finds exactly the entries of its suffix. Entries made of the
// input, put in order as the writer does, make a row that passes and in
// which every entry is found.
func FuzzDocGroup(f *testing.F) {
	minS, maxS, good := docGroupBlob(docGroupEntry{sfx(1), 10, 5}, docGroupEntry{sfx(1), 12, 5},
		docGroupEntry{sfx(2, 0), 3, 3}, docGroupEntry{sfx(0xff, 0xff), math.MaxInt64, 0})
	f.Add(minS, maxS, good, sfx(1))
	f.Add(minS, maxS, good, sfx(2))
	f.Add(minS, maxS, good[:docEntrySize+3], sfx(1))
	f.Add(minS, minS, good[:docEntrySize], minS)
	f.Add([]byte{}, []byte{}, []byte{}, []byte{})
	f.Add(maxS, minS, append(bytes.Clone(good[3*docEntrySize:]), good[:docEntrySize]...), maxS)
	f.Fuzz(func(t *testing.T, minSuffix, maxSuffix, entries, suffix []byte) {
		checkWritten(t, entries)
		n, err := checkDocGroup(minSuffix, maxSuffix, entries)
		var all, found []docGroupEntry
		eerr := eachDocGroup(minSuffix, maxSuffix, entries, func(e docGroupEntry) { all = append(all, e) })
		ferr := findDocGroup(minSuffix, maxSuffix, entries, suffix, func(e docGroupEntry) { found = append(found, e) })
		if (err == nil) != (eerr == nil) || (err == nil) != (ferr == nil) {
			t.Fatalf("check %v, each %v, find %v: want all to fail or none", err, eerr, ferr)
		}
		if err != nil {
			if len(all) > 0 || len(found) > 0 || err.Error() == "" {
				t.Fatalf("%v: passed on %d and %d entries", err, len(all), len(found))
			}
			return
		}
		if n == 0 || n*docEntrySize != len(entries) || len(all) != n {
			t.Fatalf("%d bytes: %d entries, %d walked", len(entries), n, len(all))
		}
		if !bytes.Equal(all[0].suffix, minSuffix) || !bytes.Equal(all[n-1].suffix, maxSuffix) {
			t.Fatalf("bounds %x, %x; entries from %x to %x", minSuffix, maxSuffix, all[0].suffix, all[n-1].suffix)
		}
		var want []docGroupEntry
		for i, e := range all {
			if e.ts > math.MaxInt64 || e.chunk > e.ts {
				t.Fatalf("entry %d: timestamp %d, chunk %d", i, e.ts, e.chunk)
			}
			if i > 0 && cmp.Or(bytes.Compare(all[i-1].suffix, e.suffix), cmp.Compare(all[i-1].ts, e.ts)) >= 0 {
				t.Fatalf("entry %d not after entry %d", i, i-1)
			}
			if bytes.Equal(e.suffix, suffix) {
				want = append(want, e)
			}
		}
		if len(found) != len(want) {
			t.Fatalf("search for %x found %d entries, want %d", suffix, len(found), len(want))
		}
		for i := range want {
			if found[i].ts != want[i].ts || found[i].chunk != want[i].chunk {
				t.Fatalf("search for %x: entry %d = %+v, want %+v", suffix, i, found[i], want[i])
			}
		}
	})
}

// checkWritten makes a row of the entries in data (whole entries, each
// timestamp below 2^63 and chunk at most its timestamp, sorted and
// without repeats, as writeDocGroups writes them) and fails t unless it
// checks and every entry is found.
func checkWritten(t *testing.T, data []byte) {
	var es []docGroupEntry
	for len(data) >= docEntrySize {
		e := docGroupAt(data, 0)
		e.suffix = bytes.Clone(e.suffix)
		e.ts &= math.MaxInt64
		e.chunk = min(e.chunk, e.ts)
		es = append(es, e)
		data = data[docEntrySize:]
	}
	if len(es) == 0 {
		return
	}
	order := func(x, y docGroupEntry) int {
		return cmp.Or(bytes.Compare(x.suffix, y.suffix), cmp.Compare(x.ts, y.ts))
	}
	slices.SortFunc(es, order)
	es = slices.CompactFunc(es, func(x, y docGroupEntry) bool { return order(x, y) == 0 })
	minSuffix, maxSuffix, entries := docGroupBlob(es...)
	if n, err := checkDocGroup(minSuffix, maxSuffix, entries); err != nil || n != len(es) {
		t.Fatalf("a written row of %d entries: %d, %v", len(es), n, err)
	}
	for i, e := range es {
		var got []uint64
		if err := findDocGroup(minSuffix, maxSuffix, entries, e.suffix, func(f docGroupEntry) {
			if f.ts == e.ts && f.chunk == e.chunk {
				got = append(got, f.ts)
			}
		}); err != nil || len(got) != 1 {
			t.Fatalf("entry %d (%x at %d): found %d times, %v", i, e.suffix, e.ts, len(got), err)
		}
	}
}

// placedDoc is a committed doc and its shard.
type placedDoc struct {
	shard uint32
	d     ledger.Doc
}

// docModel is what the store must return: every committed doc.
type docModel []placedDoc

// history returns the docs of kind and key, by timestamp, then shard.
func (m docModel) history(kind, key string) []ledger.Doc {
	return m.filter(func(d *ledger.Doc) bool { return d.Kind == kind && d.Key == key })
}

// ofKind returns the docs of kind after a timestamp, by timestamp, then
// shard.
func (m docModel) ofKind(kind string, after uint64) []ledger.Doc {
	return m.filter(func(d *ledger.Doc) bool { return d.Kind == kind && d.Timestamp > after })
}

func (m docModel) filter(keep func(*ledger.Doc) bool) []ledger.Doc {
	var sel []placedDoc
	for _, p := range m {
		if keep(&p.d) {
			sel = append(sel, p)
		}
	}
	slices.SortFunc(sel, func(x, y placedDoc) int {
		return cmp.Or(cmp.Compare(x.d.Timestamp, y.d.Timestamp), cmp.Compare(x.shard, y.shard))
	})
	out := make([]ledger.Doc, len(sel))
	for i := range sel {
		out[i] = sel[i].d
	}
	return out
}

// diffDocs describes the first difference between got and want, or
// returns "" (an empty body equals a nil one).
func diffDocs(got, want []ledger.Doc) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Key != w.Key || g.Timestamp != w.Timestamp || !bytes.Equal(g.Body, w.Body) {
			return fmt.Sprintf("doc %d = %s/%s@%d %q, want %s/%s@%d %q", i, g.Kind, g.Key, g.Timestamp, g.Body,
				w.Kind, w.Key, w.Timestamp, w.Body)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d docs, want %d", len(got), len(want))
	}
	return ""
}

// checkDocModel compares DocHistory of every key in keys and DocsOfKind
// of every kind in kinds (after 0, after each third of the model's
// timestamps) with the model, and the keys' stored places with their
// shapes: grouped keys in doc_key_groups only (but those of oldKeyed
// docs, which sit in doc_keys), every other key in doc_keys. It returns a
// description of the first difference, or "".
func checkDocModel(s *Store, m docModel, keys, kinds []string, oldKeyed int) string {
	ctx := context.Background()
	for _, kind := range kinds {
		for _, key := range keys {
			got, err := s.DocHistory(ctx, kind, key)
			if err != nil {
				return fmt.Sprintf("DocHistory(%s, %s): %v", kind, key, err)
			}
			if d := diffDocs(got, m.history(kind, key)); d != "" {
				return fmt.Sprintf("DocHistory(%s, %s): %s", kind, key, d)
			}
		}
		afters := []uint64{0, math.MaxInt64}
		for _, p := range m {
			afters = append(afters, p.d.Timestamp-1, p.d.Timestamp)
		}
		slices.Sort(afters)
		afters = slices.Compact(afters)
		for i, after := range afters {
			if i%max(1, len(afters)/5) != 0 && i != len(afters)-1 {
				continue
			}
			var got []ledger.Doc
			if err := s.DocsOfKind(ctx, kind, after, func(d ledger.Doc) error { got = append(got, d); return nil }); err != nil {
				return fmt.Sprintf("DocsOfKind(%s, %d): %v", kind, after, err)
			}
			if d := diffDocs(got, m.ofKind(kind, after)); d != "" {
				return fmt.Sprintf("DocsOfKind(%s, %d): %s", kind, after, d)
			}
		}
	}
	var grouped, other int
	for _, p := range m {
		if groupedKey(p.d.Key) {
			grouped++
		} else {
			other++
		}
	}
	var keyRows, entryBytes, maxEntries int
	if err := s.rdb.QueryRow("SELECT count(*) FROM doc_keys").Scan(&keyRows); err != nil {
		return err.Error()
	}
	if err := s.rdb.QueryRow("SELECT coalesce(sum(length(entries)), 0), coalesce(max(length(entries)), 0) FROM doc_key_groups").Scan(&entryBytes, &maxEntries); err != nil {
		return err.Error()
	}
	if keyRows != other+oldKeyed || entryBytes != (grouped-oldKeyed)*docEntrySize {
		return fmt.Sprintf("%d doc_keys rows and %d bytes of group entries for %d docs with other keys and %d with grouped keys (%d of them keyed before groups)",
			keyRows, entryBytes, other, grouped, oldKeyed)
	}
	if maxEntries > docGroupEntriesMax*docEntrySize {
		return fmt.Sprintf("a group of %d bytes of entries, limit %d", maxEntries, docGroupEntriesMax*docEntrySize)
	}
	return ""
}

// TestDocKeysProperty commits random batches of docs across shards, with
// keys that end in a ULID (in a few milliseconds, so groups fill, split
// and overlap from batch to batch) and keys that do not (lower case, a
// first character above 7, no ULID at all), each key with several docs,
// and checks DocHistory and DocsOfKind against a model of every doc
// committed, and where each key is stored.
func TestDocKeysProperty(t *testing.T) {
	dir := t.TempDir()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		run++
		s, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("p%d.db", run)), Options{ReadConns: 2})
		if err != nil {
			rt.Fatal(err)
		}
		defer s.Close()
		if err := s.Migrate(ctx); err != nil {
			rt.Fatal(err)
		}
		keys := make([]string, rapid.IntRange(1, 40).Draw(rt, "keys"))
		for i := range keys {
			ms := rapid.SampledFrom([]uint64{1_750_000_000_000, 1_750_000_000_001, 1<<48 - 1}).Draw(rt, "ms")
			k := ulidKey(rapid.SampledFrom([]string{"pay_", "apr_", "", "a:b/"}).Draw(rt, "prefix"), ms,
				uint16(rapid.IntRange(0, 2).Draw(rt, "hi")), rapid.Uint64Range(0, 40).Draw(rt, "lo"))
			switch rapid.IntRange(0, 5).Draw(rt, "shape") {
			case 0:
				k = strings.ToLower(k)
			case 1:
				k = k[:len(k)-26] + "8" + k[len(k)-25:]
			case 2:
				k = fmt.Sprintf("k_%d", i)
			}
			keys[i] = k
		}
		kinds := []string{"payment", "approval"}
		shards := rapid.IntRange(1, 3).Draw(rt, "shards")
		seqs, last := make([]uint64, shards), make([]uint64, shards)
		var m docModel
		for range rapid.IntRange(1, 6).Draw(rt, "batches") {
			shard := rapid.IntRange(0, shards-1).Draw(rt, "shard")
			b := &ledger.Batch{Shard: uint32(shard), Seq: seqs[shard] + 1}
			ts := last[shard]
			for range rapid.IntRange(1, 80).Draw(rt, "docs") {
				ts += 1 + rapid.Uint64Range(0, 2).Draw(rt, "gap") // often the same in two shards
				b.Docs = append(b.Docs, ledger.Doc{Kind: rapid.SampledFrom(kinds).Draw(rt, "kind"),
					Key: rapid.SampledFrom(keys).Draw(rt, "key"), Timestamp: ts,
					Body: fmt.Appendf(nil, `{"n":%d}`, len(m)+len(b.Docs))})
			}
			b.Timestamp = ts
			if err := s.CommitBatch(ctx, b); err != nil {
				rt.Fatal(err)
			}
			seqs[shard]++
			last[shard] = ts
			for _, d := range b.Docs {
				m = append(m, placedDoc{uint32(shard), d})
			}
		}
		// Keys never committed: in the committed milliseconds, between and
		// beside committed suffixes.
		probe := slices.Clone(keys)
		for _, lo := range []uint64{41, 20} {
			probe = append(probe, ulidKey("pay_", 1_750_000_000_000, 1, lo), ulidKey("zz_", 1_750_000_000_001, 0, lo))
		}
		if d := checkDocModel(s, m, probe, kinds, 0); d != "" {
			rt.Fatal(d)
		}
	})
}

// TestDocKeysOldAndGrouped: a database whose docs were keyed in doc_keys
// before doc_key_groups existed (migrated from version 7, keys that end in
// a ULID among them) takes new docs with the same keys and others, in the
// same milliseconds, into groups; every read merges both tables.
func TestDocKeysOldAndGrouped(t *testing.T) {
	ctx := context.Background()
	s, path := openVersion7(t)
	const ms = 1_750_000_000_000
	rng := rand.New(rand.NewPCG(5, 6))
	var keys []string
	for i := range 60 {
		keys = append(keys, ulidKey("pay_", ms+uint64(i%3), 0, rng.Uint64()))
	}
	keys = append(keys, "mdt_1", "mdt_2", strings.ToLower(keys[0]))
	kinds := []string{"payment", "approval"}
	var m docModel
	last := map[uint32]uint64{}
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		shard := uint32(i % 2)
		last[shard] += 1 + rng.Uint64N(2)
		d := ledger.Doc{Kind: kinds[rng.IntN(2)], Key: keys[rng.IntN(len(keys))], Timestamp: last[shard],
			Body: fmt.Appendf(nil, `{"old":%d}`, i)}
		if _, err := tx.ExecContext(ctx, "INSERT INTO docs (shard, timestamp, kind, key, body) VALUES (?, ?, ?, ?, ?)",
			shard, int64(d.Timestamp), d.Kind, d.Key, d.Body); err != nil {
			t.Fatal(err)
		}
		m = append(m, placedDoc{shard, d})
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	old := 0
	for _, p := range m {
		if groupedKey(p.d.Key) {
			old++
		}
	}
	if d := checkDocModel(s, m, keys, kinds, old); d != "" {
		t.Fatalf("migrated: %s", d)
	}
	// New batches: more docs of the same keys, and new keys of the same
	// milliseconds, grouped.
	for i := range 60 {
		keys = append(keys, ulidKey("pay_", ms+uint64(i%3), 0, rng.Uint64()))
	}
	for seq := uint64(1); seq <= 4; seq++ {
		for shard := range uint32(2) {
			b := &ledger.Batch{Shard: shard, Seq: seq}
			for j := range 70 {
				last[shard] += 1 + rng.Uint64N(2)
				b.Docs = append(b.Docs, ledger.Doc{Kind: kinds[rng.IntN(2)], Key: keys[rng.IntN(len(keys))],
					Timestamp: last[shard], Body: fmt.Appendf(nil, `{"new":%d}`, j)})
			}
			b.Timestamp = last[shard]
			if err := s.CommitBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
			for _, d := range b.Docs {
				m = append(m, placedDoc{shard, d})
			}
		}
	}
	// Keys with docs in both tables make the test.
	both := 0
	for _, k := range keys[:60] {
		var inOld, inNew bool
		for i, p := range m {
			if p.d.Key == k && p.d.Kind == "payment" {
				inOld = inOld || i < 300
				inNew = inNew || i >= 300
			}
		}
		if inOld && inNew {
			both++
		}
	}
	if both < 20 {
		t.Fatalf("%d keys have payment docs in both tables, want at least 20", both)
	}
	if d := checkDocModel(s, m, keys, kinds, old); d != "" {
		t.Fatal(d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if d := checkDocModel(s, m, keys, kinds, old); d != "" {
		t.Fatalf("reopened: %s", d)
	}
}

// TestDocKeyGroupsMany: with many groups, in many milliseconds and several
// to a millisecond, a grouped key's lookup reads only the rows whose
// suffix range covers it (one for a key of one batch, by the primary key)
// and finds its docs.
func TestDocKeyGroupsMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	const base = 1_750_000_000_000
	rng := rand.New(rand.NewPCG(9, 10))
	var m docModel
	var keys []string
	batchesOf := map[string]int{} // per prefix: the batches that wrote it
	ts := uint64(1000)
	for seq := uint64(1); seq <= 10; seq++ {
		b := &ledger.Batch{Seq: seq}
		prefixes := map[string]bool{}
		for j := range 300 {
			ts += 1 + rng.Uint64N(3)
			// 100 new payments in each of 3 milliseconds (5 groups each);
			// the last batch also updates one key of each earlier batch.
			key := ulidKey("pay_", base+10*seq+uint64(j/100), 0, rng.Uint64())
			if seq == 10 && j < 9 {
				key = keys[j*300+rng.IntN(300)]
			} else {
				keys = append(keys, key)
			}
			prefixes[key[:len(key)-16]] = true
			b.Docs = append(b.Docs, ledger.Doc{Kind: "payment", Key: key, Timestamp: ts, Body: fmt.Appendf(nil, `{"j":%d}`, j)})
		}
		for p := range prefixes {
			batchesOf[p]++
		}
		b.Timestamp = ts
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, d := range b.Docs {
			m = append(m, placedDoc{0, d})
		}
	}
	var rows int
	if err := s.rdb.QueryRow("SELECT count(*) FROM doc_key_groups").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows < 10*3*5 || rows > 10*3*5+9 {
		t.Fatalf("%d doc_key_groups rows for 3,000 docs in 30 milliseconds of 100 (and 9 updates), want 150-159", rows)
	}
	var plan strings.Builder
	prs, err := s.rdb.Query("EXPLAIN QUERY PLAN "+docHistoryQuery, "payment", "pay_x", "pay_x", sfx(1))
	if err != nil {
		t.Fatal(err)
	}
	for prs.Next() {
		var id, parent, notused int
		var detail string
		if err := prs.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	prs.Close()
	if p := plan.String(); !strings.Contains(p, "SEARCH doc_key_groups USING PRIMARY KEY (kind=? AND prefix=? AND min_suffix<?)") {
		t.Errorf("a key's groups are found by\n%s\nwant a search of the primary key by kind, prefix and min_suffix", p)
	}
	covering := func(key string) int {
		prefix, suffix, _ := splitDocKey(key)
		var n int
		if err := s.rdb.QueryRow("SELECT count(*) FROM ("+docGroupsOfKey+")", "payment", nil, prefix, suffix[:]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, key := range keys {
		if c, most := covering(key), batchesOf[key[:len(key)-16]]; c < 1 || c > most {
			t.Fatalf("key %d (%s): %d groups cover it, want 1 to %d (the batches that wrote its millisecond)", i, key, c, most)
		} else if most == 1 && c != 1 {
			t.Fatalf("key %d (%s): %d groups cover it, want its own", i, key, c)
		}
	}
	if d := checkDocModel(s, m, keys, []string{"payment"}, 0); d != "" {
		t.Fatal(d)
	}
	// Keys not committed, inside the groups' ranges: nothing.
	for _, key := range keys[:50] {
		prefix, suffix, _ := splitDocKey(key)
		lo := binary.BigEndian.Uint64(suffix[2:])
		hi := binary.BigEndian.Uint16(suffix[:2])
		for _, other := range []string{prefix + ulidKey("", 0, hi, lo+1)[10:], prefix + ulidKey("", 0, hi, lo-1)[10:]} {
			if slices.Contains(keys, other) {
				continue
			}
			if docs, err := s.DocHistory(ctx, "payment", other); err != nil || len(docs) != 0 {
				t.Fatalf("DocHistory(%s) = %d docs, %v; want none", other, len(docs), err)
			}
		}
	}
}

// TestDocKeyGroupsCorrupt: a doc_key_groups row that is malformed, or
// that names a doc that is not there or is another key's, fails
// DocHistory and DocsOfKind with an error.
func TestDocKeyGroupsCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	b := &ledger.Batch{Seq: 1}
	for i := range 10 {
		b.Docs = append(b.Docs, ledger.Doc{Kind: "payment", Key: ulidKey("pay_", 1_750_000_000_000, 0, uint64(100+i)),
			Timestamp: uint64(50 + i), Body: []byte(`{}`)})
	}
	b.Timestamp = 59
	if err := s.CommitBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	var minS, maxS, good []byte
	if err := s.rdb.QueryRow("SELECT min_suffix, max_suffix, entries FROM doc_key_groups").Scan(&minS, &maxS, &good); err != nil {
		t.Fatal(err)
	}
	if len(good) != 10*docEntrySize {
		t.Fatalf("one group of %d bytes, want 10 entries", len(good))
	}
	entry := func(blob []byte, i int, ts, chunk uint64) []byte {
		blob = bytes.Clone(blob)
		binary.BigEndian.PutUint64(blob[i*docEntrySize+docSuffixSize:], ts)
		binary.BigEndian.PutUint64(blob[i*docEntrySize+docSuffixSize+8:], chunk)
		return blob
	}
	swapped := bytes.Clone(good)
	copy(swapped[3*docEntrySize:], good[4*docEntrySize:5*docEntrySize])
	copy(swapped[4*docEntrySize:], good[3*docEntrySize:4*docEntrySize])
	for _, tc := range []struct {
		name           string
		min, max, blob []byte
		want, wantKind string // DocHistory's error, and DocsOfKind's if not the same
	}{
		{"cut short", minS, maxS, good[:len(good)-1], "not a positive multiple", ""},
		{"one byte", minS, maxS, []byte{0}, "not a positive multiple", ""},
		{"entries swapped", minS, maxS, swapped, "not after entry", ""},
		// A point read of a key beyond max_suffix does not find the row;
		// one of its first key does, and fails.
		{"max_suffix wrong", minS, minS, good, "max_suffix", ""},
		// DocsOfKind finds the other key's doc where it is, and then
		// none where it was named again.
		{"timestamp of another key's doc", minS, maxS, entry(good, 4, 55, 50), "not of the payment/", "not in chunk"},
		{"timestamp of no doc", minS, maxS, entry(good, 4, 1000, 50), "not in chunk", ""},
		{"chunk missing", minS, maxS, entry(good, 4, 54, 51), "is missing", ""},
		{"chunk after its doc", minS, maxS, entry(good, 4, 54, 55), "after its doc", ""},
	} {
		if tc.wantKind == "" {
			tc.wantKind = tc.want
		}
		if _, err := s.wconn.ExecContext(ctx, "UPDATE doc_key_groups SET min_suffix = ?, max_suffix = ?, entries = ?", tc.min, tc.max, tc.blob); err != nil {
			t.Fatal(err)
		}
		key := b.Docs[4].Key
		if bytes.Equal(tc.max, minS) {
			key = b.Docs[0].Key
		}
		if _, err := s.DocHistory(ctx, "payment", key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: DocHistory = %v, want an error saying %q", tc.name, err, tc.want)
		}
		if err := s.DocsOfKind(ctx, "payment", 0, func(ledger.Doc) error { return nil }); err == nil || !strings.Contains(err.Error(), tc.wantKind) {
			t.Errorf("%s: DocsOfKind = %v, want an error saying %q", tc.name, err, tc.wantKind)
		}
	}
	if _, err := s.wconn.ExecContext(ctx, "UPDATE doc_key_groups SET min_suffix = ?, max_suffix = ?, entries = ?", minS, maxS, good); err != nil {
		t.Fatal(err)
	}
	m := docModel{}
	for _, d := range b.Docs {
		m = append(m, placedDoc{0, d})
	}
	if d := checkDocModel(s, m, []string{b.Docs[0].Key, b.Docs[4].Key, b.Docs[9].Key}, []string{"payment"}, 0); d != "" {
		t.Fatalf("restored: %s", d)
	}
}
