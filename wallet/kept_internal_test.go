package wallet

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"pgregory.net/rapid"
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
		if got := k.decode(*k.doc.Load()); !reflect.DeepEqual(got, p) {
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
	got := bad.decode(*bad.doc.Load())
	if got.ID != p.ID || got.Owner != p.Owner || got.Agent != p.Agent || got.Status != p.Status || !got.CreatedAt.Equal(created) {
		t.Errorf("undecodable doc: %+v", got)
	}
}

// TestPaymentsPageModel: whatever order payments are kept in (creation
// times out of order, held payments answered later, several owners and
// agents), a listing read a page at a time is the model's: the owner's
// payments of the agent and status asked for, by creation then id, each
// once, the cursor of a page its last payment.
func TestPaymentsPageModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := time.Unix(1_800_000_000, 0)
		s := &Service{clock: fixedClock{now}}
		owners, agents := []string{"usr_a", "usr_b"}, []string{"agt_x", "agt_y"}
		statuses := []string{StatusCompleted, StatusHeld, StatusApproved}
		model := map[string]*Payment{}
		for i := range rapid.IntRange(0, 60).Draw(t, "payments") {
			var p *Payment
			if len(model) > 0 && rapid.Bool().Draw(t, "answer") {
				// A kept payment again, in a new status.
				ids := make([]string, 0, len(model))
				for id := range model {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				q := *model[rapid.SampledFrom(ids).Draw(t, "answered")]
				q.Status = rapid.SampledFrom(statuses).Draw(t, "new status")
				p = &q
			} else {
				p = &Payment{ID: fmt.Sprintf("pay_%03d", i), Owner: rapid.SampledFrom(owners).Draw(t, "owner"),
					Agent: rapid.SampledFrom(agents).Draw(t, "agent"), Status: rapid.SampledFrom(statuses).Draw(t, "status"),
					CreatedAt: now.Add(time.Duration(rapid.IntRange(0, 20).Draw(t, "created")) * time.Second)}
			}
			doc, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			s.keep(p, doc)
			model[p.ID] = p
		}
		owner := rapid.SampledFrom(owners).Draw(t, "list owner")
		agent := rapid.SampledFrom(append([]string{""}, agents...)).Draw(t, "list agent")
		status := rapid.SampledFrom(append([]string{""}, statuses...)).Draw(t, "list status")
		limit := rapid.IntRange(1, 7).Draw(t, "limit")
		var want []string
		for _, p := range model {
			if p.Owner == owner && (agent == "" || p.Agent == agent) && (status == "" || p.Status == status) {
				want = append(want, p.ID)
			}
		}
		slices.SortFunc(want, func(a, b string) int {
			if c := model[a].CreatedAt.Compare(model[b].CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		var got []string
		for after, pages := "", 0; ; pages++ {
			if pages > len(model)+1 {
				t.Fatal("paging does not end")
			}
			page, next, err := s.PaymentsPage(owner, agent, status, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit || (next != "" && (len(page) != limit || next != page[len(page)-1].ID)) {
				t.Fatalf("page of %d (limit %d) with next %q", len(page), limit, next)
			}
			for _, p := range page {
				if m := model[p.ID]; p.Status != m.Status || p.Owner != m.Owner || p.Agent != m.Agent {
					t.Fatalf("listed %+v, kept as %+v", p, m)
				}
				got = append(got, p.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		// Every payment at once, as Payments gives it.
		var all []string
		for _, p := range s.Payments(owner, agent, status) {
			all = append(all, p.ID)
		}
		if !slices.Equal(all, want) {
			t.Fatalf("Payments %v, want %v", all, want)
		}
	})
}
