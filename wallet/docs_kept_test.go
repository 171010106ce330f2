package wallet_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestPaymentDocsFromStore: a service that keeps three payments' docs in
// memory keeps no more, whatever it is asked, and still answers for every
// payment as it was committed: by id, in listings (every page), a retried
// closed mandate (the same payment, no money moved again), a held payment
// whose doc was dropped approved, and the approved one read back from
// its approval doc; after a restart, the same.
func TestPaymentDocsFromStore(t *testing.T) {
	const keep = 3
	e := newEnvDocs(t, []risk.Rule{}, keep)
	defer func() { e.stop() }()
	agent, key := e.agent("buyer")
	m := e.mandate(key, agent.ID, usd(50_000), &protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 1000})
	type made struct {
		p      *wallet.Payment
		closed []byte
	}
	var all []made
	pay := func(n int64) *wallet.Payment {
		t.Helper()
		c := e.closed(key, agent.ID, m, shop, n)
		p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: c})
		if err != nil || p.Replayed() {
			t.Fatalf("pay: %v, replayed %v", err, p != nil && p.Replayed())
		}
		all = append(all, made{p, c})
		return p
	}
	held := pay(1500)
	for i := range 9 {
		pay(int64(100 + i))
	}
	// as committed: what the payment's doc holds (its limits are reported
	// as of each answer, not stored)
	same := func(what string, got, want *wallet.Payment) {
		t.Helper()
		g, w := *got, *want
		g.Limits, w.Limits = nil, nil
		gj, _ := json.Marshal(&g)
		wj, _ := json.Marshal(&w)
		if string(gj) != string(wj) {
			t.Fatalf("%s:\n got %s\nwant %s", what, gj, wj)
		}
	}
	checkAll := func(when string) {
		t.Helper()
		docs, n := wallet.DocsKept(e.svc)
		if docs > keep || n != len(all) {
			t.Fatalf("%s: %d docs in memory of %d payments, want at most %d of %d", when, docs, n, keep, len(all))
		}
		if st := e.svc.Stats(); st.DocsKept != uint64(docs) {
			t.Fatalf("%s: Stats.DocsKept %d, %d docs in memory", when, st.DocsKept, docs)
		}
		reads := e.svc.Stats().DocReads
		for i, x := range all {
			got, err := e.svc.Payment(x.p.ID)
			if err != nil {
				t.Fatalf("%s: payment %d: %v", when, i, err)
			}
			same(fmt.Sprintf("%s: payment %d by id", when, i), got, x.p)
		}
		var listed []*wallet.Payment
		for after := ""; ; {
			page, next, err := e.svc.PaymentsPage(e.user.ID, "", "", after, 4)
			if err != nil {
				t.Fatalf("%s: page after %q: %v", when, after, err)
			}
			listed = append(listed, page...)
			if next == "" {
				break
			}
			after = next
		}
		if len(listed) != len(all) {
			t.Fatalf("%s: %d payments listed, want %d", when, len(listed), len(all))
		}
		byID := map[string]*wallet.Payment{}
		for _, p := range listed {
			byID[p.ID] = p
		}
		for i, x := range all {
			got, ok := byID[x.p.ID]
			if !ok {
				t.Fatalf("%s: payment %d not listed", when, i)
			}
			same(fmt.Sprintf("%s: payment %d listed", when, i), got, x.p)
		}
		if docs, _ := wallet.DocsKept(e.svc); docs > keep {
			t.Fatalf("%s: reading payments kept %d docs", when, docs)
		}
		// by id and listed, every payment whose doc was dropped was read
		if got, want := e.svc.Stats().DocReads-reads, uint64(2*(len(all)-docs)); got != want {
			t.Fatalf("%s: %d payments read from the store, want %d", when, got, want)
		}
	}
	checkAll("made")

	// A retry of the first (its doc long dropped): the same payment.
	bal, _ := e.svc.Balance(bg, e.wallet)
	again, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: all[1].closed})
	if err != nil {
		t.Fatal(err)
	}
	same("retried", again, all[1].p)
	if !again.Replayed() {
		t.Fatal("a retry is not reported as one")
	}
	if after, _ := e.svc.Balance(bg, e.wallet); after != bal {
		t.Fatalf("a retry moved money: %+v, then %+v", bal, after)
	}

	// The held payment's doc was dropped: it is still approved.
	if got, _ := e.svc.Payment(held.ID); got.Status != wallet.StatusHeld {
		t.Fatalf("held payment is %s", got.Status)
	}
	approved, err := e.svc.Answer(bg, e.user.ID, held.ID, true)
	if err != nil || approved.Status != wallet.StatusApproved {
		t.Fatalf("approve: %+v, %v", approved, err)
	}
	all[0].p = approved
	for i := range keep + 1 { // the approval's doc dropped in turn
		pay(int64(200 + i))
	}
	checkAll("approved")
	if got, _ := e.svc.Payment(held.ID); got.Answer == nil || !got.Answer.Approved {
		t.Fatalf("approved payment read back: %+v", got)
	}
	if bal, _ := e.svc.Balance(bg, e.wallet); bal.DebitsPending.Lo != 0 {
		t.Fatalf("after the approval: %+v", bal)
	}

	e.stop()
	e.start()
	if st := e.svc.Stats(); st.Loaded != uint64(len(all)) || st.LoadNanos == 0 {
		t.Fatalf("restarted: %d payments loaded in %d ns, want %d", st.Loaded, st.LoadNanos, len(all))
	}
	checkAll("restarted")
	e.checkLedger()
}

// TestPaymentDocsDroppedConcurrently: payments made from many goroutines
// while others list and read them, with two docs kept: every read gets a
// whole payment, and afterwards every payment reads back as it was made.
func TestPaymentDocsDroppedConcurrently(t *testing.T) {
	e := newEnvDocs(t, []risk.Rule{}, 2)
	defer e.stop()
	agent, key := e.agent("buyer")
	m := e.mandate(key, agent.ID, usd(50_000))
	const payers, each = 8, 6
	closed := make([][][]byte, payers)
	for g := range closed {
		for i := range each {
			closed[g] = append(closed[g], e.closed(key, agent.ID, m, shop, int64(10+g*each+i)))
		}
	}
	made := make([][]*wallet.Payment, payers)
	stop := make(chan struct{})
	readers := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					readers <- nil
					return
				default:
				}
				page, _, err := e.svc.PaymentsPage(e.user.ID, "", "", "", 0)
				if err != nil {
					readers <- err
					return
				}
				for _, p := range page {
					if p.Closed == "" || len(p.Legs) == 0 {
						readers <- fmt.Errorf("listed payment %s without its doc: %+v", p.ID, p)
						return
					}
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for g := range payers {
		wg.Go(func() {
			for _, c := range closed[g] {
				p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: c})
				if err != nil {
					t.Error(err)
					return
				}
				made[g] = append(made[g], p)
			}
		})
	}
	wg.Wait()
	close(stop)
	for range 2 {
		if err := <-readers; err != nil {
			t.Fatal(err)
		}
	}
	if docs, n := wallet.DocsKept(e.svc); docs > 2 || n != payers*each {
		t.Fatalf("%d docs in memory of %d payments", docs, n)
	}
	for _, ps := range made {
		for _, p := range ps {
			got, err := e.svc.Payment(p.ID)
			if err != nil || got.Closed != p.Closed || got.Amount != p.Amount || len(got.Legs) != len(p.Legs) {
				t.Fatalf("payment %s read back as %+v, %v", p.ID, got, err)
			}
		}
	}
	e.checkLedger()
}
