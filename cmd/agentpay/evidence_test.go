package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// seenBatch is a batch's tree as the node committed it.
type seenBatch struct {
	leaves    [][]byte
	transfers map[ledger.ID]uint64 // transfer id -> batch-tree index
	logIndex  uint64
}

type batchLog struct {
	mu      sync.Mutex
	batches []seenBatch
}

func (l *batchLog) onEvidence(r *ledgerlog.Records, logIndex, _ uint64) {
	sb := seenBatch{leaves: r.Leaves(), transfers: map[ledger.ID]uint64{}, logIndex: logIndex}
	for i := range r.Transfers {
		sb.transfers[r.Transfers[i].ID] = r.TransferIndex(i)
	}
	l.mu.Lock()
	l.batches = append(l.batches, sb)
	l.mu.Unlock()
}

func (l *batchLog) find(id ledger.ID) (seenBatch, uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.batches {
		if i, ok := b.transfers[id]; ok {
			return b, i, true
		}
	}
	return seenBatch{}, 0, false
}

// TestTransferIsProvable sends a transfer through the API and proves the
// stored transfer into the store-backed evidence log with a two-level
// proof (batch tree, then log), checked by the evidence package's
// verifier; after a restart the log resumes at the same size and root and
// the proof still verifies at the new size.
func TestTransferIsProvable(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	seen := &batchLog{}
	n, err := startNode(ctx, nodeConfig{DataDir: dir, Addr: "127.0.0.1:0", OnEvidence: seen.onEvidence})
	if err != nil {
		t.Fatal(err)
	}
	secret := n.AdminSecret
	closed := false
	defer func() {
		if !closed {
			n.close(ctx)
		}
	}()
	must := func(n *node, v any, args ...string) {
		t.Helper()
		var out bytes.Buffer
		root := newRootCommand()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--url", n.URL(), "--api-key", secret}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if v != nil {
			if err := json.Unmarshal(out.Bytes(), v); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out.String())
			}
		}
	}
	must(n, nil, "assets", "create", "--ledger", "1", "--code", "USD", "--scale", "2")
	var bank, wallet protocol.Account
	must(n, &bank, "accounts", "create", "--ledger", "1", "--code", "1")
	must(n, &wallet, "accounts", "create", "--ledger", "1", "--code", "2")
	var tr protocol.Transfer
	must(n, &tr, "transfers", "create", "--debit", bank.ID, "--credit", wallet.ID, "--amount", "500", "--ledger", "1", "--code", "1")
	id, err := ledger.ParseID(strings.TrimPrefix(tr.ID, protocol.PrefixTransfer))
	if err != nil {
		t.Fatal(err)
	}

	prove := func(n *node) (uint64, evidence.Hash) {
		t.Helper()
		rec, err := n.store.GetTransfer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		leaf := ledgerlog.TransferLeaf(nil, &rec)
		sb, idx, ok := seen.find(id)
		if !ok {
			t.Fatalf("transfer %s in no committed batch", tr.ID)
		}
		if !bytes.Equal(sb.leaves[idx], leaf) {
			t.Fatalf("stored transfer's leaf %x, committed leaf %x", leaf, sb.leaves[idx])
		}
		tiles := ledgerlog.Tiles{R: n.store}
		size, err := n.store.EvidenceSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		root, err := evidence.RootAt(ctx, tiles, size)
		if err != nil {
			t.Fatal(err)
		}
		batchEntry, err := evidence.ReadEntry(ctx, tiles, sb.logIndex)
		if err != nil {
			t.Fatal(err)
		}
		logPath, err := evidence.InclusionProof(ctx, tiles, sb.logIndex, size)
		if err != nil {
			t.Fatal(err)
		}
		entryPath, err := evidence.BatchTree(sb.leaves).InclusionProof(idx)
		if err != nil {
			t.Fatal(err)
		}
		p := evidence.BatchProof{EntryIndex: idx, EntryPath: entryPath, BatchEntry: batchEntry,
			LogIndex: sb.logIndex, LogSize: size, LogPath: logPath}
		if err := p.Verify(leaf, root); err != nil {
			t.Fatalf("two-level proof of transfer %s: %v", tr.ID, err)
		}
		bad := rec
		bad.Amount = 501
		if err := p.Verify(ledgerlog.TransferLeaf(nil, &bad), root); err == nil {
			t.Fatal("a changed transfer verifies")
		}
		return size, root
	}
	size, root := prove(n)
	if size != n.evidence.Evidence().Size() || root != n.evidence.Evidence().Root() {
		t.Fatalf("store log %d %v, in-memory log %d %v", size, root, n.evidence.Evidence().Size(), n.evidence.Evidence().Root())
	}

	// Restart: the log reopens at the committed size and root, keeps
	// appending, and the old transfer is provable at the new size.
	if err := n.close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	n, err = startNode(ctx, nodeConfig{DataDir: dir, Addr: "127.0.0.1:0", OnEvidence: seen.onEvidence})
	if err != nil {
		t.Fatal(err)
	}
	defer n.close(ctx)
	if got := n.evidence.Evidence(); got.Size() != size || got.Root() != root {
		t.Fatalf("reopened log %d %v, want %d %v", got.Size(), got.Root(), size, root)
	}
	must(n, nil, "transfers", "create", "--debit", bank.ID, "--credit", wallet.ID, "--amount", "7", "--ledger", "1", "--code", "1")
	size2, root2 := prove(n)
	if size2 <= size {
		t.Fatalf("log size %d after another transfer, want > %d", size2, size)
	}
	consistency, err := evidence.ConsistencyProof(ctx, ledgerlog.Tiles{R: n.store}, size, size2)
	if err != nil {
		t.Fatal(err)
	}
	if err := evidence.VerifyConsistency(size, size2, consistency, root, root2); err != nil {
		t.Fatal(err)
	}
}
