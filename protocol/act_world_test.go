package protocol

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"
)

// The test world: fixed keys, parties, a clock, and builders for every
// object, so tests read as "take the valid object, break one thing".

const (
	userID      = "usr_alice"
	agentID     = "agt_shopper"
	merchantID  = "mch_shoes"
	merchant2ID = "mch_other"
	platformID  = "https://agentpay.example"
	oracleID    = "orc_prices"
	walletID    = "wal_alice_main"
)

// testNow is the world's clock: 2026-11-29T12:00:00Z, a Sunday.
var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// seedKey makes a deterministic Ed25519 key from a label.
func seedKey(tb testing.TB, label string) *Ed25519PrivateKey {
	tb.Helper()
	seed := sha256.Sum256([]byte("agentpay act test key " + label))
	k, err := NewEd25519PrivateKey(seed[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

type world struct {
	tb                                                 testing.TB
	user, agent, merchant, merchant2, platform, oracle *Ed25519PrivateKey
	keys                                               *KeySet
	revocations                                        *RevocationSet
	jti                                                int
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	w := &world{tb: tb, keys: NewKeySet(), revocations: NewRevocationSet()}
	w.user = seedKey(tb, "user")
	w.agent = seedKey(tb, "agent")
	w.merchant = seedKey(tb, "merchant")
	w.merchant2 = seedKey(tb, "merchant2")
	w.platform = seedKey(tb, "platform")
	w.oracle = seedKey(tb, "oracle")
	for _, e := range []struct {
		party string
		role  PartyRole
		k     *Ed25519PrivateKey
	}{
		{userID, PartyUser, w.user}, {agentID, PartyAgent, w.agent}, {merchantID, PartyMerchant, w.merchant},
		{merchant2ID, PartyMerchant, w.merchant2}, {platformID, PartyPlatform, w.platform}, {oracleID, PartyPlatform, w.oracle},
	} {
		if err := w.keys.Add(e.party, e.role, e.k.PublicKey()); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// vc is a verification context at testNow for audience aud.
func (w *world) vc(aud string) *VerifyContext {
	return &VerifyContext{Now: testNow, Audience: aud, Keys: w.keys, Revocations: w.revocations}
}

// claims makes registered claims issued a minute ago.
func (w *world) claims(iss, sub, aud string, life time.Duration) Claims {
	w.jti++
	c := Claims{
		Issuer:   iss,
		Subject:  sub,
		Audience: Audience{aud},
		IssuedAt: testNow.Add(-time.Minute).Unix(),
		ID:       "jti-" + string(rune('a'+w.jti%26)) + "-0123456789abcdef-" + actItoa(w.jti),
	}
	if life > 0 {
		c.Expiry = testNow.Add(-time.Minute + life).Unix()
	}
	return c
}

func actItoa(i int) string { return big.NewInt(int64(i)).String() }

func (w *world) sign(s Signer, obj Object) []byte {
	w.tb.Helper()
	b, err := Sign(s, obj)
	if err != nil {
		w.tb.Fatalf("sign %s: %v", obj.Kind(), err)
	}
	return b
}

func (w *world) cnf() Confirmation {
	c, err := NewConfirmation(w.agent.PublicKey())
	if err != nil {
		w.tb.Fatal(err)
	}
	return c
}

func usd(a int64) Money { return Money{Amount: a, Currency: "USD", Scale: 2} }

var shoeShop = Merchant{ID: merchantID, Name: "Shoe Shop", Website: "https://shoes.example"}

func (w *world) credential() *AgentCredential {
	return &AgentCredential{Claims: w.claims(userID, agentID, platformID, 90*24*time.Hour), Cnf: w.cnf(), Name: "Shopper"}
}

func (w *world) openCheckout(cs ...Constraint) *OpenCheckoutMandate {
	if cs == nil {
		cs = Constraints{
			&AllowedMerchantsConstraint{Allowed: []Merchant{shoeShop}},
			&LineItemsConstraint{Items: []LineItemRule{
				{ID: "shoes", AcceptableItems: []AcceptableItem{{ID: "sku-runner-42", Title: "Runner 42"}, {ID: "sku-runner-43"}}, Quantity: 1},
				{ID: "socks", AcceptableItems: []AcceptableItem{{ID: "sku-socks"}}, Quantity: 3},
			}},
			&PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000},
		}
	}
	return &OpenCheckoutMandate{
		Claims: w.claims(userID, agentID, platformID, 30*24*time.Hour), Cnf: w.cnf(),
		Constraints: cs, PromptSummary: "Buy running shoes size 42 when they cost at most $70",
	}
}

// openPayment builds an open payment mandate; ref is the open checkout
// mandate's hash for payment.reference ("" to leave it out).
func (w *world) openPayment(ref string, cs ...Constraint) *OpenPaymentMandate {
	if cs == nil {
		cs = Constraints{
			&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 10000},
			&BudgetConstraint{Currency: "USD", Scale: 2, Max: 20000, Period: PeriodMonth},
			&BudgetConstraint{Currency: "USD", Scale: 2, Max: 50000},
			&RecurrenceConstraint{Frequency: FrequencyOnDemand, MaxOccurrences: 5},
			&AllowedPayeesConstraint{Allowed: []Merchant{shoeShop}},
			&ExecutionDateConstraint{NotBefore: testNow.Add(-time.Hour).Unix(), NotAfter: testNow.Add(30 * 24 * time.Hour).Unix()},
			&ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 8000},
		}
		if ref != "" {
			cs = append(cs, &PaymentReferenceConstraint{ConditionalTransactionID: ref})
		}
	}
	return &OpenPaymentMandate{
		Claims: w.claims(userID, agentID, platformID, 30*24*time.Hour), Cnf: w.cnf(),
		PaymentInstrument: PaymentInstrument{ID: walletID, Type: PaymentInstrumentWallet},
		Constraints:       cs,
	}
}

// checkout: one pair of shoes at 65.00 and two pairs of socks at 4.50,
// 3.00 shipping, 5.20 tax: 81.20 in total.
func (w *world) checkout() *Checkout {
	return &Checkout{
		Claims:   w.claims(merchantID, "", platformID, 24*time.Hour),
		ID:       "co_1001",
		Merchant: shoeShop,
		Currency: "USD", Scale: 2,
		LineItems: []LineItem{
			{ID: "li_1", Item: Item{ID: "sku-runner-42", Title: "Runner 42", Quantity: 1}, UnitAmount: 6500, BaseAmount: 6500, Subtotal: 6500, Tax: 520, Total: 7020},
			{ID: "li_2", Item: Item{ID: "sku-socks", Title: "Socks", Quantity: 2}, UnitAmount: 450, BaseAmount: 900, Subtotal: 900, Total: 900},
		},
		Totals: []Total{
			{Type: TotalItemsBaseAmount, Amount: 7400},
			{Type: TotalSubtotal, Amount: 7400},
			{Type: TotalFulfillment, Amount: 300},
			{Type: TotalTax, Amount: 520},
			{Type: TotalTotal, Amount: 8220, DisplayText: "Total"},
		},
	}
}

// closedCheckout binds checkout co; openHash "" means human present
// (signed by the user), else human not present (signed by the agent).
func (w *world) closedCheckout(co []byte, openHash string) *ClosedCheckoutMandate {
	iss, mod := userID, HumanPresent
	if openHash != "" {
		iss, mod = agentID, HumanNotPresent
	}
	return &ClosedCheckoutMandate{
		Claims:      w.claims(iss, "", platformID, 15*time.Minute),
		CheckoutJWT: string(co), CheckoutHash: HashJWS(co), OpenMandateHash: openHash, Modality: mod,
	}
}

func (w *world) closedPayment(co []byte, amount Money, openHash string) *ClosedPaymentMandate {
	iss, mod := userID, HumanPresent
	if openHash != "" {
		iss, mod = agentID, HumanNotPresent
	}
	return &ClosedPaymentMandate{
		Claims:            w.claims(iss, "", platformID, 15*time.Minute),
		TransactionID:     HashJWS(co),
		Payee:             shoeShop,
		PaymentAmount:     amount,
		PaymentInstrument: PaymentInstrument{ID: walletID, Type: PaymentInstrumentWallet},
		OpenMandateHash:   openHash,
		Modality:          mod,
	}
}

func (w *world) closedSigner(openHash string) Signer {
	if openHash != "" {
		return w.agent
	}
	return w.user
}

// hnpPurchase builds a valid human-not-present purchase.
func (w *world) hnpPurchase() Purchase {
	oc := w.sign(w.user, w.openCheckout())
	op := w.sign(w.user, w.openPayment(HashJWS(oc)))
	co := w.sign(w.merchant, w.checkout())
	cm := w.sign(w.agent, w.closedCheckout(co, HashJWS(oc)))
	pm := w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(op)))
	return Purchase{CheckoutMandate: cm, PaymentMandate: pm, OpenCheckoutMandate: oc, OpenPaymentMandate: op}
}

