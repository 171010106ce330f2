package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api"
	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

var shoeShop = protocol.Merchant{ID: "mch_shoes", Name: "Shoe Shop"}

// ptest is a real server with the AI Wallet and the evidence log, a
// funded wallet of Alice's, the shoe shop registered, and Alice's agent
// with an open checkout mandate ("buy running shoes size 42 when they
// cost at most $70.00") and an open payment mandate referencing it.
type ptest struct {
	*wtest
	merchant *protocol.Ed25519PrivateKey
	agentID  string
	key      *protocol.Ed25519PrivateKey
	cm       protocol.WalletCheckoutMandate
	m        protocol.WalletMandate
}

func newPurchaseTest(t *testing.T) *ptest {
	t.Helper()
	clock := apitest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	w := &wtest{t: t, clock: clock, env: apitest.New(t, apitest.Options{Clock: clock, Wallet: true, Evidence: true})}
	createAsset(t, w.env, 1, "USD")
	w.user, w.secret, w.ukey = w.newUser("Alice")
	do(t, w.env, "POST", "/v1/wallets", as(w.secret), body(`{"currency":"USD"}`)).want(t, http.StatusCreated).decode(t, &w.wallet)
	do(t, w.env, "POST", "/v1/wallets/"+w.wallet.ID+"/topups", as(w.secret), body(`{"amount":100000,"source":"ok-card"}`)).want(t, http.StatusCreated)
	p := &ptest{wtest: w}
	p.merchant, _ = protocol.GenerateEd25519Key(rand.Reader)
	jwk, _ := json.Marshal(p.merchant.PublicKey().JWK())
	var mc protocol.WalletMerchant
	do(t, w.env, "POST", "/v1/merchants", body(protocol.RegisterMerchantRequest{ID: shoeShop.ID, Name: shoeShop.Name, Key: jwk})).
		want(t, http.StatusCreated).decode(t, &mc)
	if mc.ID != shoeShop.ID || mc.KeyID != p.merchant.KeyID() || mc.CreatedAt == "" {
		t.Fatalf("merchant %s", mustJSON(t, mc))
	}
	p.agentID, p.key = w.agent("shopper")
	p.cm = p.issueCheckoutMandate(w.secret, p.openCheckout()).want(t, http.StatusCreated).decodeCM(t)
	p.m = w.mandate(p.key, p.agentID, usd(50000), &protocol.PaymentReferenceConstraint{ConditionalTransactionID: p.cm.Hash})
	return p
}

// openCheckout is Alice's open checkout mandate for the agent: the shoes
// from the shoe shop at or below $70.00.
func (p *ptest) openCheckout() string {
	cnf, _ := protocol.NewConfirmation(p.key.PublicKey())
	open := &protocol.OpenCheckoutMandate{Claims: p.claims(p.user.ID, p.agentID, 30*24*time.Hour), Cnf: cnf,
		Constraints: protocol.Constraints{
			&protocol.AllowedMerchantsConstraint{Allowed: []protocol.Merchant{shoeShop}},
			&protocol.LineItemsConstraint{Items: []protocol.LineItemRule{{ID: "shoes",
				AcceptableItems: []protocol.AcceptableItem{{ID: "sku-runner-42"}}, Quantity: 1}}},
			&protocol.PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000},
		}, PromptSummary: "Buy running shoes size 42 when they cost at most $70"}
	return signObj(p.t, p.ukey, open)
}

func (p *ptest) issueCheckoutMandate(secret, jws string) *response {
	return do(p.t, p.env, "POST", "/v1/checkout-mandates", as(secret), body(protocol.IssueCheckoutMandateRequest{Mandate: jws}))
}

func (r *response) decodeCM(t testing.TB) protocol.WalletCheckoutMandate {
	var cm protocol.WalletCheckoutMandate
	r.decode(t, &cm)
	return cm
}

