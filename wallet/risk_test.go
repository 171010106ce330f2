package wallet_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestPlatformRules: the default platform rules, fed by the service's
// counters: velocity per agent (a fake clock moves the minute), a new
// merchant with a high amount, and the amount per merchant per day.
func TestPlatformRules(t *testing.T) {
	e := newEnv(t, nil) // nil: risk.DefaultPlatformRules
	defer e.stop()
	agent, key := e.agent("fast")
	m := e.mandate(key, agent.ID, usd(90_000))
	pay := func(payee protocol.Merchant, n int64) (*wallet.Payment, error) {
		return e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, payee, n)})
	}
	for i := range 60 {
		if _, err := pay(shop, 1); err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
	}
	_, err := pay(shop, 1)
	var r *wallet.Refusal
	if code(err) != "risk_declined" || !errorsAs(err, &r) || r.Risk == nil || !slices.Contains(r.Risk.Reasons(), "velocity_exceeded") {
		t.Fatalf("61st payment in a minute: %v", err)
	}
	e.clock.Advance(61 * time.Second)
	if _, err := pay(shop, 1); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
	// A first payment to a new merchant above 10000: held for the owner.
	p, err := pay(protocol.Merchant{ID: "mch_new"}, 12_000)
	if err != nil || p.Status != wallet.StatusHeld || p.Risk.Outcome != risk.OutcomeStepUp {
		t.Fatalf("new merchant, high amount: %+v, %v", p, err)
	}
	// A known merchant past 50000 today: held for review.
	for _, n := range []int64{9_000, 9_000, 9_000, 9_000, 9_000} {
		if p, err := pay(shop, n); err != nil || p.Status != wallet.StatusCompleted {
			t.Fatalf("payment of %d: %+v, %v", n, p, err)
		}
		e.clock.Advance(2 * time.Second)
	}
	p, err = pay(shop, 9_000)
	if err != nil || p.Status != wallet.StatusHeld || !slices.Contains(p.Risk.Reasons(), "merchant_daily_amount") {
		t.Fatalf("past the merchant's daily amount: %+v, %v", p, err)
	}
}

func errorsAs(err error, r **wallet.Refusal) bool { return errors.As(err, r) }

// TestSetPlatformRules: saved platform rules apply to every wallet, are
// validated before anything is saved, and outlive a restart.
func TestSetPlatformRules(t *testing.T) {
	e := newEnv(t, nil)
	agent, key := e.agent("ruled")
	m := e.mandate(key, agent.ID, usd(10_000))
	if _, err := e.svc.SetPlatformRules(bg, []risk.Rule{{ID: "bad", Expression: "payment.amount >", Outcome: risk.OutcomeDecline, Reason: "x", Enabled: true}}); !errors.Is(err, wallet.ErrInvalid) {
		t.Fatalf("invalid platform rule saved: %v", err)
	}
	if _, err := e.svc.SetPlatformRules(bg, []risk.Rule{{ID: "cap", Expression: "payment.amount > 500", Outcome: risk.OutcomeDecline, Reason: "platform_cap", Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 600)}); code(err) != "risk_declined" {
		t.Fatalf("payment above the platform cap: %v", err)
	}
	e.stop()
	e.start()
	defer e.stop()
	if got := e.svc.PlatformRules(); len(got) != 1 || got[0].ID != "cap" {
		t.Fatalf("after restart, platform rules %+v", got)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 600)}); code(err) != "risk_declined" {
		t.Fatalf("after restart, payment above the platform cap: %v", err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 400)}); err != nil {
		t.Fatalf("payment under the cap: %v", err)
	}
}
