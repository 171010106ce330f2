package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/store/storetest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	sqlite3 "modernc.org/sqlite"
)

// openAt opens and migrates the store at path, closing it at cleanup.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunHarness(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return openAt(t, filepath.Join(t.TempDir(), "agentpay.db"))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			path := s.(*Store).Path()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openAt(t, path)
		},
	})
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "agentpay.db"))
}

// TestHistoryCompaction checks the two-level history: level 0 empties into
// level 1 every historyBatchesMax batches (when it holds enough: here it
// always does), and reads see both levels.
func TestHistoryCompaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	l := newBenchLoadSize(20, false, 50)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	s.w.l0BytesMin = 0
	var all []ledger.TransferRecord
	count := func(table string) int {
		var n int
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := 1; i <= historyBatchesMax+3; i++ {
		b := l.nextBatch()
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		all = append(all, b.Transfers...)
		wantL0 := i % historyBatchesMax
		if got := count("history_batches"); got != wantL0 {
			t.Fatalf("after %d batches: %d level-0 batches, want %d", i, got, wantL0)
		}
		if got := count("account_transfers") > 0; got != (i >= historyBatchesMax) {
			t.Fatalf("after %d batches: level 1 has rows = %v, want %v", i, got, i >= historyBatchesMax)
		}
	}
	// Every account's transfers, from both levels, in order.
	for _, a := range l.accounts {
		var want []ledger.Transfer
		for _, r := range all {
			if r.DebitAccountID == a.ID || r.CreditAccountID == a.ID {
				want = append(want, r.Transfer)
			}
		}
		var got []ledger.Transfer
		for after := uint64(0); ; {
			p, err := s.ListAccountTransfers(ctx, a.ID, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Transfers...)
			if p.Next == 0 {
				break
			}
			after = p.Next
		}
		// go-cmp only on a mismatch: it is slow, more so under -race.
		if len(want) != len(got) || !slices.Equal(want, got) {
			t.Fatalf("ListAccountTransfers(%v) mismatch (-want +got):\n%s", a.ID, cmp.Diff(want, got, cmpopts.EquateEmpty()))
		}
	}
}

func TestCommitBatchRejectsMalformedBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	tr := func(ts uint64) ledger.TransferRecord {
		return ledger.TransferRecord{Transfer: ledger.Transfer{ID: ledger.IDFromUint64(ts), Timestamp: ts}}
	}
	for name, b := range map[string]*ledger.Batch{
		"seq 0":                      {Seq: 0, Timestamp: 10},
		"transfers out of order":     {Seq: 1, Timestamp: 10, Transfers: []ledger.TransferRecord{tr(5), tr(4)}},
		"same timestamp twice":       {Seq: 1, Timestamp: 10, Transfers: []ledger.TransferRecord{tr(5), tr(5)}},
		"transfer after the batch":   {Seq: 1, Timestamp: 10, Transfers: []ledger.TransferRecord{tr(11)}},
		"timestamp above 2^63":       {Seq: 1, Timestamp: math.MaxInt64 + 1},
		"expiries out of order":      {Seq: 1, Timestamp: 10, Expiries: []ledger.Expiry{{Timestamp: 5}, {Timestamp: 4}}},
		"outcome created after 2^63": {Seq: 1, Timestamp: 10, Outcomes: []ledger.Outcome{{Key: "k", CreatedAt: math.MaxUint64}}},
	} {
		if err := s.CommitBatch(ctx, b); err == nil {
			t.Errorf("CommitBatch(%s) succeeded, want an error", name)
		}
	}
	var seq int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM shard_positions").Scan(&seq); err != nil || seq != 0 {
		t.Errorf("positions after rejected batches = %d, %v; want none", seq, err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, p := range []string{"", "a?b.db", "a#b.db"} {
		if s, err := Open(ctx, p, Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing-dir", "x.db"), Options{}); err == nil {
		t.Error("Open(file in a missing directory) succeeded, want an error")
	}

	s, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{ReadConns: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
		t.Errorf("SchemaVersion(unmigrated) = %d, %v; want 0", v, err)
	}
	if runtime.GOOS == "linux" && !sqlite3.FdatasyncEnabled() {
		t.Error("an open store's commits sync with fsync, want fdatasync")
	}
	if err := s.CommitBatch(ctx, &ledger.Batch{Seq: 1}); err == nil {
		t.Error("CommitBatch(unmigrated) succeeded, want an error")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.CommitBatch(ctx, &ledger.Batch{Seq: 1}); err == nil {
		t.Error("CommitBatch after Close succeeded, want an error")
	}
	if _, err := s.GetAccount(ctx, ledger.IDFromUint64(1)); err == nil {
		t.Error("GetAccount after Close succeeded, want an error")
	}
}

func TestMigrationsAreOrdered(t *testing.T) {
	t.Parallel()
	ms := migrations()
	if len(ms) == 0 || LatestSchemaVersion() != len(ms) {
		t.Fatalf("migrations() = %d, LatestSchemaVersion() = %d", len(ms), LatestSchemaVersion())
	}
	for i, m := range ms {
		if m.version != i+1 || m.sql == "" {
			t.Errorf("migration %d = version %d (%s), %d bytes", i, m.version, m.name, len(m.sql))
		}
	}
}

// TestWALStaysBounded commits back to back, as the engine does under load,
// and checks that the WAL is rewound (so it does not grow without bound).
func TestWALStaysBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("commits ~200 MB of WAL")
	}
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	l := newBenchLoad(1000, false)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	const walBytesMax = 2 * walFramesRestart * 4120 // the restart threshold, with room for batches in flight
	var largest int64
	for range 120 { // ~1.8 MB of WAL each
		if err := s.CommitBatch(ctx, l.nextBatch()); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(s.Path() + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, fi.Size())
	}
	if largest > walBytesMax {
		t.Errorf("WAL grew to %d bytes, want at most %d", largest, walBytesMax)
	}
}

