package wallet_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// The purchase tests reuse wallet_test.go's env (real engine, SQLite,
// evidence log, fake clock, a user with a funded $1,000.00 wallet).

var shoeShop = protocol.Merchant{ID: "mch_shoes", Name: "Shoe Shop"}

// shopper is an agent with an open checkout mandate (shoes at or below
// $70.00 from the shoe shop) and an open payment mandate referencing it.
type shopper struct {
	e        *env
	agent    *wallet.Agent
	key      *protocol.Ed25519PrivateKey
	merchant *protocol.Ed25519PrivateKey
	ocm      *wallet.CheckoutMandate
	opm      *wallet.Mandate
}

func newShopper(t *testing.T, e *env, price *protocol.PriceConditionConstraint, pay ...protocol.Constraint) *shopper {
	t.Helper()
	sh := &shopper{e: e}
	sh.agent, sh.key = e.agent("shopper")
	var err error
	if sh.merchant, err = protocol.GenerateEd25519Key(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterMerchant(bg, shoeShop.ID, shoeShop.Name, "", sh.merchant.PublicKey().JWK()); err != nil {
		t.Fatal(err)
	}
	if price == nil {
		price = &protocol.PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000}
	}
	cnf, _ := protocol.NewConfirmation(sh.key.PublicKey())
	open := &protocol.OpenCheckoutMandate{Claims: e.claims(e.user.ID, sh.agent.ID, 30*24*time.Hour), Cnf: cnf,
		Constraints: protocol.Constraints{
			&protocol.AllowedMerchantsConstraint{Allowed: []protocol.Merchant{shoeShop}},
			&protocol.LineItemsConstraint{Items: []protocol.LineItemRule{{ID: "shoes",
				AcceptableItems: []protocol.AcceptableItem{{ID: "sku-runner-42"}}, Quantity: 1}}},
			price,
		}, PromptSummary: "Buy running shoes size 42 when they cost at most $70"}
	if sh.ocm, err = e.svc.IssueCheckoutMandate(bg, e.user.ID, sign(t, e.userKey, open)); err != nil {
		t.Fatal(err)
	}
	if pay == nil {
		pay = []protocol.Constraint{usd(50_000)}
	}
	pay = append(pay, &protocol.PaymentReferenceConstraint{ConditionalTransactionID: sh.ocm.Hash})
	sh.opm = e.mandate(sh.key, sh.agent.ID, pay...)
	return sh
}

// checkout is a checkout signed by the merchant key k as merchant mc:
// one pair of shoes at unit price, nothing else.
func (sh *shopper) checkout(k protocol.Signer, mc protocol.Merchant, unit int64) []byte {
	co := &protocol.Checkout{Claims: sh.e.claims(mc.ID, "", time.Hour), ID: "co_" + strings.TrimPrefix(sh.e.claims("", "", 0).ID, "jti-"),
		Merchant: mc, Currency: "USD", Scale: 2,
		LineItems: []protocol.LineItem{{ID: "li_1", Item: protocol.Item{ID: "sku-runner-42", Title: "Runner 42", Quantity: 1},
			UnitAmount: unit, BaseAmount: unit, Subtotal: unit, Total: unit}},
		Totals: []protocol.Total{{Type: protocol.TotalSubtotal, Amount: unit}, {Type: protocol.TotalTotal, Amount: unit}}}
	return sign(sh.e.t, k, co)
}

// closedCheckout is the agent's closed checkout mandate for checkout co.
func (sh *shopper) closedCheckout(co []byte) []byte {
	return sign(sh.e.t, sh.key, &protocol.ClosedCheckoutMandate{Claims: sh.e.claims(sh.agent.ID, "", 15*time.Minute),
		CheckoutJWT: string(co), CheckoutHash: protocol.HashJWS(co), OpenMandateHash: sh.ocm.Hash, Modality: protocol.HumanNotPresent})
}