// checkout is a checkout the merchant key k signs as mc: one pair of
// shoes at unit price.
func (p *ptest) checkout(k protocol.Signer, mc protocol.Merchant, unit int64) string {
	cl := p.claims(mc.ID, "", time.Hour)
	co := &protocol.Checkout{Claims: cl, ID: "co_" + strings.TrimPrefix(cl.ID, "jti-"), Merchant: mc, Currency: "USD", Scale: 2,
		LineItems: []protocol.LineItem{{ID: "li_1", Item: protocol.Item{ID: "sku-runner-42", Title: "Runner 42", Quantity: 1},
			UnitAmount: unit, BaseAmount: unit, Subtotal: unit, Total: unit}},
		Totals: []protocol.Total{{Type: protocol.TotalSubtotal, Amount: unit}, {Type: protocol.TotalTotal, Amount: unit}}}
	return signObj(p.t, k, co)
}

// closedCheckout is the agent's closed checkout mandate for checkout co.
func (p *ptest) closedCheckout(co string) string {
	return signObj(p.t, p.key, &protocol.ClosedCheckoutMandate{Claims: p.claims(p.agentID, "", 15*time.Minute),
		CheckoutJWT: co, CheckoutHash: protocol.HashJWS([]byte(co)), OpenMandateHash: p.cm.Hash, Modality: protocol.HumanNotPresent})
}

// closedPayment is the agent's closed payment mandate paying amount to
// payee for checkout co.
func (p *ptest) closedPayment(co string, payee protocol.Merchant, amount int64) string {
	return signObj(p.t, p.key, &protocol.ClosedPaymentMandate{Claims: p.claims(p.agentID, "", 15*time.Minute),
		TransactionID: protocol.HashJWS([]byte(co)), Payee: payee, PaymentAmount: protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
		PaymentInstrument: protocol.PaymentInstrument{ID: p.wallet.ID, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   p.m.Hash, Modality: protocol.HumanNotPresent})
}

// order is a complete purchase of the shoes at unit price.
func (p *ptest) order(unit int64) protocol.PurchaseRequest {
	co := p.checkout(p.merchant, shoeShop, unit)
	return protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(co), PaymentMandate: p.closedPayment(co, shoeShop, unit), Category: "shoes"}
}

// send signs body as the agent's POST /v1/payments and sends it.
func (p *ptest) send(v any) *response {
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	req, err := http.NewRequest("POST", p.env.URL+"/v1/payments", bytes.NewReader(b))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := protocol.SignRequest(req, b, p.key, protocol.SignOptions{Created: p.clock.Now()}); err != nil {
		p.t.Fatal(err)
	}
	return p.wtest.send(signed{req: req, body: b})
}

// checkReceipt verifies a purchase's receipt: signed by the log, naming
// its three transfers (the checkout leg, the total budget, the wallet)
// and its doc payment/<id>.
func (p *ptest) checkReceipt(pu protocol.WalletPurchase) {
	p.t.Helper()
	v, err := note.NewVerifier(p.env.LogKey)
	if err != nil {
		p.t.Fatal(err)
	}
	r, err := evidence.OpenReceipt([]byte(pu.Receipt), apitest.LogOrigin, v)
	if err != nil {
		p.t.Fatalf("receipt %q: %v", pu.Receipt, err)
	}
	if _, ok := r.Item("doc", "payment/"+pu.ID); !ok || len(r.Items) != 4 {
		p.t.Fatalf("receipt items %+v, want 3 transfers and doc payment/%s", r.Items, pu.ID)
	}
}

