package wallet_test

import (
	"errors"
	"testing"

	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestFunding: top-ups and withdrawals through the test rail move money
// once per key, a declined instrument or an overdraft changes nothing, and
// the operator's accounts mirror what the rail moved.
func TestFunding(t *testing.T) {
	e := newEnv(t, []risk.Rule{}) // the wallet holds 100,000 from fund-1
	defer e.stop()
	bal := func() (credits, debits uint64) {
		t.Helper()
		a, err := e.svc.Balance(bg, e.wallet)
		if err != nil {
			t.Fatal(err)
		}
		return a.CreditsPosted.Lo, a.DebitsPosted.Lo
	}
	m1, err := e.svc.TopUp(bg, e.wallet.ID, "fund-2", "test", "ok-bank", 500)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := e.svc.TopUp(bg, e.wallet.ID, "fund-2", "test", "ok-bank", 500) // a retry
	if err != nil || m2.ID != m1.ID || m2.RailRef != m1.RailRef {
		t.Fatalf("retry: %+v, %v; first %+v", m2, err, m1)
	}
	if c, _ := bal(); c != 100_500 {
		t.Fatalf("credits %d after a top-up and its retry, want 100500", c)
	}
	if _, err := e.svc.TopUp(bg, e.wallet.ID, "fund-3", "test", "decline-card", 500); !errors.Is(err, wallet.ErrRail) {
		t.Fatalf("declined card: %v", err)
	}
	if _, err := e.svc.TopUp(bg, e.wallet.ID, "fund-4", "wire", "ok", 500); !errors.Is(err, wallet.ErrInvalid) {
		t.Fatalf("unknown rail: %v", err)
	}
	if _, err := e.svc.TopUp(bg, e.wallet.ID, "", "test", "ok", 500); !errors.Is(err, wallet.ErrInvalid) {
		t.Fatalf("no key: %v", err)
	}
	if c, _ := bal(); c != 100_500 {
		t.Fatalf("credits %d after refused top-ups, want 100500", c)
	}
	w1, err := e.svc.Withdraw(bg, e.wallet.ID, "out-1", "test", "ok-iban", 20_000)
	if err != nil {
		t.Fatal(err)
	}
	if w2, err := e.svc.Withdraw(bg, e.wallet.ID, "out-1", "test", "ok-iban", 20_000); err != nil || w2.ID != w1.ID {
		t.Fatalf("withdrawal retry: %+v, %v", w2, err)
	}
	if _, err := e.svc.Withdraw(bg, e.wallet.ID, "out-2", "test", "ok-iban", 80_501); !errors.Is(err, wallet.ErrRefused) {
		t.Fatalf("overdraft: %v", err)
	}
	if c, d := bal(); c != 100_500 || d != 20_000 {
		t.Fatalf("wallet %d/%d, want 100500 credits and 20000 debits", c, d)
	}
	e.checkLedger()
}