// closedPayment is the agent's closed payment mandate paying amount to
// payee for checkout co.
func (sh *shopper) closedPayment(co []byte, payee protocol.Merchant, amount int64) []byte {
	return sign(sh.e.t, sh.key, &protocol.ClosedPaymentMandate{Claims: sh.e.claims(sh.agent.ID, "", 15*time.Minute),
		TransactionID: protocol.HashJWS(co), Payee: payee, PaymentAmount: protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
		PaymentInstrument: protocol.PaymentInstrument{ID: sh.e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   sh.opm.Hash, Modality: protocol.HumanNotPresent})
}

// order is a complete purchase of the shoes at unit price.
func (sh *shopper) order(unit int64) wallet.PurchaseRequest {
	co := sh.checkout(sh.merchant, shoeShop, unit)
	return wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co), PaymentMandate: sh.closedPayment(co, shoeShop, unit)}
}

func (sh *shopper) priceAttestation(price int64) []byte {
	return sign(sh.e.t, sh.merchant, &protocol.PriceAttestation{Claims: sh.e.claims(shoeShop.ID, "", 10*time.Minute),
		Merchant: shoeShop, ItemID: "sku-runner-42", Price: protocol.Money{Amount: price, Currency: "USD", Scale: 2}, Available: true})
}

// snapshot is what a refused purchase must leave unchanged.
type snapshot struct {
	debits, pending uint64
	limits          string
	payments        int
}

func (sh *shopper) snapshot() snapshot {
	e := sh.e
	bal, err := e.svc.Balance(bg, e.wallet)
	if err != nil {
		e.t.Fatal(err)
	}
	ls, _ := json.Marshal(mustMandateLimits(e, sh.opm))
	return snapshot{debits: bal.DebitsPosted.Lo, pending: bal.DebitsPending.Lo, limits: string(ls),
		payments: len(e.svc.Payments(e.user.ID, "", ""))}
}