// hpPurchase builds a valid human-present purchase.
func (w *world) hpPurchase() Purchase {
	co := w.sign(w.merchant, w.checkout())
	cm := w.sign(w.user, w.closedCheckout(co, ""))
	pm := w.sign(w.user, w.closedPayment(co, usd(8220), ""))
	return Purchase{CheckoutMandate: cm, PaymentMandate: pm}
}

func (w *world) receipt(ref []byte) *Receipt {
	return &Receipt{
		Claims: w.claims(platformID, "", agentID, 0), Result: ResultSuccess, Reference: HashJWS(ref),
		ReferenceVCT: KindClosedPaymentMandate.VCT(), PaymentID: "tr_01JDX0000000000000000000", Amount: actPtr(usd(8220)),
	}
}

func (w *world) orderAttestation(co, pm []byte) *OrderAttestation {
	return &OrderAttestation{
		Claims:  w.claims(platformID, "", merchantID, 0),
		OrderID: "ord_1", CheckoutID: "co_1001", CheckoutHash: HashJWS(co), PaymentMandateHash: HashJWS(pm),
		Payee: shoeShop, Amount: usd(8220), Status: OrderAuthorized, Modality: HumanNotPresent,
		HoldID: "tr_hold_1", CaptureDeadline: testNow.Add(7 * 24 * time.Hour).Unix(),
	}
}