// TestCommitBatchKeepsNothing checks that CommitBatch keeps no reference to
// the batch: the engine reuses its memory once CommitBatch returns.
func TestCommitBatchKeepsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	l := newBenchLoad(10, false)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	b := l.nextBatch()
	b.Transfers = b.Transfers[:5]
	b.Timestamp = b.Transfers[4].Timestamp
	b.Expiries = []ledger.Expiry{{PendingID: ledger.IDFromUint64(7), Timestamp: b.Timestamp}}
	b.Outcomes = []ledger.Outcome{{Key: "k", Body: []byte("body"), CreatedAt: 1}}
	// Docs with a grouped key and another (doc_key_groups, doc_keys).
	payKey := "pay_" + b.Transfers[0].ID.String()
	b.Docs = []ledger.Doc{{Kind: "payment", Key: payKey, Body: []byte(`{"a":1}`), Timestamp: b.Timestamp - 1},
		{Kind: "payment", Key: "other", Body: []byte(`{"b":2}`), Timestamp: b.Timestamp}}
	if err := s.CommitBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	want := b.Transfers[0]
	s.wmu.Lock()
	for _, v := range s.w.vals[:cap(s.w.vals)] {
		if v != nil {
			t.Errorf("writer keeps a bound value %T after CommitBatch", v)
			break
		}
	}
	for _, a := range s.w.args {
		if a.Value != nil {
			t.Errorf("writer keeps argument %d (%T) after CommitBatch", a.Ordinal, a.Value)
			break
		}
	}
	s.wmu.Unlock()
	// Scribbling over the batch changes nothing stored.
	b.Transfers[0].Amount++
	b.Outcomes[0].Body[0] = 'X'
	b.Docs[0].Body[0], b.Docs[1].Body[0] = 'X', 'X'
	got, err := s.GetTransfer(ctx, want.ID)
	if err != nil || got != want {
		t.Errorf("GetTransfer = %+v, %v; want %+v", got, err, want)
	}
	if o, err := s.GetOutcome(ctx, "k"); err != nil || string(o.Body) != "body" {
		t.Errorf("GetOutcome = %q, %v; want body", o.Body, err)
	}
	for key, body := range map[string]string{payKey: `{"a":1}`, "other": `{"b":2}`} {
		if docs, err := s.DocHistory(ctx, "payment", key); err != nil || len(docs) != 1 || string(docs[0].Body) != body {
			t.Errorf("DocHistory(%s) = %v, %v; want one doc %s", key, docs, err, body)
		}
	}
}

// TestHistoryMerge checks the level-0 merges of small batches: every
// historyBatchesMax batches, the newest level-0 batches become one (all of
// them, or the newer ones of a level 0 that ends in much smaller batches)
// until level 0 holds l0BytesMin bytes, then it moves to level 1; reads
// see every transfer, in order, throughout.
func TestHistoryMerge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	l := newBenchLoadSize(20, false, 20)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	count := func(query string) int {
		var n int
		if err := s.rdb.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var all []ledger.TransferRecord
	var merged, moved, kept bool
	prevN := 0
	for i := 1; i <= 8*historyBatchesMax; i++ {
		// 32 batches of 20 transfers leave ~15 KB of level 0, and a merge
		// of them ~3 KB: level 0 is merged whole, and grows. 32 batches of
		// one transfer leave ~1.5 KB: merges keep the larger batch before
		// them. Then level 0 moves to level 1 every 32 batches.
		l.batch.Transfers = l.batch.Transfers[:20]
		b := l.nextBatch()
		switch {
		case i <= 3*historyBatchesMax:
			s.w.l0BytesMin = 1 << 30
		case i <= 6*historyBatchesMax:
			b.Transfers = b.Transfers[:1]
		default:
			s.w.l0BytesMin = 10500
		}
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		all = append(all, b.Transfers...)
		n := count("SELECT count(*) FROM history_batches")
		if n >= historyBatchesMax {
			t.Fatalf("after %d batches: %d level-0 batches, want fewer than %d", i, n, historyBatchesMax)
		}
		compacted := prevN == historyBatchesMax-1
		if compacted {
			if n > historyBatchesMax/2+1 {
				t.Fatalf("after %d batches: a merge left %d level-0 batches, want at most %d", i, n, historyBatchesMax/2+1)
			}
			merged = merged || n == 1
			moved = moved || n == 0
			kept = kept || n > 1
		}
		prevN = n
		// Reads right after each compaction and, without the (slow) race
		// detector, in between too, of every account or a quarter of them.
		accounts := l.accounts
		if raceEnabled {
			accounts = accounts[:len(accounts)/4]
		}
		if !compacted && (raceEnabled || i%11 != 0) {
			continue
		}
		for _, a := range accounts {
			var want []ledger.Transfer
			for _, r := range all {
				if r.DebitAccountID == a.ID || r.CreditAccountID == a.ID {
					want = append(want, r.Transfer)
				}
			}
			for _, after := range []uint64{0, want[len(want)/2].Timestamp} {
				var got []ledger.Transfer
				for cursor := after; ; {
					p, err := s.ListAccountTransfers(ctx, a.ID, cursor, 9)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, p.Transfers...)
					if p.Next == 0 {
						break
					}
					cursor = p.Next
				}
				w := want
				for len(w) > 0 && w[0].Timestamp <= after {
					w = w[1:]
				}
				if !slices.Equal(w, got) {
					t.Fatalf("after %d batches: ListAccountTransfers(%v, after %d) mismatch (-want +got):\n%s", i, a.ID, after, cmp.Diff(w, got, cmpopts.EquateEmpty()))
				}
			}
		}
	}
	if !merged || !moved || !kept || count("SELECT count(*) FROM account_transfers") == 0 {
		t.Errorf("level 0 merged whole = %v, merged in part = %v, moved to level 1 = %v; want all", merged, kept, moved)
	}
}

