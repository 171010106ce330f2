package sdk_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// TestPurchaseSDK runs a checkout purchase through the SDK against a real
// server with the evidence log: the operator registers the merchant, the
// owner gives the agent an open checkout mandate ("running shoes at or
// below $70.00") and an open payment mandate referencing it, and the
// agent buys with signed requests, each receipt verified; a price above
// the condition is refused with nothing spent; the owner revokes the
// checkout mandate.
func TestPurchaseSDK(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Now().UTC().Truncate(time.Second)) // agent signatures are created at time.Now()
	env := apitest.New(t, apitest.Options{Clock: clock, Wallet: true, Evidence: true})
	ctx := t.Context()
	w := &walletParties{t: t, clock: clock}
	trust := []sdk.Option{sdk.WithLogKey(env.LogKey), sdk.WithLogOrigin(apitest.LogOrigin)}
	admin := sdk.New(env.URL, env.AdminSecret, trust...)
	if _, err := admin.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	ukey, _ := protocol.GenerateEd25519Key(rand.Reader)
	ujwk, _ := json.Marshal(ukey.PublicKey().JWK())
	user, err := admin.CreateUser(ctx, "", protocol.CreateUserRequest{Name: "Alice", Key: ujwk})
	if err != nil {
		t.Fatal(err)
	}
	owner := sdk.New(env.URL, user.APIKey.Secret, trust...)
	wl, err := owner.CreateWallet(ctx, "", protocol.CreateWalletRequest{Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.TopUp(ctx, "", wl.ID, protocol.TopUpRequest{Amount: 100000, Source: "ok-card"}); err != nil {
		t.Fatal(err)
	}

	// The operator registers the merchant; an owner may not.
	shop := protocol.Merchant{ID: "mch_shoes", Name: "Shoe Shop"}
	mkey, _ := protocol.GenerateEd25519Key(rand.Reader)
	mjwk, _ := json.Marshal(mkey.PublicKey().JWK())
	mc, err := admin.RegisterMerchant(ctx, "", protocol.RegisterMerchantRequest{ID: shop.ID, Name: shop.Name, Key: mjwk})
	if err != nil || mc.ID != shop.ID || mc.KeyID != mkey.KeyID() {
		t.Fatalf("RegisterMerchant = %+v, %v", mc, err)
	}
	_, err = owner.RegisterMerchant(ctx, "", protocol.RegisterMerchantRequest{ID: "mch_mine", Key: mjwk})
	wantAPIError(t, err, http.StatusForbidden, "insufficient_role", "")
	if got, err := owner.GetMerchant(ctx, shop.ID); err != nil || got.KeyID != mkey.KeyID() {
		t.Fatalf("GetMerchant = %+v, %v", got, err)
	}

	// The agent, its open checkout mandate and its open payment mandate.
	akey, _ := protocol.GenerateEd25519Key(rand.Reader)
	agentID := "agt_shopper"
	cnf, _ := protocol.NewConfirmation(akey.PublicKey())
	cred := &protocol.AgentCredential{Claims: w.claims(user.ID, agentID, 24*time.Hour), Cnf: cnf, Name: "shopper"}
	if _, err := owner.RegisterAgent(ctx, "", w.sign(ukey, cred)); err != nil {
		t.Fatal(err)
	}
	openCheckout := &protocol.OpenCheckoutMandate{Claims: w.claims(user.ID, agentID, 30*24*time.Hour), Cnf: cnf,
		Constraints: protocol.Constraints{
			&protocol.AllowedMerchantsConstraint{Allowed: []protocol.Merchant{shop}},
			&protocol.LineItemsConstraint{Items: []protocol.LineItemRule{{ID: "shoes",
				AcceptableItems: []protocol.AcceptableItem{{ID: "sku-runner-42"}}, Quantity: 1}}},
			&protocol.PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000},
		}, PromptSummary: "Buy running shoes size 42 when they cost at most $70"}
	cm, err := owner.IssueCheckoutMandate(ctx, "", w.sign(ukey, openCheckout))
	if err != nil || cm.Agent != agentID || cm.Owner != user.ID || cm.Hash == "" {
		t.Fatalf("IssueCheckoutMandate = %+v, %v", cm, err)
	}
	if list, err := owner.ListCheckoutMandates(ctx, sdk.MandateFilter{Agent: agentID}); err != nil || len(list.Data) != 1 || list.Data[0].ID != cm.ID {
		t.Fatalf("ListCheckoutMandates = %+v, %v", list, err)
	}
	if got, err := owner.GetCheckoutMandate(ctx, cm.ID); err != nil || got.JWS != cm.JWS {
		t.Fatalf("GetCheckoutMandate = %+v, %v", got, err)
	}
	openPay := &protocol.OpenPaymentMandate{Claims: w.claims(user.ID, agentID, 30*24*time.Hour), Cnf: cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: wl.ID, Type: protocol.PaymentInstrumentWallet},
		Constraints: []protocol.Constraint{
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 50000},
			&protocol.PaymentReferenceConstraint{ConditionalTransactionID: cm.Hash},
		}}
	m, err := owner.IssueMandate(ctx, "", w.sign(ukey, openPay))
	if err != nil {
		t.Fatal(err)
	}

	// order is the agent's closed mandates for a checkout of the shoes at
	// unit price, signed by the merchant.
	order := func(unit int64) (closedCheckout, closedPayment string) {
		cl := w.claims(shop.ID, "", time.Hour)
		co := w.sign(mkey, &protocol.Checkout{Claims: cl, ID: "co_" + strings.TrimPrefix(cl.ID, "jti-"), Merchant: shop, Currency: "USD", Scale: 2,
			LineItems: []protocol.LineItem{{ID: "li_1", Item: protocol.Item{ID: "sku-runner-42", Title: "Runner 42", Quantity: 1},
				UnitAmount: unit, BaseAmount: unit, Subtotal: unit, Total: unit}},
			Totals: []protocol.Total{{Type: protocol.TotalSubtotal, Amount: unit}, {Type: protocol.TotalTotal, Amount: unit}}})
		closedCheckout = w.sign(akey, &protocol.ClosedCheckoutMandate{Claims: w.claims(agentID, "", 15*time.Minute),
			CheckoutJWT: co, CheckoutHash: protocol.HashJWS([]byte(co)), OpenMandateHash: cm.Hash, Modality: protocol.HumanNotPresent})
		closedPayment = w.sign(akey, &protocol.ClosedPaymentMandate{Claims: w.claims(agentID, "", 15*time.Minute),
			TransactionID: protocol.HashJWS([]byte(co)), Payee: shop, PaymentAmount: protocol.Money{Amount: unit, Currency: "USD", Scale: 2},
			PaymentInstrument: protocol.PaymentInstrument{ID: wl.ID, Type: protocol.PaymentInstrumentWallet},
			OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent})
		return closedCheckout, closedPayment
	}

	// The agent buys at $69.00; Purchase verified the receipt.
	ccm, cpm := order(6900)
	if _, err := sdk.New(env.URL, "").Purchase(ctx, ccm, cpm, "", "shoes", nil); !errors.Is(err, sdk.ErrNoRequestSigner) {
		t.Fatalf("Purchase without a key: %v", err)
	}
	agent := sdk.New(env.URL, "", append(trust, sdk.WithAgentKey(akey))...)
	p, err := agent.Purchase(ctx, ccm, cpm, "", "shoes", map[string]string{"order": "o-1"})
	if err != nil || p.Status != "completed" || p.Amount != 6900 || p.Payee != shop.ID || p.Receipt == "" ||
		p.Checkout.Merchant != shop.ID || p.Checkout.OpenMandate != cm.ID || p.Checkout.MandateHash != protocol.HashJWS([]byte(ccm)) {
		t.Fatalf("Purchase = %+v, %v", p, err)
	}
	r, err := agent.VerifyPaymentReceipt(p.WalletPayment)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Item("doc", "payment/"+p.ID); !ok {
		t.Fatalf("receipt %+v names no doc payment/%s", r.Items, p.ID)
	}
	// The same closed mandates again: the same purchase.
	if again, err := agent.Purchase(ctx, ccm, cpm, "", "shoes", map[string]string{"order": "o-1"}); err != nil || again.ID != p.ID || again.Checkout != p.Checkout {
		t.Fatalf("retried Purchase = %+v, %v", again, err)
	}

	// At $71.00: refused, nothing spent.
	before, err := owner.GetWallet(ctx, wl.ID)
	if err != nil {
		t.Fatal(err)
	}
	ccm2, cpm2 := order(7100)
	_, err = agent.Purchase(ctx, ccm2, cpm2, "", "shoes", nil)
	wantAPIError(t, err, http.StatusUnprocessableEntity, string(protocol.CodePriceConditionNotMet), "")
	after, err := owner.GetWallet(ctx, wl.ID)
	if err != nil || after.Available != before.Available {
		t.Fatalf("wallet after a refused purchase: %+v (was %s), %v", after, before.Available, err)
	}
	if got, err := owner.GetMandate(ctx, m.ID); err != nil || got.Limits[0].Used != 6900 {
		t.Fatalf("mandate after a refused purchase: %+v, %v", got, err)
	}

	// A server (here a proxy) that answers a purchase with another
	// payment's receipt: Purchase returns the purchase and the error.
	target, _ := url.Parse(env.URL)
	swapper := &receiptSwapper{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = swapper.modify
	front := httptest.NewServer(proxy)
	defer front.Close()
	swapper.swap.Store(&p.Receipt)
	ccm3, cpm3 := order(5000)
	p3, err := sdk.New(front.URL, "", append(trust, sdk.WithAgentKey(akey))...).Purchase(ctx, ccm3, cpm3, "", "shoes", nil)
	if !errors.Is(err, sdk.ErrPaymentReceiptMismatch) || p3 == nil || p3.ID == p.ID || p3.Checkout.Hash == "" {
		t.Fatalf("Purchase with another payment's receipt = %+v, %v", p3, err)
	}

	// The owner revokes the checkout mandate: purchases under it stop.
	rev, err := owner.RevokeCheckoutMandate(ctx, "", cm.ID)
	if err != nil || rev.RevokedAt == "" {
		t.Fatalf("RevokeCheckoutMandate = %+v, %v", rev, err)
	}
	ccm4, cpm4 := order(5000)
	_, err = agent.Purchase(ctx, ccm4, cpm4, "", "shoes", nil)
	wantAPIError(t, err, http.StatusForbidden, string(protocol.CodeRevoked), "")
}
