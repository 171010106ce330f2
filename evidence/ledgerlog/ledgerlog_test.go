package ledgerlog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/internal/bench"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store/sqlite"
)

var bg = context.Background()

func openStore(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(bg, path, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(bg); err != nil {
		tb.Fatal(err)
	}
	return st
}

func startEngine(tb testing.TB, st ledger.Store, ev ledger.EvidenceLog) *ledger.Engine {
	tb.Helper()
	e, err := ledger.Open(bg, ledger.Config{Store: st, Evidence: ev})
	if err != nil {
		tb.Fatal(err)
	}
	e.Start()
	return e
}

// committed is one batch seen by OnCommitted.
type committed struct {
	leaves    [][]byte
	transfers []ledger.TransferRecord
	first     int // tree index of the first transfer
	logIndex  uint64
}

type recorder struct {
	mu      sync.Mutex
	batches []committed
}

func (r *recorder) onCommitted(recs *ledgerlog.Records, logIndex, _ uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, committed{
		leaves:    recs.Leaves(),
		transfers: slices.Clone(recs.Transfers),
		first:     int(recs.TransferIndex(0)),
		logIndex:  logIndex,
	})
}

// rebuildAll rebuilds every batch entry of the store's log from the
// store's records and checks it against the entry, and proves every
// transfer from the store alone (ProveTransfer) at the committed size.
func rebuildAll(t *testing.T, st *sqlite.Store, rec *recorder) {
	t.Helper()
	size, err := st.EvidenceSize(bg)
	if err != nil {
		t.Fatal(err)
	}
	root, err := evidence.RootAt(bg, ledgerlog.Tiles{R: st}, size)
	if err != nil {
		t.Fatal(err)
	}
	for i := range size {
		b, err := evidence.ReadEntry(bg, ledgerlog.Tiles{R: st}, i)
		if err != nil {
			t.Fatal(err)
		}
		e, err := evidence.ParseEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := ledgerlog.Rebuild(bg, st, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledgerlog.CheckBatch(e, recs); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	for _, c := range rec.batches {
		for _, tr := range c.transfers {
			p, err := ledgerlog.ProveTransfer(bg, st, 0, tr.ID, size)
			if err != nil {
				t.Fatalf("prove %s: %v", tr.ID, err)
			}
			if p.Record != tr || p.Proof.LogIndex != c.logIndex {
				t.Fatalf("prove %s: record %+v at %d, want %+v at %d", tr.ID, p.Record, p.Proof.LogIndex, tr, c.logIndex)
			}
			if err := p.Proof.Verify(p.Leaf, root); err != nil {
				t.Fatalf("prove %s: %v", tr.ID, err)
			}
		}
	}
	if len(rec.batches) > 0 && len(rec.batches[0].transfers) > 0 {
		tr := rec.batches[0].transfers[0]
		if _, err := ledgerlog.ProveTransfer(bg, st, 0, tr.ID, rec.batches[0].logIndex); !errors.Is(err, ledgerlog.ErrNotCovered) {
			t.Fatalf("prove at a size before its batch: %v, want ErrNotCovered", err)
		}
	}
}

// verifyAll proves every recorded transfer into the store's log at its
// committed size, from the store's tiles alone.
func verifyAll(t *testing.T, st *sqlite.Store, rec *recorder, l *ledgerlog.Log) int {
	t.Helper()
	tiles := ledgerlog.Tiles{R: st}
	size, err := st.EvidenceSize(bg)
	if err != nil {
		t.Fatal(err)
	}
	if size != l.Evidence().Size() {
		t.Fatalf("store size %d, log size %d", size, l.Evidence().Size())
	}
	root, err := evidence.RootAt(bg, tiles, size)
	if err != nil {
		t.Fatal(err)
	}
	if root != l.Evidence().Root() {
		t.Fatalf("root from tiles %v, log root %v", root, l.Evidence().Root())
	}
	n := 0
	for _, c := range rec.batches {
		batchEntry, err := evidence.ReadEntry(bg, tiles, c.logIndex)
		if err != nil {
			t.Fatal(err)
		}
		logPath, err := evidence.InclusionProof(bg, tiles, c.logIndex, size)
		if err != nil {
			t.Fatal(err)
		}
		tree := evidence.BatchTree(c.leaves)
		for i := range c.transfers {
			idx := uint64(c.first + i)
			path, err := tree.InclusionProof(idx)
			if err != nil {
				t.Fatal(err)
			}
			p := evidence.BatchProof{EntryIndex: idx, EntryPath: path, BatchEntry: batchEntry,
				LogIndex: c.logIndex, LogSize: size, LogPath: logPath}
			leaf := ledgerlog.TransferLeaf(nil, &c.transfers[i])
			if err := p.Verify(leaf, root); err != nil {
				t.Fatalf("batch at %d, transfer %d: %v", c.logIndex, i, err)
			}
			// A changed transfer does not verify.
			bad := c.transfers[i]
			bad.Amount++
			if err := p.Verify(ledgerlog.TransferLeaf(nil, &bad), root); err == nil {
				t.Fatalf("batch at %d, transfer %d: a changed amount verifies", c.logIndex, i)
			}
			n++
		}
	}
	return n
}

func sendTransfers(t *testing.T, e *ledger.Engine, firstID uint64, requests, per int) {
	t.Helper()
	id := firstID
	for r := range requests {
		ts := make([]ledger.Transfer, per)
		for i := range ts {
			ts[i] = ledger.Transfer{ID: ledger.IDFromUint64(id),
				DebitAccountID:  ledger.IDFromUint64(uint64(1 + (r+i)%10)),
				CreditAccountID: ledger.IDFromUint64(uint64(1 + (r+i+1)%10)),
				Amount:          uint64(1 + i), Ledger: 1, Code: 1}
			id++
		}
		res, err := e.CreateTransfers(bg, ts, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range res {
			if !x.Committed() {
				t.Fatalf("transfer %d: %v", i, x)
			}
		}
	}
}

func TestEngineBatchesAreProvable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ev.db")
	st := openStore(t, path)
	rec := &recorder{}
	l, err := ledgerlog.Open(bg, st, ledgerlog.Options{OnCommitted: rec.onCommitted})
	if err != nil {
		t.Fatal(err)
	}
	e := startEngine(t, st, l)
	if err := bench.SetupAccounts(bg, e, 10); err != nil {
		t.Fatal(err)
	}
	sendTransfers(t, e, 1000, 40, 7)
	if err := e.Stop(bg); err != nil {
		t.Fatal(err)
	}
	if got := verifyAll(t, st, rec, l); got != 280 {
		t.Fatalf("verified %d transfers, want 280", got)
	}
	rebuildAll(t, st, rec)
	size := l.Evidence().Size()
	if size < 3 {
		t.Fatalf("log size %d, want one leaf per batch (>= 3)", size)
	}

	// Reopen: the log resumes at the stored size and root and keeps
	// appending; every earlier proof still verifies at the new size.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, path)
	defer st.Close()
	l2, err := ledgerlog.Open(bg, st, ledgerlog.Options{OnCommitted: rec.onCommitted})
	if err != nil {
		t.Fatal(err)
	}
	if l2.Evidence().Size() != size || l2.Evidence().Root() != l.Evidence().Root() {
		t.Fatalf("reopened at %d %v, want %d %v", l2.Evidence().Size(), l2.Evidence().Root(), size, l.Evidence().Root())
	}
	e = startEngine(t, st, l2)
	sendTransfers(t, e, 100000, 300, 3)
	if err := e.Stop(bg); err != nil {
		t.Fatal(err)
	}
	if got := verifyAll(t, st, rec, l2); got != 280+900 {
		t.Fatalf("verified %d transfers, want %d", got, 280+900)
	}
	rebuildAll(t, st, rec)
	if l2.Evidence().Size() < size+1 {
		t.Fatalf("size %d after reopen, want > %d", l2.Evidence().Size(), size)
	}
	t.Logf("log size %d after %d batches", l2.Evidence().Size(), len(rec.batches))
}

// BenchmarkEngine is ledger's BenchmarkEngine (1,000 accounts, SQLite
// store) without and with the evidence log.
func BenchmarkEngine(b *testing.B) {
	for _, perRequest := range []int{ledger.BatchEventsMax, 100} {
		for _, withEvidence := range []bool{false, true} {
			name := fmt.Sprintf("transfers_per_request=%d/evidence=%v", perRequest, withEvidence)
			b.Run(name, func(b *testing.B) {
				st := openStore(b, filepath.Join(b.TempDir(), "bench.db"))
				defer st.Close()
				var ev ledger.EvidenceLog
				if withEvidence {
					l, err := ledgerlog.Open(bg, st, ledgerlog.Options{})
					if err != nil {
						b.Fatal(err)
					}
					ev = l
				}
				e := startEngine(b, st, ev)
				defer e.Stop(bg)
				if err := bench.SetupAccounts(bg, e, 1000); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				res, err := bench.Engine(bg, e, max(b.N, perRequest), perRequest, 1000, 1<<32)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.PerSecond(), "transfers/s")
			})
		}
	}
}
