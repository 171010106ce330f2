package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// docsEqual fails t unless got and want hold the same docs in the same
// order (an empty body equals a nil one).
func docsEqual(t *testing.T, what string, got, want []ledger.Doc) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d docs, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Key != w.Key || g.Timestamp != w.Timestamp || !bytes.Equal(g.Body, w.Body) {
			t.Fatalf("%s: doc %d = %s/%s@%d (%d bytes), want %s/%s@%d (%d bytes)", what, i,
				g.Kind, g.Key, g.Timestamp, len(g.Body), w.Kind, w.Key, w.Timestamp, len(w.Body))
		}
	}
}

// checkDocs reads every doc of want (by shard, each in timestamp order)
// back through ListDocs (whole and in ranges that start and end inside
// chunks), DocHistory and DocsOfKind.
func checkDocs(t *testing.T, s *Store, want map[uint32][]ledger.Doc) {
	t.Helper()
	ctx := context.Background()
	list := func(shard uint32, from, to uint64) []ledger.Doc {
		t.Helper()
		var out []ledger.Doc
		if err := s.ListDocs(ctx, shard, from, to, func(d ledger.Doc) error { out = append(out, d); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	type shardDoc struct {
		shard uint32
		d     ledger.Doc
	}
	var all []shardDoc
	for shard, docs := range want {
		docsEqual(t, fmt.Sprintf("shard %d", shard), list(shard, 0, 1<<63-1), docs)
		for _, k := range []int{0, 1, len(docs) / 3, len(docs) / 2, len(docs) - 1} {
			for _, l := range []int{k, k + 1, k + 7, len(docs) - 1} {
				if k < 0 || l >= len(docs) || l < k {
					continue
				}
				from, to := docs[k].Timestamp, docs[l].Timestamp
				docsEqual(t, fmt.Sprintf("shard %d [%d, %d]", shard, from, to), list(shard, from, to), docs[k:l+1])
				docsEqual(t, fmt.Sprintf("shard %d (%d, %d)", shard, from, to), list(shard, from+1, max(from+1, to-1)),
					slices.DeleteFunc(slices.Clone(docs[k:l+1]), func(d ledger.Doc) bool {
						return d.Timestamp < from+1 || d.Timestamp > max(from+1, to-1)
					}))
			}
		}
		for _, d := range docs {
			all = append(all, shardDoc{shard, d})
		}
	}
	slices.SortFunc(all, func(x, y shardDoc) int {
		if x.d.Timestamp != y.d.Timestamp {
			return cmp.Compare(x.d.Timestamp, y.d.Timestamp)
		}
		return cmp.Compare(uint64(x.shard), uint64(y.shard))
	})
	byKey := map[[2]string][]ledger.Doc{}
	byKind := map[string][]ledger.Doc{}
	for _, x := range all {
		byKey[[2]string{x.d.Kind, x.d.Key}] = append(byKey[[2]string{x.d.Kind, x.d.Key}], x.d)
		byKind[x.d.Kind] = append(byKind[x.d.Kind], x.d)
	}
	for k, want := range byKey {
		got, err := s.DocHistory(ctx, k[0], k[1])
		if err != nil {
			t.Fatal(err)
		}
		docsEqual(t, "history of "+k[0]+"/"+k[1], got, want)
	}
	for kind, want := range byKind {
		for _, after := range []uint64{0, want[len(want)/2].Timestamp} {
			var got []ledger.Doc
			if err := s.DocsOfKind(ctx, kind, after, func(d ledger.Doc) error { got = append(got, d); return nil }); err != nil {
				t.Fatal(err)
			}
			i, _ := slices.BinarySearchFunc(want, after+1, func(d ledger.Doc, ts uint64) int { return cmp.Compare(d.Timestamp, ts) })
			docsEqual(t, fmt.Sprintf("docs of kind %s after %d", kind, after), got, want[i:])
		}
	}
}

// openVersion7 opens a new store with the schema of version 7 (the
// migrations up to it applied, the later ones not): a database as it was
// before docs were packed into chunks. It returns the store and its path.
func openVersion7(t *testing.T) (*Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentpay.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wconn.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations()[:7] {
		if err := s.applyMigration(ctx, m); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	return s, path
}

// TestDocsMigrated: migration 8 moves the docs of a version-7 database
// (one row per doc in docs) into doc_chunks and doc_keys and drops docs;
// every doc reads back as it was.
func TestDocsMigrated(t *testing.T) {
	ctx := context.Background()
	s, path := openVersion7(t)
	if v, err := s.SchemaVersion(ctx); err != nil || v != 7 {
		t.Fatalf("SchemaVersion = %d, %v; want 7", v, err)
	}
	// Three shards; more docs than the migration reads at once; bodies
	// empty (NULL), small, ~2.6 KB and at the limit, so chunks split.
	rng := rand.New(rand.NewPCG(7, 8))
	want := map[uint32][]ledger.Doc{}
	kinds := []string{"payment", "mandate_issued", "mandate_revoked"}
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for shard := range uint32(3) {
		ts := uint64(1000)
		n := []int{1500, 40, 1}[shard]
		for i := range n {
			ts += 1 + rng.Uint64N(1000)
			d := ledger.Doc{Kind: kinds[rng.IntN(len(kinds))], Key: fmt.Sprintf("k_%d", rng.IntN(400)), Timestamp: ts}
			switch i % 7 {
			case 0:
			case 1, 2:
				d.Body = []byte(fmt.Sprintf(`{"i":%d}`, i))
			case 3:
				d.Body = bytes.Repeat([]byte{byte(i)}, ledger.DocBodyMax)
			default:
				d.Body = bytes.Repeat([]byte("x"), 2600+rng.IntN(100))
			}
			var body any
			if len(d.Body) > 0 {
				body = d.Body
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO docs (shard, timestamp, kind, key, body) VALUES (?, ?, ?, ?, ?)",
				shard, int64(d.Timestamp), d.Kind, d.Key, body); err != nil {
				t.Fatal(err)
			}
			want[shard] = append(want[shard], d)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name IN ('docs', 'docs_by_key')").Scan(&n); err != nil || n != 0 {
		t.Fatalf("docs and docs_by_key: %d left, %v", n, err)
	}
	checkChunkSizes(t, s)
	checkDocs(t, s, want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	checkDocs(t, s, want)
	// The migrated shards take new batches after their docs.
	last := want[1][len(want[1])-1].Timestamp
	d := ledger.Doc{Kind: "payment", Key: "k_new", Body: []byte("{}"), Timestamp: last + 1}
	if err := s.CommitBatch(ctx, &ledger.Batch{Shard: 1, Seq: 1, Timestamp: last + 1, Docs: []ledger.Doc{d}}); err != nil {
		t.Fatal(err)
	}
	want[1] = append(want[1], d)
	checkDocs(t, s, want)
}

// checkChunkSizes fails t unless every doc chunk holding more than one doc
// is at most docChunkBytesMax bytes, and returns the number of chunks.
func checkChunkSizes(t *testing.T, s *Store) int {
	t.Helper()
	rows, err := s.rdb.Query("SELECT first_ts, last_ts, records FROM doc_chunks")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var first, last int64
		var recs []byte
		if err := rows.Scan(&first, &last, &recs); err != nil {
			t.Fatal(err)
		}
		var docs []ledger.Doc
		if err := decodeDocChunk(uint64(first), recs, func(d ledger.Doc) error { docs = append(docs, d); return nil }); err != nil {
			t.Fatal(err)
		}
		var buf []byte
		if recs, err = unpackDocChunk(&buf, recs); err != nil {
			t.Fatal(err)
		}
		if len(docs) > 1 && len(recs) > docChunkBytesMax {
			t.Errorf("chunk %d of %d docs has %d bytes, limit %d", first, len(docs), len(recs), docChunkBytesMax)
		}
		if docs[len(docs)-1].Timestamp != uint64(last) {
			t.Errorf("chunk %d: last_ts %d, last doc at %d", first, last, docs[len(docs)-1].Timestamp)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDocChunksSplit: a batch with more than docChunkBytesMax bytes of docs
// is cut into several chunks, which read back in order; a doc at or
// before the shard's last stored one is refused.
func TestDocChunksSplit(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "agentpay.db"))
	want := map[uint32][]ledger.Doc{}
	ts := uint64(100)
	for seq := uint64(1); seq <= 3; seq++ {
		b := &ledger.Batch{Seq: seq}
		for i := range 100 {
			ts += 3
			body := bytes.Repeat([]byte{byte('a' + i%26)}, 2600)
			if i == 50 {
				body = bytes.Repeat([]byte("z"), ledger.DocBodyMax)
			}
			if i == 60 {
				body = nil
			}
			b.Docs = append(b.Docs, ledger.Doc{Kind: "payment", Key: fmt.Sprintf("pay_%d_%d", seq, i%40), Body: body, Timestamp: ts})
		}
		b.Timestamp = ts
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		want[0] = append(want[0], b.Docs...)
	}
	if n := checkChunkSizes(t, s); n < 3*5 {
		t.Errorf("%d chunks for 3 batches of ~325 KiB of docs, want at least 15", n)
	}
	checkDocs(t, s, want)

	b := &ledger.Batch{Seq: 4, Timestamp: ts + 10,
		Docs: []ledger.Doc{{Kind: "payment", Key: "late", Timestamp: ts}, {Kind: "payment", Key: "late", Timestamp: ts + 5}}}
	if err := s.CommitBatch(ctx, b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CommitBatch(doc at the last stored doc's timestamp) = %v, want ErrConflict", err)
	}
	checkDocs(t, s, want)
}

// FuzzDocChunk: decoding arbitrary bytes fails or succeeds, never panics;
// encoded docs decode to themselves.
func FuzzDocChunk(f *testing.F) {
	var c docChunker
	c.add(0, 5, "payment", "pay_1", []byte(`{"a":1}`))
	c.add(1, 9, "mandate_revoked", "mdt_1", nil)
	f.Add(uint64(5), c.records(&c.chunks[0]))
	f.Add(uint64(0), []byte{0, 1, 'a', 1, 'b', 0})
	f.Add(uint64(1<<63-1), []byte{0, 0, 0, 0, 1})
	f.Add(uint64(3), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	// Compressed: a chunk of docs alike, and S2 blocks claiming too much.
	var alike docChunker
	for i := range 8 {
		alike.add(i, uint64(10+i), "payment", fmt.Sprintf("pay_%d", i), bytes.Repeat([]byte(`{"amount":31,"currency":"USD"}`), 20))
	}
	f.Add(uint64(10), packDocChunk(nil, alike.records(&alike.chunks[0])))
	f.Add(uint64(10), []byte{docChunkS2, 0xff, 0xff, 0xff, 0x7f, 0})
	f.Add(uint64(10), []byte{docChunkS2, 0x05, 0x10, 0, 1, 'a', 1})
	f.Fuzz(func(t *testing.T, first uint64, data []byte) {
		var got []ledger.Doc
		if err := decodeDocChunk(first, data, func(d ledger.Doc) error { got = append(got, d); return nil }); err == nil {
			// What decodes re-encodes to a chunk that decodes the same.
			var c docChunker
			for i, d := range got {
				c.add(i, d.Timestamp, d.Kind, d.Key, d.Body)
			}
			var again []ledger.Doc
			for i := range c.chunks {
				ch := &c.chunks[i]
				if err := decodeDocChunk(ch.first, c.records(ch), func(d ledger.Doc) error { again = append(again, d); return nil }); err != nil {
					t.Fatalf("re-encoded chunk: %v", err)
				}
			}
			docsEqual(t, "re-encoded", again, got)
		}
		// Docs made of the input: round trip.
		var want []ledger.Doc
		ts := first % (1 << 62)
		for len(data) > 0 {
			n := int(data[0]) % 8
			data = data[1:]
			n = min(n, len(data))
			ts += 1 + uint64(n)*1000
			want = append(want, ledger.Doc{Kind: string(data[:n/2]), Key: string(data[n/2 : n]), Body: bytes.Clone(data[:n]), Timestamp: ts})
			if n == 0 {
				want[len(want)-1].Body = nil
			}
			data = data[n:]
		}
		var c docChunker
		for i, d := range want {
			c.add(i, d.Timestamp, d.Kind, d.Key, d.Body)
		}
		var got2, packed []ledger.Doc
		for i := range c.chunks {
			ch := &c.chunks[i]
			if err := decodeDocChunk(ch.first, c.records(ch), func(d ledger.Doc) error { got2 = append(got2, d); return nil }); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
			// The stored form, compressed or not, decodes the same.
			if err := decodeDocChunk(ch.first, packDocChunk(nil, c.records(ch)), func(d ledger.Doc) error { packed = append(packed, d); return nil }); err != nil {
				t.Fatalf("chunk %d packed: %v", i, err)
			}
		}
		docsEqual(t, "round trip", got2, want)
		docsEqual(t, "round trip packed", packed, want)
	})
}

// benchDocs commits what batches of wallet payments carry in docs: 100
// docs of ~2.6 KB (JSON) each, with time-ordered keys pay_<timestamp>, or
// with ulid, keys pay_<ULID> as the wallet's (100 to a millisecond).
type benchDocs struct {
	s       *Store
	ts, seq uint64
	body    []byte
	ulid    bool
}

// key returns the key of the doc at ts.
func (d *benchDocs) key(ts uint64) string {
	if d.ulid {
		return ulidKey("pay_", 1_750_000_000_000+ts/100_000, 0, ts*0x9e3779b97f4a7c15)
	}
	return fmt.Sprintf("pay_%016x", ts)
}

const benchDocsPerBatch = 100

func newBenchDocs(b *testing.B) *benchDocs {
	return &benchDocs{s: openAt(b, filepath.Join(b.TempDir(), "bench.db")),
		body: bytes.Repeat([]byte(`{"payment":"x","amount":12345,`), 2600/30)}
}

func (d *benchDocs) batch() *ledger.Batch {
	d.seq++
	batch := &ledger.Batch{Seq: d.seq}
	for range benchDocsPerBatch {
		d.ts += 1000
		batch.Docs = append(batch.Docs, ledger.Doc{Kind: "payment", Key: d.key(d.ts), Body: d.body, Timestamp: d.ts})
	}
	batch.Timestamp = d.ts
	return batch
}

// BenchmarkCommitDocs commits batches of benchDocs, reporting the CPU a
// batch's commit takes and the database size per doc.
func BenchmarkCommitDocs(b *testing.B) {
	ctx := context.Background()
	d := newBenchDocs(b)
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		batch := d.batch()
		c0 := proc.CPU()
		b.StartTimer()
		if err := d.s.CommitBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += proc.CPU() - c0
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/batch")
	var pages int64
	if err := d.s.rdb.QueryRowContext(ctx, "SELECT page_count FROM pragma_page_count()").Scan(&pages); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(pages*4096)/float64(b.N*benchDocsPerBatch), "dbbytes/doc")
}

// BenchmarkDocHistory reads single docs back by key (a point read) from
// 100 batches of benchDocs: keys in doc_keys (hex) or grouped (ulid).
func BenchmarkDocHistory(b *testing.B) {
	for _, ulid := range []bool{false, true} {
		name := "keys=hex"
		if ulid {
			name = "keys=ulid"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			d := newBenchDocs(b)
			d.ulid = ulid
			for range 100 {
				if err := d.s.CommitBatch(ctx, d.batch()); err != nil {
					b.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for range b.N {
				key := d.key(1000 * (1 + rng.Uint64N(d.ts/1000)))
				docs, err := d.s.DocHistory(ctx, "payment", key)
				if err != nil || len(docs) != 1 {
					b.Fatalf("DocHistory(%s) = %d docs, %v", key, len(docs), err)
				}
			}
		})
	}
}

// TestDocChunksCompressed: chunks of docs alike (JSON payments) are stored
// as S2 blocks, several times smaller than their records; chunks that do
// not compress (random bodies) and small ones are stored as they are;
// every read path returns the docs committed either way, and a chunk row
// stored uncompressed (as every row before schema version 10) reads as
// before. A compressed row that is corrupt or claims too much fails the
// read with an error.
func TestDocChunksCompressed(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "agentpay.db"))
	want := map[uint32][]ledger.Doc{}
	ts := uint64(100)
	rng := rand.New(rand.NewPCG(1, 2))
	for seq := uint64(1); seq <= 3; seq++ {
		b := &ledger.Batch{Seq: seq}
		for i := range 60 {
			ts += 2
			body := fmt.Appendf(nil, `{"id":"pay_%d_%d","mandate":"mdt_1","agent":"agt_x","amount":%d,"currency":"USD","decision":{"outcome":"allow","checks":[{"type":"payment.budget","result":"pass"}]}}`, seq, i, 31+i)
			if seq == 2 {
				body = make([]byte, 1000)
				for j := range body {
					body[j] = byte(rng.Uint32())
				}
			}
			b.Docs = append(b.Docs, ledger.Doc{Kind: "payment", Key: fmt.Sprintf("pay_%d_%d", seq, i), Body: body, Timestamp: ts})
		}
		b.Timestamp = ts
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		want[0] = append(want[0], b.Docs...)
	}
	// A small batch: one doc, too small to compress.
	ts += 2
	small := ledger.Doc{Kind: "payment", Key: "small", Body: []byte(`{}`), Timestamp: ts}
	if err := s.CommitBatch(ctx, &ledger.Batch{Seq: 4, Timestamp: ts, Docs: []ledger.Doc{small}}); err != nil {
		t.Fatal(err)
	}
	want[0] = append(want[0], small)

	rows := storedRows(t, s, "SELECT first_ts, records FROM doc_chunks ORDER BY first_ts")
	if len(rows) != 4 {
		t.Fatalf("%d chunk rows, want one per batch (4)", len(rows))
	}
	for i, r := range rows {
		var buf []byte
		recs, err := unpackDocChunk(&buf, r.stored)
		if err != nil {
			t.Fatal(err)
		}
		compressed := r.stored[0] == docChunkS2
		switch i {
		case 0, 2: // JSON payments
			if !compressed || len(r.stored)*3 > len(recs) {
				t.Errorf("chunk %d: %d bytes stored for %d of records (compressed %v), want an S2 block a third or less", i, len(r.stored), len(recs), compressed)
			}
		case 1, 3: // random bodies; one small doc
			if compressed || !bytes.Equal(r.stored, recs) {
				t.Errorf("chunk %d: stored compressed %v, want the records as they are", i, compressed)
			}
		}
	}
	checkDocs(t, s, want)

	// A row stored uncompressed, as an earlier version wrote every row,
	// reads as before; the first row is rewritten so.
	var buf []byte
	recs, err := unpackDocChunk(&buf, rows[0].stored)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wconn.ExecContext(ctx, "UPDATE doc_chunks SET records = ? WHERE first_ts = ?", bytes.Clone(recs), rows[0].key); err != nil {
		t.Fatal(err)
	}
	checkDocs(t, s, want)

	// Corrupt compressed rows fail the reads that meet them.
	for _, bad := range [][]byte{
		append([]byte{docChunkS2}, rows[2].stored[1:len(rows[2].stored)/2]...), // cut short
		{docChunkS2, 0xff, 0xff, 0xff, 0x7f, 0},                                // claims 256 MiB
		{docChunkS2, 0},                                                        // claims nothing
	} {
		if _, err := s.wconn.ExecContext(ctx, "UPDATE doc_chunks SET records = ? WHERE first_ts = ?", bad, rows[2].key); err != nil {
			t.Fatal(err)
		}
		if err := s.ListDocs(ctx, 0, 0, 1<<63-1, func(ledger.Doc) error { return nil }); err == nil {
			t.Errorf("ListDocs over a corrupt compressed chunk % x... succeeded", bad[:min(len(bad), 6)])
		}
		if _, err := s.DocHistory(ctx, "payment", want[0][120].Key); err == nil {
			t.Errorf("DocHistory of a doc in a corrupt compressed chunk succeeded")
		}
		if err := s.DocsOfKind(ctx, "payment", 0, func(ledger.Doc) error { return nil }); err == nil {
			t.Errorf("DocsOfKind over a corrupt compressed chunk succeeded")
		}
	}
}