func (w *world) refund(co []byte) *Refund {
	return &Refund{
		Claims:   w.claims(merchantID, "", platformID, 0),
		RefundID: "rf_1", OrderID: "ord_1", CheckoutHash: HashJWS(co), Amount: usd(900),
		Reason: RefundDefective, Description: "socks had holes", LineItems: []RefundLine{{ID: "li_2", Quantity: 2}},
	}
}

func (w *world) adjustment(refund []byte) *Adjustment {
	return &Adjustment{
		Claims:       w.claims(merchantID, "", platformID, 0),
		AdjustmentID: "adj_1", OrderID: "ord_1", Type: AdjustmentRefund, Status: AdjustmentCompleted,
		OccurredAt: testNow.Add(-time.Minute).Unix(), Amount: actPtr(usd(900)), RefundHash: HashJWS(refund),
	}
}

func (w *world) priceAttestation(price int64) *PriceAttestation {
	return &PriceAttestation{
		Claims:   w.claims(oracleID, "", platformID, 10*time.Minute),
		Merchant: shoeShop, ItemID: "sku-runner-42", Price: usd(price), Available: true,
		Source: &PriceSource{FeedID: "feed_shoes", FeedUpdateID: "upd_77"},
	}
}

func actPtr[T any](v T) *T { return &v }

// es256Signer is a test-only P-256 Signer (the package signs with
// Ed25519 only; users' passkeys sign ES256).
type es256Signer struct {
	priv *ecdsa.PrivateKey
	pub  PublicKey
}

func newES256Signer(tb testing.TB, label string) *es256Signer {
	tb.Helper()
	d := sha256.Sum256([]byte("agentpay act test p256 " + label))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := NewPublicKey(&priv.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return &es256Signer{priv: priv, pub: pub}
}

func (s *es256Signer) Algorithm() string    { return AlgES256 }
func (s *es256Signer) KeyID() string        { return s.pub.KeyID() }
func (s *es256Signer) PublicKey() PublicKey { return s.pub }
func (s *es256Signer) SignMessage(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	r, sv, err := ecdsa.Sign(rand.Reader, s.priv, h[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	sv.FillBytes(out[32:])
	return out, nil
}

var actCtx = context.Background()
