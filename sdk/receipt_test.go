package sdk_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// receiptSetup is a server with the evidence log, an asset, a bank and two
// users, and a client that trusts the log's key.
type receiptSetup struct {
	env   *apitest.Env
	c     *sdk.Client
	bank  string
	users [2]string
}

func newReceiptSetup(t *testing.T) *receiptSetup {
	t.Helper()
	env := apitest.New(t, apitest.Options{Evidence: true})
	ctx := t.Context()
	c := sdk.New(env.URL, env.AdminSecret, sdk.WithLogKey(env.LogKey))
	if k, err := c.TrustedLog(); err != nil || k.Origin() != apitest.LogOrigin {
		t.Fatalf("TrustedLog = %v, %v; want origin %s", k, err, apitest.LogOrigin)
	}
	if _, err := c.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	s := &receiptSetup{env: env, c: c}
	bank, err := c.CreateAccount(ctx, "", protocol.Account{Ledger: 1, Code: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.bank = bank.ID
	for i := range s.users {
		u, err := c.CreateAccount(ctx, "", protocol.Account{Ledger: 1, Code: 2})
		if err != nil {
			t.Fatal(err)
		}
		s.users[i] = u.ID
	}
	return s
}

func (s *receiptSetup) sign(t *testing.T) {
	t.Helper()
	if _, _, err := s.env.LogSigner.SignNow(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func (s *receiptSetup) transfer(t *testing.T, to int, amount uint64) *protocol.Transfer {
	t.Helper()
	tr, err := s.c.CreateTransfer(t.Context(), "", protocol.Transfer{DebitAccountID: s.bank, CreditAccountID: s.users[to], Amount: u64(amount), Ledger: 1, Code: 1})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// wantErr checks that err matches target and says something.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// TestReceiptsAndProofs: the client verifies the receipts of single and
// batch transfers, proves them once a checkpoint covers them, monitors the
// checkpoints on the way, and refuses forged receipts and proofs of other
// transfers.
func TestReceiptsAndProofs(t *testing.T) {
	t.Parallel()
	s := newReceiptSetup(t)
	ctx := t.Context()
	s.sign(t)
	if _, err := s.c.SyncLog(ctx); err != nil {
		t.Fatal(err)
	}
	first, ok := s.c.MonitorLatest()
	if !ok || first.Size == 0 {
		t.Fatalf("MonitorLatest = %+v, %v after SyncLog", first, ok)
	}

	one := s.transfer(t, 0, 700)
	r, err := s.c.VerifyReceipt(one.Receipt, *one)
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := r.Item("transfer", one.ID); !ok || it.Timestamp != one.Timestamp || len(r.Items) != 1 {
		t.Fatalf("receipt %+v does not name %s", r, one.ID)
	}
	_, err = s.c.ProveTransfer(ctx, one.Receipt, one.ID)
	wantErr(t, "proof before a checkpoint covers it", err, sdk.ErrProofNotReady)
	if e, ok := sdk.AsError(err); !ok || e.Status != http.StatusConflict {
		t.Fatalf("proof not ready: %v does not hold the API's 409", err)
	}

	// A batch: one receipt for every committed transfer.
	var batch []protocol.Transfer
	for i := range 10 {
		batch = append(batch, protocol.Transfer{DebitAccountID: s.bank, CreditAccountID: s.users[i%2], Amount: u64(uint64(i + 1)), Ledger: 1, Code: 1})
	}
	br, err := s.c.CreateTransfers(ctx, "", batch)
	if err != nil || br.Accepted != 10 || br.Receipt == "" {
		t.Fatalf("CreateTransfers = %+v, %v", br, err)
	}
	var batchTransfers []protocol.Transfer
	for _, res := range br.Results {
		if _, err := s.c.VerifyReceipt(br.Receipt, *res.Transfer); err != nil {
			t.Fatalf("batch receipt, %s: %v", res.Transfer.ID, err)
		}
		batchTransfers = append(batchTransfers, *res.Transfer)
	}

	s.sign(t)
	ev, err := s.c.ProveTransfer(ctx, one.Receipt, one.ID)
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := s.c.MonitorLatest()
	if ev.TransferID != one.ID || ev.Timestamp != one.Timestamp || ev.LogIndex != r.LogIndex || ev.EntryHash != r.EntryHash ||
		ev.LogSize != latest.Size || ev.Root != latest.Root || latest.Size <= first.Size || ev.LogIndex >= ev.LogSize {
		t.Fatalf("evidence %+v, receipt %+v, monitor %+v (first %+v)", ev, r, latest, first)
	}
	for _, tr := range batchTransfers {
		ev, err := s.c.ProveTransfer(ctx, br.Receipt, tr.ID)
		if err != nil {
			t.Fatalf("%s: %v", tr.ID, err)
		}
		if ev.LogIndex == r.LogIndex {
			t.Fatalf("%s in the batch entry of an earlier request", tr.ID)
		}
	}

	// Forged receipts: any changed byte of the text or signature.
	for _, i := range []int{len(evidence.ReceiptHeader) + 3, strings.Index(one.Receipt, one.ID) + 5, len(one.Receipt) - 10} {
		b := []byte(one.Receipt)
		b[i] ^= 1
		_, err := s.c.VerifyReceipt(string(b), *one)
		wantErr(t, "forged receipt", err, sdk.ErrReceipt)
		_, err = s.c.ProveTransfer(ctx, string(b), one.ID)
		wantErr(t, "proof with a forged receipt", err, sdk.ErrReceipt)
	}
	// A receipt of another transfer, or of another timestamp.
	_, err = s.c.VerifyReceipt(br.Receipt, *one)
	wantErr(t, "receipt of other transfers", err, sdk.ErrReceiptMismatch)
	moved := *one
	moved.Timestamp++
	_, err = s.c.VerifyReceipt(one.Receipt, moved)
	wantErr(t, "receipt with another timestamp", err, sdk.ErrReceiptMismatch)
	_, err = s.c.ProveTransfer(ctx, one.Receipt, batchTransfers[0].ID)
	wantErr(t, "proving a transfer the receipt does not name", err, sdk.ErrReceiptMismatch)

	// A proof of another transfer, offline, against this receipt.
	key, err := s.c.TrustedLog()
	if err != nil {
		t.Fatal(err)
	}
	p1, err := s.c.TransferProof(ctx, one.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := key.VerifyTransferProof(one.Receipt, one.ID, p1); err != nil {
		t.Fatal(err)
	}
	p2, err := s.c.TransferProof(ctx, batchTransfers[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = key.VerifyTransferProof(one.Receipt, one.ID, p2)
	wantErr(t, "proof of another transfer", err, sdk.ErrProof)
	relabelled := *p2
	relabelled.TransferID = one.ID
	_, err = key.VerifyTransferProof(one.Receipt, one.ID, &relabelled)
	wantErr(t, "proof of another transfer under this id", err, sdk.ErrProof)
	// Tampered proofs: the amount in the leaf, a path hash, the log index,
	// the checkpoint's signature.
	tamper := map[string]func(p *protocol.TransferProof){
		"leaf amount": func(p *protocol.TransferProof) { p.Leaf = bytes.Clone(p.Leaf); p.Leaf[1+48+7]++ },
		"log path": func(p *protocol.TransferProof) {
			p.LogPath = append([][]byte{make([]byte, 32)}, p.LogPath...)
		},
		"log index":  func(p *protocol.TransferProof) { p.LogIndex++ },
		"checkpoint": func(p *protocol.TransferProof) { p.Checkpoint = strings.Replace(p.Checkpoint, "\n", "\n1", 1) },
	}
	for name, f := range tamper {
		p := *p1
		f(&p)
		_, err := key.VerifyTransferProof(one.Receipt, one.ID, &p)
		if !errors.Is(err, sdk.ErrProof) && !errors.Is(err, sdk.ErrCheckpoint) {
			t.Errorf("%s: tampered proof: %v", name, err)
		}
	}

	// Another log's key: nothing verifies.
	_, otherKey, err := note.GenerateKey(rand.Reader, apitest.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	other := sdk.New(s.env.URL, s.env.AdminSecret, sdk.WithLogKey(otherKey))
	_, err = other.VerifyReceipt(one.Receipt, *one)
	wantErr(t, "receipt under another key", err, sdk.ErrReceipt)
	_, err = other.SyncLog(ctx)
	wantErr(t, "checkpoint under another key", err, sdk.ErrCheckpoint)

	// No key, a bad key.
	_, err = sdk.New(s.env.URL, s.env.AdminSecret).VerifyReceipt(one.Receipt, *one)
	wantErr(t, "no log key", err, sdk.ErrLogNotTrusted)
	_, err = sdk.New(s.env.URL, s.env.AdminSecret, sdk.WithLogKey("nonsense")).ProveTransfer(ctx, one.Receipt, one.ID)
	wantErr(t, "bad log key", err, sdk.ErrLogKey)
	_, err = sdk.New(s.env.URL, s.env.AdminSecret, sdk.WithLogKey(s.env.LogKey), sdk.WithLogOrigin("elsewhere.example/log")).VerifyReceipt(one.Receipt, *one)
	wantErr(t, "another origin", err, sdk.ErrReceipt)
}

// TestMonitorPersistence: a client restored from another's MonitorState
// continues from its checkpoint, and refuses a log that does not extend it.
func TestMonitorPersistence(t *testing.T) {
	t.Parallel()
	s := newReceiptSetup(t)
	ctx := t.Context()
	one := s.transfer(t, 0, 5)
	s.sign(t)
	if _, err := s.c.ProveTransfer(ctx, one.Receipt, one.ID); err != nil {
		t.Fatal(err)
	}
	state, ok := s.c.MonitorState()
	if !ok {
		t.Fatal("no monitor state after a proof")
	}
	kept, _ := s.c.MonitorLatest()

	// The next run: restore, then prove a newer transfer.
	next := sdk.New(s.env.URL, s.env.WriterSecret, sdk.WithLogKey(s.env.LogKey))
	if err := next.RestoreMonitor(state); err != nil {
		t.Fatal(err)
	}
	if got, ok := next.MonitorLatest(); !ok || got != kept {
		t.Fatalf("restored %+v, %v; want %+v", got, ok, kept)
	}
	two := s.transfer(t, 1, 6)
	s.sign(t)
	if _, err := next.ProveTransfer(ctx, two.Receipt, two.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := next.MonitorLatest(); got.Size <= kept.Size {
		t.Fatalf("monitor at %d after a newer proof, restored at %d", got.Size, kept.Size)
	}
	// An old proof still verifies: its checkpoint is a prefix of the kept one.
	if _, err := next.ProveTransfer(ctx, one.Receipt, one.ID); err != nil {
		t.Fatal(err)
	}

	// Bad states: not a checkpoint, another log's.
	wantErr(t, "restore garbage", next.RestoreMonitor([]byte("x\n")), sdk.ErrCheckpoint)
	wantErr(t, "restore without a key", sdk.New(s.env.URL, "").RestoreMonitor(state), sdk.ErrLogNotTrusted)

	// A state from a history the log does not have: a checkpoint of a
	// larger size signed by the log key with a root of no real tree.
	signer := logSigner(t, s.env)
	forged := signCheckpoint(t, signer, evidence.Checkpoint{Origin: apitest.LogOrigin, Size: kept.Size + 1, Root: evidence.HashBytes([]byte("elsewhere"))})
	third := sdk.New(s.env.URL, s.env.WriterSecret, sdk.WithLogKey(s.env.LogKey))
	if err := third.RestoreMonitor(forged); err != nil {
		t.Fatal(err)
	}
	three := s.transfer(t, 0, 7)
	s.sign(t)
	_, err := third.ProveTransfer(ctx, three.Receipt, three.ID)
	wantErr(t, "proof on a log that is not the restored one's", err, sdk.ErrLogFork)
	if got, _ := third.MonitorLatest(); got.Size != kept.Size+1 {
		t.Fatalf("monitor moved to %d on a fork", got.Size)
	}
}

func logSigner(t *testing.T, env *apitest.Env) note.Signer {
	t.Helper()
	signer, vkey, err := ledgerlog.LoadOrCreateKey(env.Path+".logkey", apitest.LogOrigin)
	if err != nil || vkey != env.LogKey {
		t.Fatalf("log key: %v (vkey %q, want %q)", err, vkey, env.LogKey)
	}
	return signer
}

func signCheckpoint(t *testing.T, s note.Signer, c evidence.Checkpoint) []byte {
	t.Helper()
	b, err := evidence.SignCheckpoint(c, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMonitorRefusesForks: checkpoints signed by the log's own key but
// not consistent with the kept one are hard, typed errors, and leave the
// monitor as it was.
func TestMonitorRefusesForks(t *testing.T) {
	t.Parallel()
	s := newReceiptSetup(t)
	ctx := t.Context()
	s.transfer(t, 0, 1)
	s.sign(t)
	older, err := s.c.SyncLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.transfer(t, 1, 2)
	s.transfer(t, 1, 3)
	s.sign(t)
	kept, err := s.c.SyncLog(ctx)
	if err != nil || kept.Size <= older.Size+1 {
		t.Fatalf("SyncLog = %+v, %v (older %+v)", kept, err, older)
	}
	state, _ := s.c.MonitorState()
	signer := logSigner(t, s.env)
	bogus := evidence.HashBytes([]byte("another history"))
	sign := func(size uint64, root evidence.Hash) []byte {
		return signCheckpoint(t, signer, evidence.Checkpoint{Origin: apitest.LogOrigin, Size: size, Root: root})
	}

	// The real older checkpoint (a prefix) is fine; an equal one too.
	for _, c := range []evidence.Checkpoint{older, kept} {
		if got, err := s.c.ObserveCheckpoint(ctx, sign(c.Size, c.Root)); err != nil || got != c {
			t.Fatalf("ObserveCheckpoint(%+v) = %+v, %v", c, got, err)
		}
	}
	_, err = s.c.ObserveCheckpoint(ctx, sign(kept.Size, bogus))
	wantErr(t, "same size, another root", err, sdk.ErrLogFork)
	_, err = s.c.ObserveCheckpoint(ctx, sign(older.Size, bogus))
	wantErr(t, "smaller, another root", err, sdk.ErrLogRollback)
	wantErr(t, "smaller, another root", err, sdk.ErrLogFork)
	wantErr(t, "smaller, another root", err, evidence.ErrFork)
	// Larger, but not an extension: the log grew since; its real
	// consistency proof does not lead to this root.
	s.transfer(t, 0, 4)
	if _, _, err := s.env.LogSigner.SignNow(ctx); err != nil {
		t.Fatal(err)
	}
	real, err := sdk.New(s.env.URL, "", sdk.WithLogKey(s.env.LogKey)).SyncLog(ctx)
	if err != nil || real.Size <= kept.Size {
		t.Fatalf("log did not grow: %+v, %v", real, err)
	}
	_, err = s.c.ObserveCheckpoint(ctx, sign(real.Size, bogus))
	wantErr(t, "larger, not an extension", err, sdk.ErrLogFork)
	// Not the log's key: not a checkpoint at all.
	otherSigner, _, err := ledgerlog.LoadOrCreateKey(t.TempDir()+"/other.key", apitest.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.c.ObserveCheckpoint(ctx, signCheckpoint(t, otherSigner, real))
	wantErr(t, "another key", err, sdk.ErrCheckpoint)
	if st, _ := s.c.MonitorState(); !bytes.Equal(st, state) {
		t.Fatalf("monitor state changed by refused checkpoints:\n%s\nwant\n%s", st, state)
	}
	// The real one is accepted.
	if got, err := s.c.SyncLog(ctx); err != nil || got != real {
		t.Fatalf("SyncLog = %+v, %v; want %+v", got, err, real)
	}
}

// TestProveTransferRefusesForkedProof: a server whose transfer proofs
// lead to checkpoints of another history (here a proxy rewriting them,
// signed with the log's own key) is caught by the monitor even though
// each proof verifies on its own.
func TestProveTransferRefusesForkedProof(t *testing.T) {
	t.Parallel()
	s := newReceiptSetup(t)
	ctx := t.Context()
	s.transfer(t, 1, 9)
	s.sign(t)
	one := s.transfer(t, 0, 1)
	s.transfer(t, 1, 2)
	s.sign(t)
	if _, err := s.c.SyncLog(ctx); err != nil {
		t.Fatal(err)
	}
	kept, _ := s.c.MonitorLatest()
	state, _ := s.c.MonitorState()
	signer := logSigner(t, s.env)

	// The proxy answers proofs with a log tree of its own of size
	// forgedSize: the transfer's batch entry at its index, other leaves
	// made up.
	var forgedSize uint64
	target, err := url.Parse(s.env.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(res *http.Response) error {
		if !strings.HasSuffix(res.Request.URL.Path, "/proof") || res.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		res.Body.Close()
		var p protocol.TransferProof
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		leaves := make([]evidence.Hash, forgedSize)
		for i := range leaves {
			leaves[i] = evidence.HashBytes([]byte{byte(i), 'x'})
		}
		leaves[p.LogIndex] = evidence.LeafHash(p.BatchEntry)
		tree := evidence.NewTree(leaves)
		path, err := tree.InclusionProof(p.LogIndex)
		if err != nil {
			return err
		}
		cp, err := evidence.SignCheckpoint(evidence.Checkpoint{Origin: apitest.LogOrigin, Size: forgedSize, Root: tree.Root()}, signer)
		if err != nil {
			return err
		}
		p.LogSize, p.LogPath, p.Checkpoint = forgedSize, evidence.ProofBytes(path), string(cp)
		if b, err = json.Marshal(p); err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	c := sdk.New(srv.URL, s.env.AdminSecret, sdk.WithLogKey(s.env.LogKey))
	if err := c.RestoreMonitor(state); err != nil {
		t.Fatal(err)
	}
	key, _ := c.TrustedLog()
	r, err := c.VerifyReceipt(one.Receipt, *one)
	if err != nil {
		t.Fatal(err)
	}
	if r.LogIndex+1 >= kept.Size {
		t.Fatalf("transfer at log index %d of %d: want room for a smaller tree", r.LogIndex, kept.Size)
	}
	grown := func() uint64 { // the log's size after it grows
		s.transfer(t, 1, 3)
		s.transfer(t, 1, 4)
		s.sign(t)
		cp, err := sdk.New(s.env.URL, "", sdk.WithLogKey(s.env.LogKey)).SyncLog(ctx)
		if err != nil || cp.Size <= kept.Size {
			t.Fatalf("log did not grow: %+v, %v", cp, err)
		}
		return cp.Size
	}
	for _, tc := range []struct {
		size func() uint64
		want error
	}{
		{func() uint64 { return kept.Size }, sdk.ErrLogFork},          // same size, another root
		{func() uint64 { return r.LogIndex + 1 }, sdk.ErrLogRollback}, // smaller, not a prefix
		{grown, sdk.ErrLogFork},                                       // larger, not the log's extension
	} {
		forgedSize = tc.size()
		// Each proof verifies on its own...
		p, err := c.TransferProof(ctx, one.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := key.VerifyTransferProof(one.Receipt, one.ID, p); err != nil || p.LogSize != forgedSize {
			t.Fatalf("forged proof of size %d (%d) does not verify offline: %v", forgedSize, p.LogSize, err)
		}
		// ...but not against the history the client has seen.
		_, err = c.ProveTransfer(ctx, one.Receipt, one.ID)
		wantErr(t, "forged proof", err, tc.want)
		if st, _ := c.MonitorState(); !bytes.Equal(st, state) {
			t.Fatalf("monitor moved on a forged proof of size %d", forgedSize)
		}
	}
}

// TestImportsTransitive: the sdk pulls in nothing of the server (the
// protocol's Ed25519 signing helper and JSON token reader are not the
// server's).
func TestImportsTransitive(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(pkg, "github.com/agentpay/agentpay/"); ok && rest != "sdk" && rest != "protocol" && rest != "evidence" &&
			rest != "internal/eddsa" && rest != "internal/jsonscan" {
			t.Errorf("sdk depends on %s", pkg)
		}
	}
}
