package sdk_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

const (
	userID     = "usr_alice"
	agentID    = "agt_shopper"
	merchantID = "mch_shoes"
	platformID = "https://agentpay.example"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func testKey(t *testing.T, label string) *protocol.Ed25519PrivateKey {
	t.Helper()
	seed := sha256.Sum256([]byte("sdk test key " + label))
	k, err := protocol.NewEd25519PrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type actWorld struct {
	user, agentKey, merchantKey, platform *protocol.Ed25519PrivateKey
	agent                                 *sdk.Agent
	merchant                              *sdk.Merchant
	keys                                  *protocol.KeySet
}

func newActWorld(t *testing.T) *actWorld {
	t.Helper()
	w := &actWorld{user: testKey(t, "user"), agentKey: testKey(t, "agent"), merchantKey: testKey(t, "merchant"),
		platform: testKey(t, "platform"), keys: protocol.NewKeySet()}
	var err error
	if w.agent, err = sdk.NewAgent(w.agentKey, agentID); err != nil {
		t.Fatal(err)
	}
	if w.merchant, err = sdk.NewMerchant(w.merchantKey, protocol.Merchant{ID: merchantID, Name: "Shoe Shop"}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		party string
		role  protocol.PartyRole
		k     *protocol.Ed25519PrivateKey
	}{{userID, protocol.PartyUser, w.user}, {agentID, protocol.PartyAgent, w.agentKey},
		{merchantID, protocol.PartyMerchant, w.merchantKey}, {platformID, protocol.PartyPlatform, w.platform}} {
		if err := w.keys.Add(e.party, e.role, e.k.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *actWorld) vc(aud string) *protocol.VerifyContext {
	return &protocol.VerifyContext{Now: now, Audience: aud, Keys: w.keys}
}

func (w *actWorld) claims(sub string, life time.Duration) protocol.Claims {
	return protocol.Claims{Issuer: userID, Subject: sub, Audience: protocol.Audience{platformID},
		IssuedAt: now.Add(-time.Hour).Unix(), Expiry: now.Add(life).Unix(), ID: "jti-" + sub + "-" + life.String() + "-0123456789"}
}

// A purchase the SDK agent builds from a checkout the SDK merchant signed
// verifies with protocol.VerifyPurchase, and its constraints allow it.
func TestAgentPurchase(t *testing.T) {
	t.Parallel()
	w := newActWorld(t)
	ctx := context.Background()
	co, err := w.merchant.SignCheckout(&protocol.Checkout{
		ID: "co_1", Currency: "USD", Scale: 2,
		LineItems: []protocol.LineItem{{ID: "li_1", Item: protocol.Item{ID: "sku-1", Quantity: 2}, UnitAmount: 1000, BaseAmount: 2000, Subtotal: 2000, Total: 2000}},
		Totals:    []protocol.Total{{Type: protocol.TotalSubtotal, Amount: 2000}, {Type: protocol.TotalTotal, Amount: 2000}},
	}, sdk.CheckoutParams{Audience: platformID, Now: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	vco, err := protocol.VerifyCheckout(ctx, w.vc(platformID), co)
	if err != nil {
		t.Fatalf("VerifyCheckout: %v", err)
	}
	ocRaw, err := protocol.Sign(w.user, &protocol.OpenCheckoutMandate{Claims: w.claims(agentID, 24*time.Hour), Cnf: w.agent.Confirmation(),
		Constraints: protocol.Constraints{&protocol.AllowedMerchantsConstraint{Allowed: []protocol.Merchant{{ID: merchantID}}}}})
	if err != nil {
		t.Fatal(err)
	}
	opRaw, err := protocol.Sign(w.user, &protocol.OpenPaymentMandate{Claims: w.claims(agentID, 48*time.Hour), Cnf: w.agent.Confirmation(),
		PaymentInstrument: protocol.PaymentInstrument{ID: "wal_alice", Type: protocol.PaymentInstrumentWallet},
		Constraints:       protocol.Constraints{&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 5000}}})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := protocol.VerifyOpenCheckoutMandate(ctx, w.vc(platformID), ocRaw)
	if err != nil {
		t.Fatal(err)
	}
	op, err := protocol.VerifyOpenPaymentMandate(ctx, w.vc(platformID), opRaw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.agent.Purchase(vco, oc, op, sdk.MandateParams{Audience: platformID, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	vp, err := protocol.VerifyPurchase(ctx, w.vc(platformID), p)
	if err != nil {
		t.Fatalf("VerifyPurchase: %v", err)
	}
	if d := vp.Evaluate(protocol.PurchaseState{Now: now}); d.Outcome != protocol.OutcomeAllow {
		t.Fatalf("decision %+v", d)
	}
	// The agent's closed mandates carry time-ordered jtis made at Now.
	for _, jti := range []string{vp.PaymentMandate.Claims.ID, vp.CheckoutMandate.Claims.ID} {
		if ms, ok := protocol.JTITime(jti); !ok || ms != uint64(now.UnixMilli()) {
			t.Fatalf("jti %q: time %d, %v; want %d", jti, ms, ok, now.UnixMilli())
		}
	}
	if _, err := w.merchant.VerifyPurchase(ctx, w.vc(platformID), p); err != nil {
		t.Fatalf("Merchant.VerifyPurchase: %v", err)
	}
	other, _ := sdk.NewMerchant(w.user, protocol.Merchant{ID: "mch_other"})
	if _, err := other.VerifyPurchase(ctx, w.vc(platformID), p); protocol.CodeOf(err) != protocol.CodeMerchantMismatch {
		t.Fatalf("another merchant's VerifyPurchase = %v", err)
	}
	// Each closed mandate verifies with VerifyObject on its own.
	for _, raw := range [][]byte{p.CheckoutMandate, p.PaymentMandate} {
		if _, err := protocol.VerifyObject(ctx, w.vc(platformID), raw); err != nil {
			t.Fatalf("VerifyObject: %v", err)
		}
	}
	// A receipt for the payment mandate.
	rc, err := protocol.Sign(w.platform, &protocol.Receipt{
		Claims: protocol.Claims{Issuer: platformID, Audience: protocol.Audience{agentID}, IssuedAt: now.Unix(), ID: "jti-receipt-0123456789"},
		Result: protocol.ResultSuccess, Reference: protocol.HashJWS(p.PaymentMandate), ReferenceVCT: protocol.KindClosedPaymentMandate.VCT(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.VerifyReceipt(ctx, w.vc(agentID), rc, p.PaymentMandate); err != nil {
		t.Fatalf("VerifyReceipt: %v", err)
	}
	if _, err := sdk.VerifyReceipt(ctx, w.vc(agentID), rc, p.CheckoutMandate); !errors.Is(err, sdk.ErrReceiptReference) {
		t.Fatalf("VerifyReceipt of another object = %v", err)
	}
	// An agent that is not the open mandates' refuses to sign under them.
	stranger, _ := sdk.NewAgent(testKey(t, "stranger"), "agt_other")
	if _, err := stranger.Purchase(vco, oc, op, sdk.MandateParams{Audience: platformID, Now: now}); err == nil {
		t.Fatal("a stranger signed under another agent's open mandates")
	}
	if _, err := w.agent.Purchase(vco, oc, op, sdk.MandateParams{Now: now}); err == nil {
		t.Fatal("signed without an audience")
	}
}

// Every request a client with WithRequestSigner sends verifies with
// protocol.VerifyRequest, and a replay of it does not.
func TestWithRequestSigner(t *testing.T) {
	t.Parallel()
	w := newActWorld(t)
	nonces := protocol.NewMemoryNonceCache(0, nil)
	var verified []*protocol.VerifiedRequest
	var replayErr error
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		vr, err := protocol.VerifyRequest(r, body, protocol.VerifyOptions{Keys: w.keys, Nonces: nonces})
		if err != nil {
			http.Error(rw, `{"type":"authentication","code":"`+string(protocol.CodeOf(err))+`","message":"`+err.Error()+`"}`, http.StatusUnauthorized)
			return
		}
		verified = append(verified, vr)
		_, replayErr = protocol.VerifyRequest(r, body, protocol.VerifyOptions{Keys: w.keys, Nonces: nonces})
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"ledger":1,"code":"USD","scale":2}`)
	}))
	defer srv.Close()
	c := sdk.New(srv.URL, "ap_test", sdk.WithRequestSigner(w.agent.RequestSigner()))
	if _, err := c.CreateAsset(context.Background(), "idem-1", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatalf("CreateAsset: %v", err)
	}
	if _, err := c.ListAssets(context.Background()); err != nil && !isDecodeError(err) {
		t.Fatalf("ListAssets: %v", err)
	}
	if len(verified) != 2 {
		t.Fatalf("%d requests verified, want 2", len(verified))
	}
	post := verified[0]
	if post.KeyID != w.agent.KeyID() || post.Nonce == "" || post.Expires.IsZero() || len(post.Components) != 5 {
		t.Fatalf("POST signature %+v", post)
	}
	if verified[0].Nonce == verified[1].Nonce {
		t.Fatal("nonce reused")
	}
	if protocol.CodeOf(replayErr) != protocol.CodeNonceReplayed {
		t.Fatalf("replay = %v", replayErr)
	}
	// Agent.SignRequest signs a request by hand.
	body := []byte(`{"a":1}`)
	r := httptest.NewRequest(http.MethodPost, "https://agentpay.example/v1/x", nil)
	r.Header.Set("Content-Type", "application/json")
	if err := w.agent.SignRequest(r, body); err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.VerifyRequest(r, body, protocol.VerifyOptions{Keys: w.keys, Nonces: nonces}); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
}

// isDecodeError: ListAssets decodes the test server's asset as a list.
func isDecodeError(err error) bool {
	_, api := sdk.AsError(err)
	return !api
}
