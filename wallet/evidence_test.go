package wallet_test

import (
	"testing"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestPaymentEvidence: what a payment committed (its transfers and its
// doc) is what the store holds, also after a restart, and each is proven
// into the evidence log from the store alone.
func TestPaymentEvidence(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	agent, key := e.agent("proved")
	m := e.mandate(key, agent.ID, usd(1000))
	p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 42)})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := e.svc.Evidence(bg, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh.Transfers) != len(p.Legs) || len(fresh.Docs) != 1 || fresh.Docs[0].Timestamp == 0 {
		t.Fatalf("evidence %+v", fresh)
	}
	e.stop()
	e.start()
	defer e.stop()
	again, err := e.svc.Payment(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.svc.Evidence(bg, again)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fresh.Transfers {
		if ledgerlog.TransferLeafHash(&fresh.Transfers[i]) != ledgerlog.TransferLeafHash(&stored.Transfers[i]) {
			t.Fatalf("leg %d: the receipt's record differs from the stored one:\n%+v\n%+v", i, fresh.Transfers[i], stored.Transfers[i])
		}
	}
	if ledgerlog.DocLeafHash(&fresh.Docs[0]) != ledgerlog.DocLeafHash(&stored.Docs[0]) {
		t.Fatal("the payment doc differs from the stored one")
	}
	size, err := e.st.EvidenceSize(bg)
	if err != nil {
		t.Fatal(err)
	}
	root, err := evidence.RootAt(bg, ledgerlog.Tiles{R: e.st}, size)
	if err != nil {
		t.Fatal(err)
	}
	d := stored.Docs[0]
	lp, err := ledgerlog.ProveDoc(bg, e.st, 0, d.Kind, d.Key, d.Timestamp, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.Proof.Verify(lp.Leaf, root); err != nil || evidence.LeafHash(lp.Leaf) != ledgerlog.DocLeafHash(&d) {
		t.Fatalf("doc proof: %v", err)
	}
	for _, r := range stored.Transfers {
		tp, err := ledgerlog.ProveTransfer(bg, e.st, 0, r.ID, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Proof.Verify(tp.Leaf, root); err != nil {
			t.Fatalf("leg %s: %v", r.ID, err)
		}
	}
}
