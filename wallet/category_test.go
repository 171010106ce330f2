package wallet_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// registerMerchant registers merchant mc with category (a fresh key).
func (e *env) registerMerchant(mc protocol.Merchant, category string) *wallet.Merchant {
	e.t.Helper()
	k, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.svc.RegisterMerchant(bg, mc.ID, mc.Name, category, k.PublicKey().JWK())
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestAllowedCategories: a mandate allowing only "weather" pays a
// registered weather merchant, refuses a registered gambling merchant
// with category_not_allowed (changing nothing), and holds for the
// owner's approval a payment to a payee the platform knows no category
// for. The category is the registry's, never the agent's claim.
func TestAllowedCategories(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("forecaster")
	casino := protocol.Merchant{ID: "mch_casino", Name: "Casino"}
	stranger := protocol.Merchant{ID: "mch_unlisted", Name: "Unlisted"}
	if mc := e.registerMerchant(shop, "weather"); mc.Category != "weather" {
		t.Fatalf("registered merchant %+v", mc)
	}
	e.registerMerchant(casino, "gambling")
	m := e.mandate(key, agent.ID, usd(10_000), &protocol.AllowedCategoriesConstraint{Categories: []string{"weather"}})

	// The weather merchant is paid.
	p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 250)})
	if err != nil || p.Status != wallet.StatusCompleted {
		t.Fatalf("payment to the weather merchant: %+v, %v", p, err)
	}
	if len(p.Decision.Checks) != 2 || p.Decision.Checks[1].Type != protocol.ConstraintAllowedCategories ||
		p.Decision.Checks[1].Result != protocol.CheckPass {
		t.Fatalf("decision %+v", p.Decision)
	}

	// The casino is refused, whatever category the agent claims, and
	// nothing changes.
	before, _ := e.svc.Balance(bg, e.wallet)
	limits := mustMandateLimits(e, m)
	payments := len(e.svc.Payments(e.user.ID, "", ""))
	_, err = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, casino, 250), Category: "weather"})
	if got := code(err); got != protocol.CodeCategoryNotAllowed {
		t.Fatalf("payment to the casino: %v (code %q), want %s", err, got, protocol.CodeCategoryNotAllowed)
	}
	var r *wallet.Refusal
	if !errors.As(err, &r) || r.Decision == nil || r.Decision.Outcome != protocol.OutcomeDeny {
		t.Fatalf("refusal %+v", err)
	}
	if after, _ := e.svc.Balance(bg, e.wallet); after != before {
		t.Fatalf("a refused payment changed the wallet: %+v -> %+v", before, after)
	}
	if got := mustMandateLimits(e, m); len(got) != len(limits) || got[0].Used != limits[0].Used {
		t.Fatalf("a refused payment changed the limits: %+v -> %+v", limits, got)
	}
	if n := len(e.svc.Payments(e.user.ID, "", "")); n != payments {
		t.Fatalf("a refused payment was recorded: %d -> %d payments", payments, n)
	}

	// A payee with no registered category (not a merchant at all, or a
	// merchant registered without one) is unresolved: the payment is
	// held for the owner, funds pending. The agent's claim does not help.
	held, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, stranger, 300), Category: "weather"})
	if err != nil || held.Status != wallet.StatusHeld || held.Hold != string(protocol.CodeUnresolvedConstraint) ||
		held.Decision.Outcome != protocol.OutcomeApprovalRequired {
		t.Fatalf("payment to an unknown payee: %+v, %v; want held for %s", held, err, protocol.CodeUnresolvedConstraint)
	}
	bal, _ := e.svc.Balance(bg, e.wallet)
	if bal.DebitsPosted.Lo != 250 || bal.DebitsPending.Lo != 300 {
		t.Fatalf("held: wallet %+v", bal)
	}
	bare := protocol.Merchant{ID: "mch_bare"}
	e.registerMerchant(bare, "")
	if p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, bare, 10)}); err != nil ||
		p.Status != wallet.StatusHeld || p.Hold != string(protocol.CodeUnresolvedConstraint) {
		t.Fatalf("payment to a merchant without a category: %+v, %v", p, err)
	}

	// Re-registering the casino as a weather merchant lets it be paid.
	e.registerMerchant(casino, "weather")
	if p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, casino, 100)}); err != nil ||
		p.Status != wallet.StatusCompleted {
		t.Fatalf("payment to the recategorised merchant: %+v, %v", p, err)
	}

	// A malformed category is refused at registration.
	k, _ := protocol.GenerateEd25519Key(rand.Reader)
	if _, err := e.svc.RegisterMerchant(bg, "mch_bad", "", "Weather", k.PublicKey().JWK()); !errors.Is(err, wallet.ErrInvalid) {
		t.Fatalf("upper-case category: %v", err)
	}
	e.checkLedger()

	// A restarted service keeps the categories.
	e.stop()
	e.start()
	if mc, err := e.svc.Merchant(casino.ID); err != nil || mc.Category != "weather" {
		t.Fatalf("after restart: %+v, %v", mc, err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 5)}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// TestRiskSeesRegisteredCategory: the risk rules see the payee's
