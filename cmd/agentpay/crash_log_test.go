package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/audit"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
	"github.com/agentpay/agentpay/store/sqlite"
)

// stop sends SIGTERM and waits for a clean exit (the node signs a final
// checkpoint on the way out).
func (p *serverProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("graceful shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM did not stop the server within 30 s")
	}
}

// TestCrashBetweenCommitAndCheckpoint: `agentpay serve` runs as a real
// process with a checkpoint interval far longer than the test, so every
// transfer of the load commits to the ledger and the log but no
// checkpoint is signed for it; the process is killed with SIGKILL in the
// middle of the load. The restarted node signs a checkpoint that covers
// every acknowledged transfer, consistent with the one before the kill;
// after every lost answer is retried, the data directory passes the audit
// with each transfer in the log exactly once and the batch entries in
// strictly increasing sequence.
func TestCrashBetweenCommitAndCheckpoint(t *testing.T) {
	bin, dataDir, addr := serveSetup(t)
	ctx := context.Background()
	noTimer := []string{"--checkpoint-interval", "1h"}

	// Setup, then a graceful stop: its final checkpoint covers the setup.
	srv := startServerArgs(t, bin, dataDir, addr, noTimer...)
	if srv.secret == "" {
		t.Fatal("first start printed no admin key")
	}
	c := sdk.New(srv.url, srv.secret)
	vkey, err := c.LogKey(ctx) // pinned from here on
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		t.Fatal(err)
	}
	origin := verifier.Name()
	checkpoint := func() (evidence.Checkpoint, []byte) {
		t.Helper()
		signed, err := c.LogCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cp, _, err := evidence.OpenCheckpoint(signed, origin, verifier)
		if err != nil {
			t.Fatal(err)
		}
		return cp, signed
	}
	if _, err := c.CreateAsset(ctx, "asset", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	const accounts = 8
	req := make([]protocol.Account, accounts)
	for i := range req {
		req[i] = protocol.Account{Ledger: 1, Code: 1}
	}
	res, err := c.CreateAccounts(ctx, "accounts", req)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, accounts)
	for i, r := range res.Results {
		ids[i] = r.Account.ID
	}
	srv.stop(t)

	// The load, killed in the middle: no checkpoint is due before the kill.
	srv = startServerArgs(t, bin, dataDir, addr, noTimer...)
	before, _ := checkpoint()
	if before.Size == 0 {
		t.Fatal("the graceful stop signed no checkpoint of the setup")
	}
	var (
		mu       sync.Mutex
		all      []sent
		acked    = map[string]bool{}
		seq      atomic.Uint64
		stopLoad atomic.Bool
		wg       sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for !stopLoad.Load() {
				n := seq.Add(1)
				amount := n%5 + 1
				s := sent{id: protocol.PrefixTransfer + ledger.IDFromUint64(1<<41+n).String(), key: fmt.Sprintf("crash-log-%d", n)}
				s.body = protocol.Transfer{ID: s.id, DebitAccountID: ids[n%accounts], CreditAccountID: ids[(n+1)%accounts],
					Amount: &amount, Ledger: 1, Code: 1}
				mu.Lock()
				all = append(all, s)
				mu.Unlock()
				if _, err := c.CreateTransfer(ctx, s.key, s.body); err == nil {
					mu.Lock()
					acked[s.id] = true
					mu.Unlock()
				}
			}
		})
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 600 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cp, _ := checkpoint(); cp != before {
		t.Fatalf("a checkpoint was signed during the load (%d → %d): the crash would not fall between commit and checkpoint", before.Size, cp.Size)
	}
	srv.kill(t)
	stopLoad.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no transfer acknowledged before the kill")
	}

	// The restart signs at once: a checkpoint covering every commit,
	// consistent with the one before the kill.
	srv = startServerArgs(t, bin, dataDir, addr, noTimer...)
	after, _ := checkpoint()
	if after.Size <= before.Size {
		t.Fatalf("checkpoint after restart at size %d, before the kill %d: the load's entries are not covered", after.Size, before.Size)
	}
	var cons protocol.LogConsistencyProof
	if err := getJSON(ctx, fmt.Sprintf("%s/v1/log/proof/consistency?from=%d&to=%d", srv.url, before.Size, after.Size), &cons); err != nil {
		t.Fatal(err)
	}
	path := make([]evidence.Hash, len(cons.Hashes))
	for i, h := range cons.Hashes {
		if len(h) != len(path[i]) {
			t.Fatalf("consistency proof hash %d of %d bytes", i, len(h))
		}
		copy(path[i][:], h)
	}
	if err := evidence.VerifyConsistency(before.Size, after.Size, path, before.Root, after.Root); err != nil {
		t.Fatalf("the checkpoint after the crash is not consistent with the one before: %v", err)
	}
	// Settle every request whose answer was lost, with its key: applied
	// now or replayed, never twice.
	for _, s := range all {
		if acked[s.id] {
			continue
		}
		tr, err := c.CreateTransfer(ctx, s.key, s.body)
		if err != nil || tr.ID != s.id {
			t.Fatalf("retry of %s: %v %v", s.id, tr, err)
		}
	}
	srv.stop(t)

	// Offline: every transfer acknowledged before the kill is proven by
	// the checkpoint signed on restart.
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, databaseFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		lid, err := ledger.ParseID(strings.TrimPrefix(id, protocol.PrefixTransfer))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ledgerlog.ProveTransfer(ctx, st, 0, lid, after.Size)
		if err != nil {
			t.Fatalf("acknowledged transfer %s: %v", id, err)
		}
		if err := p.Proof.Verify(p.Leaf, after.Root); err != nil {
			t.Fatalf("acknowledged transfer %s: %v", id, err)
		}
	}
	// Batch entries: strictly increasing sequence numbers, no duplicates.
	size, err := st.EvidenceSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tiles := ledgerlog.Tiles{R: st}
	var lastSeq uint64
	seen := map[string]bool{}
	batches := 0
	for i := range size {
		raw, err := evidence.ReadEntry(ctx, tiles, i)
		if err != nil {
			t.Fatal(err)
		}
		e, err := evidence.ParseEntry(raw)
		if err != nil {
			t.Fatal(err)
		}
		if seen[e.ID] {
			t.Fatalf("log entry %d: %s is logged twice", i, e.ID)
		}
		seen[e.ID] = true
		if e.Kind != evidence.KindBatch {
			continue
		}
		if batches > 0 && e.Seq <= lastSeq {
			t.Fatalf("log entry %d: batch seq %d after %d", i, e.Seq, lastSeq)
		}
		lastSeq = e.Seq
		batches++
	}
	// The audit: every stored record in the log once, balances replayed,
	// every checkpoint consistent with the one before.
	rep, err := audit.Run(ctx, audit.NewStoreSource(st), audit.Options{Origin: origin, Verifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Divergence != nil {
		t.Fatalf("the ledger diverges from its log after the crash: %v", rep.Divergence)
	}
	if rep.Transfers != len(all) || rep.Accounts != accounts || rep.Assets != 1 || rep.Batches != batches || !rep.Listed {
		t.Fatalf("audit %+v; want %d transfers (each once), %d accounts, %d batches", rep, len(all), accounts, batches)
	}
	st.Close()
	// And the command agrees, exit status included.
	if out, errOut, err := runAudit("--data-dir", dataDir, "--log-key", strings.TrimSpace(vkey)); err != nil ||
		!strings.Contains(out, "OK: the ledger matches its evidence log") {
		t.Fatalf("agentpay audit --data-dir: %v\n%s%s", err, out, errOut)
	}
	t.Logf("%d transfers (%d acknowledged before SIGKILL), %d log entries, checkpoints %d → %d across the crash",
		len(all), len(acked), size, before.Size, after.Size)
}
