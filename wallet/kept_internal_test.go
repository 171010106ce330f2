package wallet

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// TestKeptPayment: a kept payment decodes from its doc to the payment
// that was committed, whether the doc is a payment's or a purchase's (the
// payment's members and the checkout); its status expires with its hold;
// a doc that does not decode still gives the payment's id, parties and
// status.
func TestKeptPayment(t *testing.T) {
	created := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	expires := created.Add(time.Hour)
	p := &Payment{ID: "pay_1", Mandate: "mdt_1", Agent: "agt_1", Owner: "usr_1", Wallet: "wal_1", Payee: "mch_1",
		Amount: 700, Currency: "USD", Scale: 2, Status: StatusHeld, Closed: "a.b.c", Hold: "approval_required",
		Decision:  protocol.Decision{Outcome: protocol.OutcomeApprovalRequired, Code: protocol.CodeApprovalRequired},
		Legs:      []Leg{{Name: "total", Transfer: ledger.IDFromUint64(7), Account: ledger.IDFromUint64(8)}},
		CreatedAt: created, ExpiresAt: &expires}
	doc, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	purchase, err := json.Marshal(&Purchase{Payment: p, Checkout: CheckoutRef{Hash: "h", ID: "co_1", Merchant: "mch_1"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"payment": doc, "purchase": purchase} {
		k := keptOf(p, body)
		if got := k.payment(); !reflect.DeepEqual(got, p) {
			t.Errorf("%s doc: decoded %+v, want %+v", name, got, p)
		}
	}
	k := keptOf(p, doc)
	if k.statusAt(expires.Add(-time.Nanosecond)) != StatusHeld || k.statusAt(expires) != StatusExpired {
		t.Errorf("held until %v: %s just before, %s at it", expires, k.statusAt(expires.Add(-time.Nanosecond)), k.statusAt(expires))
	}
	done := *p
	done.Status, done.ExpiresAt = StatusCompleted, nil
	if s := keptOf(&done, doc).statusAt(expires.Add(time.Hour)); s != StatusCompleted {
		t.Errorf("a completed payment's status later: %s", s)
	}
	bad := keptOf(p, []byte(`{"id":`))
	got := bad.payment()
	if got.ID != p.ID || got.Owner != p.Owner || got.Agent != p.Agent || got.Status != p.Status || !got.CreatedAt.Equal(created) {
		t.Errorf("undecodable doc: %+v", got)
	}
}