// storedShardState reads the state the writer keeps of shard 0 from the
// database.
func storedShardState(t *testing.T, s *Store) shardState {
	t.Helper()
	ctx := context.Background()
	var st shardState
	var seq, ts, docLast int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT seq, timestamp FROM shard_positions WHERE shard = 0").Scan(&seq, &ts); err != nil {
		t.Fatal(err)
	}
	err := s.rdb.QueryRowContext(ctx, "SELECT last_ts FROM doc_chunks WHERE shard = 0 ORDER BY first_ts DESC LIMIT 1").Scan(&docLast)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	st.seq, st.ts, st.docLast = uint64(seq), uint64(ts), uint64(docLast)
	rows, err := s.rdb.QueryContext(ctx, `SELECT h.first_ts, h.last_ts, (SELECT sum(length(entries))
		FROM account_transfers_recent WHERE shard = 0 AND batch_ts = h.first_ts)
		FROM history_batches h WHERE h.shard = 0 ORDER BY h.first_ts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var l l0Batch
		if err := rows.Scan(&l.first, &l.last, &l.size); err != nil {
			t.Fatal(err)
		}
		st.l0 = append(st.l0, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWriterShardState checks that the shard state the writer keeps
// between batches (position, last doc, level-0 batches) is what the
// database holds after every commit, and that a failed commit, early or
// late in the batch, makes the writer read it again.
func TestWriterShardState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	l := newBenchLoadSize(20, false, 7)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	s.w.l0BytesMin = 10500 // level 0 is merged, then moved to level 1
	check := func(i int) {
		t.Helper()
		sh, ok := s.w.shards[0]
		if !ok {
			t.Fatalf("batch %d: the writer knows nothing of shard 0", i)
		}
		want := storedShardState(t, s)
		got := shardState{seq: sh.seq, ts: sh.ts, docLast: want.docLast, l0: want.l0}
		if sh.docKnown {
			got.docLast = sh.docLast
		}
		if sh.l0Known {
			got.l0 = sh.l0
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(shardState{}, l0Batch{}), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("batch %d: writer's shard state (-stored +kept):\n%s", i, diff)
		}
	}
	failed := func(i int, what string, b *ledger.Batch) {
		t.Helper()
		if err := s.CommitBatch(ctx, b); err == nil {
			t.Fatalf("batch %d: commit with %s succeeded", i, what)
		}
		if len(s.w.shards) != 0 {
			t.Fatalf("batch %d: after a failed commit (%s) the writer still keeps shard state", i, what)
		}
	}
	for i := 1; i <= 3*historyBatchesMax; i++ {
		b := l.nextBatch()
		b.Docs = append(b.Docs[:0], ledger.Doc{Kind: "note", Key: fmt.Sprintf("note-%d", i), Body: []byte("x"), Timestamp: l.next()})
		b.Timestamp = l.ts
		b.Outcomes = append(b.Outcomes[:0], ledger.Outcome{Key: fmt.Sprintf("key-%d", i), Status: 200, CreatedAt: l.ts})
		if i%10 == 5 {
			b.Seq++
			failed(i, "a seq gap", b)
			b.Seq--
			b.Outcomes[0].Key = "key-1"
			failed(i, "a taken outcome key", b)
			b.Outcomes[0].Key = fmt.Sprintf("key-%d", i)
			ts := b.Docs[0].Timestamp
			b.Docs[0].Timestamp = storedShardState(t, s).docLast
			failed(i, "a doc at the last stored doc's timestamp", b)
			b.Docs[0].Timestamp = ts
		}
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		check(i)
	}
}
