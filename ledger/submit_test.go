package ledger_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/agentpay/agentpay/ledger"
)

// TestSubmitDocs: a mixed request's docs commit with its accounts and
// transfers when all of them commit, and not at all when one fails; docs
// alone commit; an invalid doc is refused before anything applies; after
// a restart the docs are stored with their timestamps, after the ledger
// events they came with.
func TestSubmitDocs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "docs.db")
	st := openStore(t, path)
	defer st.Close()
	e := startEngine(t, st, nil)
	defer e.Stop(ctx)
	bank, user := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	setup(t, e, []ledger.Account{{ID: bank, Ledger: usd, Code: 1}, {ID: user, Ledger: usd, Code: 1, Flags: ledger.AccountDebitsMustNotExceedCredits}})

	// All commit: the doc follows the transfer.
	req := &ledger.Request{
		Transfers: []ledger.Transfer{{ID: ledger.IDFromUint64(10), DebitAccountID: bank, CreditAccountID: user, Amount: 50, Ledger: usd, Code: 1}},
		Docs:      []ledger.Doc{{Kind: "payment", Key: "pay_1", Body: []byte(`{"amount":50}`)}},
	}
	res, ok, err := e.Submit(ctx, req, nil)
	mustOK(t, res, err)
	if !ok || req.Docs[0].Timestamp <= req.Transfers[0].Timestamp {
		t.Fatalf("recorded %v, doc ts %d, transfer ts %d", ok, req.Docs[0].Timestamp, req.Transfers[0].Timestamp)
	}

	// A linked chain that fails: no transfer and no doc.
	fail := &ledger.Request{
		Transfers: []ledger.Transfer{
			{ID: ledger.IDFromUint64(11), DebitAccountID: user, CreditAccountID: bank, Amount: 30, Ledger: usd, Code: 1, Flags: ledger.TransferLinked},
			{ID: ledger.IDFromUint64(12), DebitAccountID: user, CreditAccountID: bank, Amount: 30, Ledger: usd, Code: 1},
		},
		Docs: []ledger.Doc{{Kind: "payment", Key: "pay_2", Body: []byte("x")}},
	}
	res, ok, err = e.Submit(ctx, fail, nil)
	if err != nil || ok || res[1] != ledger.ResultExceedsCredits || res[0] != ledger.ResultLinkedEventFailed {
		t.Fatalf("failing chain: %v %v %v", res, ok, err)
	}

	// Docs alone.
	alone := &ledger.Request{Docs: []ledger.Doc{{Kind: "agent_key", Key: "agt_1", Body: []byte("k")}, {Kind: "agent_key", Key: "agt_1"}}}
	if res, ok, err := e.Submit(ctx, alone, nil); err != nil || !ok || res != nil {
		t.Fatalf("docs alone: %v %v %v", res, ok, err)
	}

	// Invalid docs: refused, nothing applied.
	for _, d := range []ledger.Doc{{Kind: "Bad", Key: "k"}, {Kind: "k", Key: "has space"}, {Kind: "k", Key: "k", Body: make([]byte, ledger.DocBodyMax+1)}} {
		bad := &ledger.Request{Transfers: []ledger.Transfer{{ID: ledger.IDFromUint64(13), DebitAccountID: bank, CreditAccountID: user, Amount: 1, Ledger: usd, Code: 1}},
			Docs: []ledger.Doc{d}}
		if _, _, err := e.Submit(ctx, bad, nil); !errors.Is(err, ledger.ErrInvalidDoc) {
			t.Fatalf("doc %q/%q: %v, want ErrInvalidDoc", d.Kind, d.Key, err)
		}
	}
	if _, err := st.GetTransfer(ctx, ledger.IDFromUint64(13)); err == nil {
		t.Fatal("a request with an invalid doc applied its transfer")
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	hist, err := st.DocHistory(ctx, "payment", "pay_1")
	if err != nil || len(hist) != 1 || string(hist[0].Body) != `{"amount":50}` || hist[0].Timestamp != req.Docs[0].Timestamp {
		t.Fatalf("pay_1 history %+v, %v", hist, err)
	}
	if hist, _ := st.DocHistory(ctx, "payment", "pay_2"); len(hist) != 0 {
		t.Fatalf("the failed chain's doc was stored: %+v", hist)
	}
	keys, _ := st.DocHistory(ctx, "agent_key", "agt_1")
	if len(keys) != 2 || keys[0].Timestamp >= keys[1].Timestamp {
		t.Fatalf("agt_1 history %+v", keys)
	}
	// A restarted engine continues after the docs' timestamps.
	e2 := startEngine(t, st, nil)
	defer e2.Stop(ctx)
	next := []ledger.Transfer{{ID: ledger.IDFromUint64(14), DebitAccountID: bank, CreditAccountID: user, Amount: 1, Ledger: usd, Code: 1}}
	must(t)(e2.CreateTransfers(ctx, next, nil))
	if next[0].Timestamp <= keys[1].Timestamp {
		t.Fatalf("timestamp %d after restart is not after the last doc's %d", next[0].Timestamp, keys[1].Timestamp)
	}
}

// docHashLog is an EvidenceLog that keeps what each batch gave it: the
// docs and their body hashes.
type docHashLog struct {
	docs   []ledger.Doc
	hashes [][32]byte
}

func (l *docHashLog) Prepare(b *ledger.Batch) error {
	l.docs = append(l.docs, b.Docs...)
	for i := range b.Docs {
		var h [32]byte
		if i < len(b.DocHashes) {
			h = b.DocHashes[i]
		}
		l.hashes = append(l.hashes, h)
	}
	return nil
}

func (l *docHashLog) Committed(*ledger.Batch) {}

// TestSubmitHashesDocs: Submit hashes each doc's body in its caller's
// goroutine and the batch carries the hashes, each next to its doc
// (Batch.DocHashes), for the evidence log.
func TestSubmitHashesDocs(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "hashes.db"))
	defer st.Close()
	log := &docHashLog{}
	e, err := ledger.Open(ctx, ledger.Config{Store: st, Evidence: log})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	defer e.Stop(ctx)
	for i := range 3 {
		req := &ledger.Request{Docs: []ledger.Doc{
			{Kind: "payment", Key: fmt.Sprintf("pay_%d", i), Body: fmt.Appendf(nil, `{"n":%d}`, i)},
			{Kind: "approval", Key: fmt.Sprintf("pay_%d", i), Body: fmt.Appendf(nil, `{"approved":%d}`, i)},
		}}
		if _, ok, err := e.Submit(ctx, req, nil); err != nil || !ok {
			t.Fatalf("submit %d: %v %v", i, ok, err)
		}
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if len(log.docs) != 6 {
		t.Fatalf("%d docs logged, want 6", len(log.docs))
	}
	for i, d := range log.docs {
		if log.hashes[i] != sha256.Sum256(d.Body) {
			t.Errorf("doc %s/%s: hash %x, want the body's", d.Kind, d.Key, log.hashes[i])
		}
	}
}