// TestPurchaseConditionalOrder: "buy when the price is at or below
// $70.00" over HTTP buys at $69.00 (with a verified receipt; the same
// bytes again answer the same purchase) and is refused at $71.00 with
// price_condition_not_met, nothing changed; a tampered checkout and a
// second payment of a paid checkout are refused, nothing changed.
func TestPurchaseConditionalOrder(t *testing.T) {
	t.Parallel()
	p := newPurchaseTest(t)

	req := p.order(6900)
	var pu protocol.WalletPurchase
	p.send(req).want(t, http.StatusCreated).decode(t, &pu)
	if pu.Status != "completed" || pu.Amount != 6900 || pu.Payee != shoeShop.ID || pu.Agent != p.agentID || pu.Mandate != p.m.ID ||
		pu.ClosedMandate != req.PaymentMandate || len(pu.Limits) == 0 || pu.Limits[0].Used != 6900 {
		t.Fatalf("purchase %s", mustJSON(t, pu))
	}
	ck := pu.Checkout
	if ck.Merchant != shoeShop.ID || ck.OpenMandate != p.cm.ID || ck.MandateHash != protocol.HashJWS([]byte(req.CheckoutMandate)) ||
		ck.Hash == "" || !strings.HasPrefix(ck.ID, "co_") || ck.PriceAttestedBy != "" {
		t.Fatalf("checkout %s", mustJSON(t, ck))
	}
	p.checkReceipt(pu)

	// The same bytes again, in a newly signed request: the same purchase.
	var again protocol.WalletPurchase
	r := p.send(req).want(t, http.StatusOK)
	r.decode(t, &again)
	if r.Header.Get(protocol.HeaderIdempotentReplayed) != "true" || again.ID != pu.ID || again.Checkout != pu.Checkout ||
		again.Receipt != pu.Receipt || !jsonEqual(again.Limits, pu.Limits) {
		t.Fatalf("retry: %s", r.Body)
	}
	// The purchase reads back as a payment.
	var got protocol.WalletPayment
	do(t, p.env, "GET", "/v1/payments/"+pu.ID, as(p.secret)).want(t, http.StatusOK).decode(t, &got)
	if got.ID != pu.ID || got.Amount != 6900 || got.Receipt != pu.Receipt {
		t.Fatalf("read back %s", mustJSON(t, got))
	}

	// At $71.00 the price is above the condition: refused, nothing changed.
	before := p.state(p.m.ID)
	e := wantCode(t, p.send(p.order(7100)), protocol.CodePriceConditionNotMet)
	if e.Check == nil || e.Check.Type != "checkout.price_condition" || e.Decision == nil {
		t.Fatalf("refusal %+v", e)
	}
	p.wantSame(before, p.m.ID)

	// A tampered checkout (its total changed, the merchant's signature
	// kept): refused, nothing changed.
	co := p.checkout(p.merchant, shoeShop, 6500)
	parts := strings.Split(co, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"amount":6500`, `"amount":650`, 1)
	if tampered == string(payload) {
		t.Fatal("nothing tampered")
	}
	tamperedCo := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2]
	wantCode(t, p.send(protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(tamperedCo),
		PaymentMandate: p.closedPayment(tamperedCo, shoeShop, 650)}), protocol.CodeSignatureInvalid)
	// The payee is not the checkout's merchant.
	wantCode(t, p.send(protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(co),
		PaymentMandate: p.closedPayment(co, protocol.Merchant{ID: "mch_other"}, 6500)}), protocol.CodeMerchantMismatch)
	p.wantSame(before, p.m.ID)

	// The paid checkout again, with new closed mandates: replayed; the
	// first bytes still answer the first purchase.
	paidCo := strings.Split(req.CheckoutMandate, ".")[1]
	var cc protocol.ClosedCheckoutMandate
	raw, _ := base64.RawURLEncoding.DecodeString(paidCo)
	if err := json.Unmarshal(raw, &cc); err != nil {
		t.Fatal(err)
	}
	wantCode(t, p.send(protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(cc.CheckoutJWT),
		PaymentMandate: p.closedPayment(cc.CheckoutJWT, shoeShop, 6900)}), protocol.CodeReplayed)
	// The paid closed payment mandate with another closed checkout
	// mandate: not the same purchase.
	wantCode(t, p.send(protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(cc.CheckoutJWT),
		PaymentMandate: req.PaymentMandate}), protocol.CodeReplayed)
	p.wantSame(before, p.m.ID)
	p.send(req).want(t, http.StatusOK).decode(t, &again)
	if again.ID != pu.ID || again.Checkout != pu.Checkout {
		t.Fatalf("retry after a replay: %s", mustJSON(t, again))
	}
	// The closed payment mandate of a purchase sent as a direct payment:
	// the payment it made, nothing new.
	var direct protocol.WalletPayment
	p.send(protocol.PaymentRequest{ClosedMandate: req.PaymentMandate}).want(t, http.StatusOK).decode(t, &direct)
	if direct.ID != pu.ID {
		t.Fatalf("direct form of a purchase's closed mandate: %s", mustJSON(t, direct))
	}
	p.wantSame(before, p.m.ID)

	// A body with both forms, or half a purchase: 400, nothing changed.
	both := map[string]string{"closed_mandate": req.PaymentMandate, "checkout_mandate": req.CheckoutMandate, "payment_mandate": req.PaymentMandate}
	p.send(both).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "conflicting_fields", "checkout_mandate")
	p.send(map[string]string{"checkout_mandate": req.CheckoutMandate}).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "missing_field", "payment_mandate")
	p.send(map[string]string{"payment_mandate": req.PaymentMandate, "price": "x.y.z"}).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "missing_field", "checkout_mandate")
	p.send(map[string]string{}).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "missing_field", "closed_mandate")
	p.send(map[string]any{"checkout_mandate": req.CheckoutMandate, "payment_mandate": req.PaymentMandate, "extra": 1}).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "unknown_field", "extra")
	p.wantSame(before, p.m.ID)

	// At exactly $70.00, with a price attestation from the merchant.
	req = p.order(7000)
	req.Price = signObj(t, p.merchant, &protocol.PriceAttestation{Claims: p.claims(shoeShop.ID, "", 10*time.Minute),
		Merchant: shoeShop, ItemID: "sku-runner-42", Price: protocol.Money{Amount: 7000, Currency: "USD", Scale: 2}, Available: true})
	p.send(req).want(t, http.StatusCreated).decode(t, &pu)
	if pu.Status != "completed" || pu.Checkout.PriceAttestedBy != shoeShop.ID {
		t.Fatalf("attested purchase %s", mustJSON(t, pu))
	}
	p.checkReceipt(pu)
	if st := p.state(p.m.ID); st.Available != "86100" || st.Payments != 2 || st.Limits[0].Used != 13900 {
		t.Fatalf("state %+v", st)
	}
}

// TestPurchaseCheckoutMandates: merchants are the operator's; a user
// sees and revokes only its own checkout mandates; a revoked checkout
// mandate stops purchases.
func TestPurchaseCheckoutMandates(t *testing.T) {
	t.Parallel()
	p := newPurchaseTest(t)
	env := p.env

	// Merchants.
	jwk, _ := json.Marshal(p.merchant.PublicKey().JWK())
	do(t, env, "POST", "/v1/merchants", as(p.secret), body(protocol.RegisterMerchantRequest{ID: "mch_mine", Key: jwk})).
		wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")
	do(t, env, "POST", "/v1/merchants", body(protocol.RegisterMerchantRequest{ID: "mch_copy", Key: jwk})).
		wantError(t, http.StatusConflict, protocol.ErrorConflict, "wallet_conflict", "")
	do(t, env, "POST", "/v1/merchants", body(`{"key":{}}`)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "missing_field", "id")
	var mc protocol.WalletMerchant
	do(t, env, "GET", "/v1/merchants/"+shoeShop.ID, as(p.secret)).want(t, http.StatusOK).decode(t, &mc)
	if mc.ID != shoeShop.ID || mc.Name != shoeShop.Name || mc.KeyID != p.merchant.KeyID() {
		t.Fatalf("merchant %s", mustJSON(t, mc))
	}
	do(t, env, "GET", "/v1/merchants/mch_none", as(p.secret)).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "merchant_not_found", "id")

	// Alice's checkout mandate, as she and the operator see it.
	got := do(t, env, "GET", "/v1/checkout-mandates/"+p.cm.ID, as(p.secret)).want(t, http.StatusOK).decodeCM(t)
	if got.ID != p.cm.ID || got.Owner != p.user.ID || got.Agent != p.agentID || got.Hash == "" || got.JWS == "" || got.RevokedAt != "" ||
		!strings.HasPrefix(got.ID, "cmt_") || got.Expiry == "" || got.NotBefore == "" || got.IssuedAt == "" {
		t.Fatalf("checkout mandate %s", mustJSON(t, got))
	}
	do(t, env, "GET", "/v1/checkout-mandates/"+p.cm.ID).want(t, http.StatusOK)
	var list protocol.WalletCheckoutMandateList
	do(t, env, "GET", "/v1/checkout-mandates?agent="+p.agentID, as(p.secret)).want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != p.cm.ID {
		t.Fatalf("list %s", mustJSON(t, list))
	}
	do(t, env, "GET", "/v1/checkout-mandates?agent="+p.agentID).want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("admin list %s", mustJSON(t, list))
	}
	do(t, env, "GET", "/v1/checkout-mandates/cmt_none", as(p.secret)).
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "checkout_mandate_not_found", "id")
	// The same mandate again: a conflict.
	p.issueCheckoutMandate(p.secret, p.cm.JWS).wantError(t, http.StatusConflict, protocol.ErrorConflict, "wallet_conflict", "")

	// Bob can neither see nor revoke it, nor issue Alice's mandates.
	_, bobSecret, _ := p.newUser("Bob")
	do(t, env, "GET", "/v1/checkout-mandates/"+p.cm.ID, as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "POST", "/v1/checkout-mandates/"+p.cm.ID+"/revoke", as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "GET", "/v1/checkout-mandates?owner="+p.user.ID, as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	p.issueCheckoutMandate(bobSecret, p.openCheckout()).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	var bobList protocol.WalletCheckoutMandateList
	do(t, env, "GET", "/v1/checkout-mandates", as(bobSecret)).want(t, http.StatusOK).decode(t, &bobList)
	if len(bobList.Data) != 0 {
		t.Fatalf("bob sees %s", mustJSON(t, bobList))
	}
	if got := do(t, env, "GET", "/v1/checkout-mandates/"+p.cm.ID, as(p.secret)).want(t, http.StatusOK).decodeCM(t); got.RevokedAt != "" {
		t.Fatalf("revoked by bob: %s", mustJSON(t, got))
	}
	// Alice's agent can buy until she revokes it.
	p.send(p.order(5000)).want(t, http.StatusCreated)
	rev := do(t, env, "POST", "/v1/checkout-mandates/"+p.cm.ID+"/revoke", as(p.secret)).want(t, http.StatusOK).decodeCM(t)
	if rev.RevokedAt == "" {
		t.Fatalf("revoked %s", mustJSON(t, rev))
	}
	before := p.state(p.m.ID)
	wantCode(t, p.send(p.order(5000)), protocol.CodeRevoked)
	p.wantSame(before, p.m.ID)
}

// TestPurchaseOpenAPISchemas: the purchase schemas have exactly the JSON
// fields of their protocol types.
func TestPurchaseOpenAPISchemas(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
				AllOf      []struct {
					Ref        string                     `json:"$ref"`
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"allOf"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	fields := func(typ reflect.Type) []string {
		var out []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			out = append(out, tag)
		}
		sort.Strings(out)
		return out
	}
	for name, typ := range map[string]any{
		"RegisterMerchantRequest": protocol.RegisterMerchantRequest{}, "WalletMerchant": protocol.WalletMerchant{},
		"IssueCheckoutMandateRequest": protocol.IssueCheckoutMandateRequest{}, "WalletCheckoutMandate": protocol.WalletCheckoutMandate{},
		"WalletCheckoutMandateList": protocol.WalletCheckoutMandateList{}, "PurchaseRequest": protocol.PurchaseRequest{},
		"PurchaseCheckout": protocol.PurchaseCheckout{}, "WalletPurchase": protocol.WalletPurchase{},
	} {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var got []string
		for p := range schema.Properties {
			got = append(got, p)
		}
		for _, part := range schema.AllOf {
			if part.Ref != "" && part.Ref != "#/components/schemas/WalletPayment" {
				t.Errorf("schema %s: allOf %s", name, part.Ref)
			}
			for p := range part.Properties {
				got = append(got, p)
			}
		}
		sort.Strings(got)
		if want := fields(reflect.TypeOf(typ)); !slices.Equal(got, want) {
			t.Errorf("schema %s has %v, protocol.%s has %v", name, got, name, want)
		}
	}
}