// registered category when the agent names none, and the agent's when it
// does.
func TestRiskSeesRegisteredCategory(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("gambler")
	casino := protocol.Merchant{ID: "mch_casino"}
	e.registerMerchant(casino, "gambling")
	m := e.mandate(key, agent.ID, usd(10_000))
	if _, err := e.svc.SetWalletRules(bg, e.user.ID, e.wallet.ID, []risk.Rule{
		{ID: "no-gambling", Expression: `merchant.category == "gambling"`, Outcome: risk.OutcomeDecline, Reason: "blocked_category", Enabled: true},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, casino, 10)}); code(err) != "risk_declined" {
		t.Fatalf("payment to the casino: %v, want risk_declined", err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); err != nil {
		t.Fatalf("payment to an unregistered payee: %v", err)
	}
	// The agent's category, when it gives one, is what the rules see.
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, casino, 10), Category: "games"}); err != nil {
		t.Fatalf("payment with the agent's category: %v", err)
	}
}

// TestPurchaseAllowedCategories: a purchase's payee category is its
// checkout merchant's registered one.
func TestPurchaseAllowedCategories(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	sh := newShopper(t, e, nil, usd(50_000), &protocol.AllowedCategoriesConstraint{Categories: []string{"shoes"}})
	// Registered without a category: held for the owner.
	p, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(6900))
	if err != nil || p.Status != wallet.StatusHeld || p.Hold != string(protocol.CodeUnresolvedConstraint) {
		t.Fatalf("purchase from a merchant without a category: %+v, %v", p, err)
	}
	// As a shoe shop: bought.
	if _, err := e.svc.RegisterMerchant(bg, shoeShop.ID, shoeShop.Name, "shoes", sh.merchant.PublicKey().JWK()); err != nil {
		t.Fatal(err)
	}
	if p, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(6900)); err != nil || p.Status != wallet.StatusCompleted {
		t.Fatalf("purchase from the shoe shop: %+v, %v", p, err)
	}
	// Recategorised: refused, nothing changes.
	if _, err := e.svc.RegisterMerchant(bg, shoeShop.ID, shoeShop.Name, "gambling", sh.merchant.PublicKey().JWK()); err != nil {
		t.Fatal(err)
	}
	before := sh.snapshot()
	if _, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(6900)); code(err) != protocol.CodeCategoryNotAllowed {
		t.Fatalf("purchase from a gambling merchant: %v, want %s", err, protocol.CodeCategoryNotAllowed)
	}
	if after := sh.snapshot(); after != before {
		t.Fatalf("a refused purchase changed %+v -> %+v", before, after)
	}
	e.checkLedger()
}
