package ledgerlog

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/agentpay/agentpay/ledger"
)

// TestBatchRoot checks the parallel in-place root against evidence.BatchTree
// over BatchRecords, at sizes around the chunk and power-of-two boundaries.
func TestBatchRoot(t *testing.T) {
	l := New(Options{})
	for _, n := range []int{1, 2, 3, 5, 255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 3000, 8189} {
		b := &ledger.Batch{Assets: []ledger.Asset{{Ledger: 1, Code: "USD", Scale: 2, Timestamp: 1}}}
		for i := range n {
			id := ledger.IDFromUint64(uint64(i + 1))
			switch i % 3 {
			case 0:
				b.Accounts = append(b.Accounts, ledger.Account{ID: id, Ledger: 1, Code: 1, Timestamp: uint64(i)})
			case 1:
				b.Transfers = append(b.Transfers, ledger.TransferRecord{Transfer: ledger.Transfer{ID: id, Amount: uint64(i), Timestamp: uint64(i)}, Fingerprint: 7})
			default:
				b.Expiries = append(b.Expiries, ledger.Expiry{PendingID: id, Timestamp: uint64(i)})
			}
		}
		want := BatchRecords(b, l.lastTS).Tree()
		l.createdAccounts(b)
		root, count := l.batchRoot(b)
		if root != want.Root() || count != want.Size() {
			t.Errorf("%d events: root %v count %d, want %v %d", b.Events(), root, count, want.Root(), want.Size())
		}
	}
}

// TestPrepareCommitted covers the hook's bookkeeping without a store: an
// empty batch adds nothing, a prepared batch must be committed before the
// next one, and Committed installs the append.
func TestPrepareCommitted(t *testing.T) {
	l := New(Options{})
	log := l.Evidence()
	empty := &ledger.Batch{Seq: 1, Outcomes: []ledger.Outcome{{Key: "k"}}}
	if err := l.Prepare(empty); err != nil || empty.Evidence != nil {
		t.Fatalf("Prepare(empty) = %v, evidence %v; want nil, nil", err, empty.Evidence)
	}
	l.Committed(empty)
	b := &ledger.Batch{Seq: 2, Timestamp: 5, Expiries: []ledger.Expiry{{Timestamp: 5}}}
	if err := l.Prepare(b); err != nil {
		t.Fatal(err)
	}
	if b.Evidence == nil || b.Evidence.Size != 1 || len(b.Evidence.Files) != 2 {
		t.Fatalf("evidence %+v, want size 1 and a tile and a bundle", b.Evidence)
	}
	for _, f := range b.Evidence.Files {
		if f.Path != TileKey(0, 0) && f.Path != BundleKey(0) {
			t.Errorf("file path %q, want a full-width key", f.Path)
		}
	}
	if err := l.Prepare(&ledger.Batch{Seq: 3, Expiries: []ledger.Expiry{{}}}); err == nil {
		t.Fatal("Prepare before the previous batch's Committed succeeded")
	}
	if log.Size() != 0 {
		t.Fatalf("log size %d before Committed, want 0", log.Size())
	}
	l.Committed(b)
	if log.Size() != 1 {
		t.Fatalf("log size %d after Committed, want 1", log.Size())
	}
}

// TestBatchRootDocHashes: a batch's doc leaves take the body hashes its
// submitter computed (Batch.DocHashes) where it gave them and hash the
// bodies otherwise: the root is the tree's with all, some (a shorter list,
// a zero hash) or none given, across chunks; a given hash that is not the
// body's changes the root, so the given ones are the ones used.
func TestBatchRootDocHashes(t *testing.T) {
	for _, n := range []int{1, 3, 1024, 1500, 3000} {
		b := &ledger.Batch{Transfers: []ledger.TransferRecord{{Transfer: ledger.Transfer{ID: ledger.IDFromUint64(1), Amount: 1, Timestamp: 1}}}}
		for i := range n {
			b.Docs = append(b.Docs, ledger.Doc{Kind: "payment", Key: fmt.Sprintf("pay_%d", i),
				Body: fmt.Appendf(nil, `{"n":%d}`, i), Timestamp: uint64(i + 2)})
		}
		l := New(Options{})
		l.createdAccounts(b)
		want := BatchRecords(b, l.lastTS).Tree()
		all := make([][32]byte, n)
		for i := range b.Docs {
			all[i] = sha256.Sum256(b.Docs[i].Body)
		}
		some := slices.Clone(all[:(n+1)/2])
		some[0] = [32]byte{}
		for _, c := range []struct {
			name   string
			hashes [][32]byte
		}{{"all", all}, {"some", some}, {"none", nil}} {
			b.DocHashes = c.hashes
			if root, count := l.batchRoot(b); root != want.Root() || count != want.Size() {
				t.Errorf("%d docs, %s hashes given: root %v count %d, want %v %d", n, c.name, root, count, want.Root(), want.Size())
			}
		}
		wrong := slices.Clone(all)
		wrong[n-1][0] ^= 1
		b.DocHashes = wrong
		if root, _ := l.batchRoot(b); root == want.Root() {
			t.Errorf("%d docs: a wrong body hash given left the root as it was", n)
		}
	}
}