func TestPurchasePriceCondition(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	sh := newShopper(t, e, nil)

	// At 69.00 the condition holds: bought.
	req := sh.order(6900)
	p, err := e.svc.Purchase(bg, sh.agent.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != wallet.StatusCompleted || p.Amount != 6900 || p.Payee != shoeShop.ID || p.Checkout.Merchant != shoeShop.ID ||
		p.Checkout.OpenMandate != sh.ocm.ID || p.Checkout.Hash == "" {
		t.Fatalf("purchase %+v, checkout %+v", p.Payment, p.Checkout)
	}
	if e.spent(sh.opm, protocol.PeriodTotal) != 6900 {
		t.Fatalf("budget used %d", e.spent(sh.opm, protocol.PeriodTotal))
	}
	// The payment doc records the checkout; a retry is the same purchase.
	got, err := e.svc.PurchaseOf(bg, p.ID)
	if err != nil || got.Checkout != p.Checkout {
		t.Fatalf("PurchaseOf: %+v, %v", got, err)
	}
	again, err := e.svc.Purchase(bg, sh.agent.ID, req)
	if err != nil || again.ID != p.ID || again.Checkout != p.Checkout {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	// Exactly 70.00: at or below.
	if p, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(7000)); err != nil || p.Status != wallet.StatusCompleted {
		t.Fatalf("at 70.00: %+v, %v", p, err)
	}

	// At 71.00 the price moved above the condition: refused, nothing
	// changed.
	before := sh.snapshot()
	_, err = e.svc.Purchase(bg, sh.agent.ID, sh.order(7100))
	if code(err) != protocol.CodePriceConditionNotMet || !errors.Is(err, wallet.ErrRefused) {
		t.Fatalf("at 71.00: %v, want %s", err, protocol.CodePriceConditionNotMet)
	}
	if after := sh.snapshot(); after != before {
		t.Fatalf("a refused purchase changed state: %+v -> %+v", before, after)
	}
	e.checkLedger()

	// A restarted service knows the merchant, the checkout mandate and
	// the purchases.
	e.stop()
	e.start()
	defer e.stop()
	if _, err := e.svc.Merchant(shoeShop.ID); err != nil {
		t.Fatal(err)
	}
	if cms := e.svc.CheckoutMandates(e.user.ID, sh.agent.ID); len(cms) != 1 || cms[0].ID != sh.ocm.ID {
		t.Fatalf("after restart: checkout mandates %v", cms)
	}
	if got, err := e.svc.PurchaseOf(bg, p.ID); err != nil || got.Checkout != p.Checkout {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if p, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(5000)); err != nil || p.Status != wallet.StatusCompleted {
		t.Fatalf("after restart: %+v, %v", p, err)
	}
	if _, err := e.svc.Purchase(bg, sh.agent.ID, req); err != nil {
		t.Fatalf("after restart, the retry of a made purchase: %v", err)
	}
	// Revoking the checkout mandate stops purchases under it.
	if _, err := e.svc.RevokeCheckoutMandate(bg, e.user.ID, sh.ocm.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(5000)); code(err) != protocol.CodeRevoked {
		t.Fatalf("after revocation: %v", err)
	}
}

func TestPurchaseRefusals(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	sh := newShopper(t, e, nil)
	other := protocol.Merchant{ID: "mch_other", Name: "Other Shop"}
	otherKey, _ := protocol.GenerateEd25519Key(rand.Reader)
	if _, err := e.svc.RegisterMerchant(bg, other.ID, other.Name, "", otherKey.PublicKey().JWK()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterMerchant(bg, "mch_copy", "", "", otherKey.PublicKey().JWK()); !errors.Is(err, wallet.ErrConflict) {
		t.Fatalf("another merchant's key: %v", err)
	}
	before := sh.snapshot()

	co := sh.checkout(sh.merchant, shoeShop, 6900)
	co2 := sh.checkout(sh.merchant, shoeShop, 6500)
	otherCo := sh.checkout(otherKey, other, 6900)
	// The checkout with its total changed, re-encoded, the merchant's
	// signature kept; the closed checkout mandate binds the new bytes.
	parts := strings.Split(string(co), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"amount":6900`, `"amount":690`, 1)
	if tampered == string(payload) {
		t.Fatal("nothing tampered")
	}
	tamperedCo := []byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2])

	cases := map[string]struct {
		req  wallet.PurchaseRequest
		want protocol.Code
	}{
		"payee is not the checkout's merchant": {wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co),
			PaymentMandate: sh.closedPayment(co, other, 6900)}, protocol.CodeMerchantMismatch},
		"merchant not allowed": {wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(otherCo),
			PaymentMandate: sh.closedPayment(otherCo, other, 6900)}, protocol.CodeMerchantNotAllowed},
		"tampered checkout": {wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(tamperedCo),
			PaymentMandate: sh.closedPayment(tamperedCo, shoeShop, 690)}, protocol.CodeSignatureInvalid},
		"payment amount changed": {wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co),
			PaymentMandate: sh.closedPayment(co, shoeShop, 690)}, protocol.CodeAmountMismatch},
		"checkout mandate for another checkout": {wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co2),
			PaymentMandate: sh.closedPayment(co, shoeShop, 6900)}, protocol.CodeCheckoutHashMismatch},
		"unknown merchant key": {func() wallet.PurchaseRequest {
			k, _ := protocol.GenerateEd25519Key(rand.Reader)
			c := sh.checkout(k, shoeShop, 6900)
			return wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(c), PaymentMandate: sh.closedPayment(c, shoeShop, 6900)}
		}(), protocol.CodeKeyUnknown},
	}
	for name, c := range cases {
		_, err := e.svc.Purchase(bg, sh.agent.ID, c.req)
		if got := code(err); got != c.want {
			t.Errorf("%s: %v (code %q), want %q", name, err, got, c.want)
		}
	}
	if after := sh.snapshot(); after != before {
		t.Fatalf("refused purchases changed state: %+v -> %+v", before, after)
	}
	// A checkout is paid once, whatever closed mandates are presented.
	if _, err := e.svc.Purchase(bg, sh.agent.ID, wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co),
		PaymentMandate: sh.closedPayment(co, shoeShop, 6900)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Purchase(bg, sh.agent.ID, wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co),
		PaymentMandate: sh.closedPayment(co, shoeShop, 6900)})
	if code(err) != protocol.CodeReplayed {
		t.Fatalf("the same checkout again: %v", err)
	}
	if got := e.spent(sh.opm, protocol.PeriodTotal); got != 6900 {
		t.Fatalf("budget used %d, want 6900", got)
	}
	e.checkLedger()
}

// TestPurchasePriceAttestation: a price condition that names attestors
// holds the purchase for the owner without an attestation, buys with a
// fresh one at or below the condition and refuses one above it.
func TestPurchasePriceAttestation(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	sh := newShopper(t, e, &protocol.PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2,
		AtOrBelow: 7000, Attestors: []string{shoeShop.ID}, AttestationMaxAgeSeconds: 600})

	held, err := e.svc.Purchase(bg, sh.agent.ID, sh.order(6900))
	if err != nil || held.Status != wallet.StatusHeld || held.Hold != string(protocol.CodePriceAttestationRequired) {
		t.Fatalf("without an attestation: %+v, %v", held, err)
	}
	bal, _ := e.svc.Balance(bg, e.wallet)
	if bal.DebitsPending.Lo != 6900 || bal.DebitsPosted.Lo != 0 {
		t.Fatalf("held: wallet %+v", bal)
	}
	if _, err := e.svc.Answer(bg, e.user.ID, held.ID, false); err != nil {
		t.Fatal(err)
	}

	req := sh.order(6900)
	req.Price = sh.priceAttestation(6800)
	p, err := e.svc.Purchase(bg, sh.agent.ID, req)
	if err != nil || p.Status != wallet.StatusCompleted || p.Checkout.PriceAttestedBy != shoeShop.ID {
		t.Fatalf("with an attestation: %+v, %v", p, err)
	}

	before := sh.snapshot()
	req = sh.order(6900)
	req.Price = sh.priceAttestation(7100)
	if _, err := e.svc.Purchase(bg, sh.agent.ID, req); code(err) != protocol.CodePriceConditionNotMet {
		t.Fatalf("attested above: %v", err)
	}
	if after := sh.snapshot(); after != before {
		t.Fatalf("a refused purchase changed state: %+v -> %+v", before, after)
	}
	e.checkLedger()
}

// TestPurchaseZeroOverrun: concurrent purchases of distinct checkouts
// under a $200.00 budget spend at most $200.00; the others are refused
// with budget_exceeded; concurrent purchases of one checkout pay it once.
func TestPurchaseZeroOverrun(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	sh := newShopper(t, e, nil, usd(20_000))
	const n = 40
	reqs := make([]wallet.PurchaseRequest, n)
	for i := range reqs {
		reqs[i] = sh.order(int64(6000 + i%10*100)) // 60.00 .. 69.00
	}
	// Four more attempts at the first checkout, each with its own closed
	// mandates.
	co := sh.checkout(sh.merchant, shoeShop, 500)
	for range 4 {
		reqs = append(reqs, wallet.PurchaseRequest{CheckoutMandate: sh.closedCheckout(co), PaymentMandate: sh.closedPayment(co, shoeShop, 500)})
	}
	var spent, paidSame atomic.Int64
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.svc.Purchase(bg, sh.agent.ID, r)
			if err != nil {
				if c := code(err); c != protocol.CodeBudgetExceeded && !(i >= n && c == protocol.CodeReplayed) {
					t.Errorf("purchase %d: %v (code %q)", i, err, c)
				}
				return
			}
			spent.Add(p.Amount)
			if i >= n {
				paidSame.Add(1)
			}
		}()
	}
	wg.Wait()
	if spent.Load() > 20_000 {
		t.Fatalf("spent %d of a 20000 budget", spent.Load())
	}
	if paidSame.Load() > 1 {
		t.Fatalf("one checkout paid %d times", paidSame.Load())
	}
	if used := e.spent(sh.opm, protocol.PeriodTotal); used != spent.Load() {
		t.Fatalf("the budget account says %d spent, the purchases %d", used, spent.Load())
	}
	bal, _ := e.svc.Balance(bg, e.wallet)
	if int64(bal.DebitsPosted.Lo) != spent.Load() {
		t.Fatalf("wallet debited %d, purchases %d", bal.DebitsPosted.Lo, spent.Load())
	}
	if spent.Load() < 20_000-6900 {
		t.Fatalf("only %d of 20000 spent: the budget was not used up", spent.Load())
	}
	e.checkLedger()
	e.stop()
}
