package sdk_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// walletParties builds the signed objects of a wallet test: the owner's
// agent credentials and open mandates, the agent's closed mandates.
type walletParties struct {
	t     *testing.T
	clock *apitest.Clock
	jti   atomic.Int64
}

func (w *walletParties) claims(iss, sub string, life time.Duration) protocol.Claims {
	now := w.clock.Now()
	return protocol.Claims{Issuer: iss, Subject: sub, Audience: protocol.Audience{apitest.WalletPlatform},
		IssuedAt: now.Add(-time.Second).Unix(), Expiry: now.Add(life).Unix(),
		ID: fmt.Sprintf("jti-sdk-wallet-0123456789-%d", w.jti.Add(1))}
}

func (w *walletParties) sign(k protocol.Signer, obj protocol.Object) string {
	w.t.Helper()
	b, err := protocol.Sign(k, obj)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

func (w *walletParties) closed(agentKey *protocol.Ed25519PrivateKey, agentID string, m *protocol.WalletMandate, payee protocol.Merchant, amount int64) string {
	c := &protocol.ClosedPaymentMandate{Claims: w.claims(agentID, "", 15*time.Minute),
		TransactionID: protocol.HashJWS([]byte(fmt.Sprintf("invoice-%d", w.jti.Load()))), Payee: payee,
		PaymentAmount:     protocol.Money{Amount: amount, Currency: m.Currency, Scale: m.Scale},
		PaymentInstrument: protocol.PaymentInstrument{ID: m.Wallet, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent}
	return w.sign(agentKey, c)
}

// receiptSwapper is a proxy in front of the server that, when swap is
// set, replaces the receipt of every payment answer with it.
type receiptSwapper struct {
	swap atomic.Pointer[string]
}

func (rs *receiptSwapper) modify(res *http.Response) error {
	s := rs.swap.Load()
	if s == nil || res.StatusCode/100 != 2 || !strings.HasPrefix(res.Request.URL.Path, "/v1/payments") {
		return nil
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var p map[string]any
	if json.Unmarshal(b, &p) == nil {
		if _, ok := p["receipt"]; ok {
			p["receipt"] = *s
			b, _ = json.Marshal(p)
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	res.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

// TestWalletSDK runs the AI Wallet through the SDK against a real server
// with the evidence log: the operator creates a user, the user funds a
// wallet, sets rules, registers an agent and gives it a mandate; the
// agent pays with signed requests (each receipt verified); a held payment
// is approved, another declined; the agent and the mandate are revoked.
func TestWalletSDK(t *testing.T) {
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

	// The operator creates the user; its API key secret is shown once.
	ukey, _ := protocol.GenerateEd25519Key(rand.Reader)
	jwk, _ := json.Marshal(ukey.PublicKey().JWK())
	user, err := admin.CreateUser(ctx, "user-alice", protocol.CreateUserRequest{Name: "Alice", Key: jwk})
	if err != nil || user.APIKey == nil || user.APIKey.Secret == "" || user.KeyID != ukey.KeyID() {
		t.Fatalf("CreateUser = %+v, %v", user, err)
	}
	again, err := admin.CreateUser(ctx, "user-alice", protocol.CreateUserRequest{Name: "Alice", Key: jwk})
	if err != nil || again.ID != user.ID || (again.APIKey != nil && again.APIKey.Secret != "") {
		t.Fatalf("retried CreateUser = %+v, %v", again, err)
	}
	owner := sdk.New(env.URL, user.APIKey.Secret, trust...)
	_, err = owner.CreateUser(ctx, "", protocol.CreateUserRequest{Key: jwk})
	wantAPIError(t, err, http.StatusForbidden, "insufficient_role", "")
	if got, err := owner.GetUser(ctx, user.ID); err != nil || got.ID != user.ID {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}

	// A wallet, funded once per movement key.
	wl, err := owner.CreateWallet(ctx, "", protocol.CreateWalletRequest{Currency: "USD"})
	if err != nil || wl.Owner != user.ID || wl.Currency != "USD" {
		t.Fatalf("CreateWallet = %+v, %v", wl, err)
	}
	top := protocol.TopUpRequest{Amount: 100000, Source: "ok-card"}
	m1, err := owner.TopUp(ctx, "top-1", wl.ID, top)
	if err != nil || !strings.HasPrefix(m1.ID, "tr_") || m1.Amount != 100000 {
		t.Fatalf("TopUp = %+v, %v", m1, err)
	}
	if m2, err := owner.TopUp(ctx, "top-1", wl.ID, top); err != nil || m2.ID != m1.ID {
		t.Fatalf("retried TopUp = %+v, %v", m2, err)
	}
	_, err = owner.TopUp(ctx, "", wl.ID, protocol.TopUpRequest{Amount: 5, Source: "decline-card"})
	if e, ok := sdk.AsError(err); !ok || e.Status != http.StatusUnprocessableEntity || e.Body.Code != "rail_failed" {
		t.Fatalf("declined TopUp: %v", err)
	}
	if out, err := owner.Withdraw(ctx, "out-1", wl.ID, protocol.WithdrawalRequest{Amount: 1000, Destination: "ok-bank"}); err != nil || out.Amount != 1000 {
		t.Fatalf("Withdraw = %+v, %v", out, err)
	}
	if got, err := owner.GetWallet(ctx, wl.ID); err != nil || got.Available != "99000" || got.Balances == nil {
		t.Fatalf("GetWallet = %+v, %v", got, err)
	}
	if list, err := owner.ListWallets(ctx, sdk.WalletFilter{}); err != nil || len(list.Data) != 1 || list.Data[0].ID != wl.ID {
		t.Fatalf("ListWallets = %+v, %v", list, err)
	}
	if list, err := admin.ListWallets(ctx, sdk.WalletFilter{Owner: user.ID}); err != nil || len(list.Data) != 1 {
		t.Fatalf("admin ListWallets = %+v, %v", list, err)
	}

	// Risk rules.
	_, err = owner.SetRules(ctx, wl.ID, []protocol.RiskRule{{ID: "bad", Expression: "amount >", Outcome: "decline", Reason: "x", Enabled: true}})
	wantAPIError(t, err, http.StatusBadRequest, "rule_invalid_expression", "rules[0]")
	rules := []protocol.RiskRule{{ID: "big", Expression: "payment.amount > 2000", Outcome: "decline", Reason: "too_big", Enabled: true}}
	if rs, err := owner.SetRules(ctx, wl.ID, rules); err != nil || len(rs.Rules) != 1 || rs.Rules[0].Scope != wl.ID {
		t.Fatalf("SetRules = %+v, %v", rs, err)
	}
	if rs, err := owner.GetRules(ctx, wl.ID); err != nil || len(rs.Rules) != 1 || rs.Rules[0].ID != "big" {
		t.Fatalf("GetRules = %+v, %v", rs, err)
	}

	// An agent and its open mandate.
	akey, _ := protocol.GenerateEd25519Key(rand.Reader)
	agentID := "agt_shopper"
	cnf, _ := protocol.NewConfirmation(akey.PublicKey())
	cred := &protocol.AgentCredential{Claims: w.claims(user.ID, agentID, 24*time.Hour), Cnf: cnf, Name: "shopper"}
	ag, err := owner.RegisterAgent(ctx, "", w.sign(ukey, cred))
	if err != nil || ag.ID != agentID || ag.ActiveKeyID != akey.KeyID() {
		t.Fatalf("RegisterAgent = %+v, %v", ag, err)
	}
	if got, err := owner.GetAgent(ctx, agentID); err != nil || got.ID != agentID || len(got.Keys) != 1 {
		t.Fatalf("GetAgent = %+v, %v", got, err)
	}
	open := &protocol.OpenPaymentMandate{Claims: w.claims(user.ID, agentID, 30*24*time.Hour), Cnf: cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: wl.ID, Type: protocol.PaymentInstrumentWallet},
		Constraints: []protocol.Constraint{
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 5000},
			&protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 500},
		}}
	m, err := owner.IssueMandate(ctx, "", w.sign(ukey, open))
	if err != nil || m.Agent != agentID || m.Wallet != wl.ID || len(m.Limits) == 0 || m.Limits[0].Remaining != 5000 {
		t.Fatalf("IssueMandate = %+v, %v", m, err)
	}
	_, err = owner.IssueMandate(ctx, "", w.sign(akey, open)) // not the owner's signature
	if e, ok := sdk.AsError(err); !ok || e.Status/100 != 4 {
		t.Fatalf("mandate signed by the agent: %v", err)
	}
	if list, err := owner.ListMandates(ctx, sdk.MandateFilter{Agent: agentID}); err != nil || len(list.Data) != 1 || list.Data[0].ID != m.ID {
		t.Fatalf("ListMandates = %+v, %v", list, err)
	}

	// The agent pays with signed requests and no API key; each receipt is
	// verified by Pay.
	shop := protocol.Merchant{ID: "mch_weather", Name: "Weather API"}
	if _, err := sdk.New(env.URL, "").Pay(ctx, w.closed(akey, agentID, m, shop, 31), "data", nil); !errors.Is(err, sdk.ErrNoRequestSigner) {
		t.Fatalf("Pay without a key: %v", err)
	}
	agent := sdk.New(env.URL, "", append(trust, sdk.WithAgentKey(akey))...)
	closed := w.closed(akey, agentID, m, shop, 31)
	p, err := agent.Pay(ctx, closed, "data", map[string]string{"invoice": "inv-1"})
	if err != nil || p.Status != "completed" || p.Amount != 31 || p.Agent != agentID || p.Receipt == "" || len(p.Limits) == 0 || p.Limits[0].Remaining != 5000-31 {
		t.Fatalf("Pay = %+v, %v", p, err)
	}
	r, err := agent.VerifyPaymentReceipt(*p)
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := agent.Pay(ctx, closed, "data", map[string]string{"invoice": "inv-1"}); err != nil || retry.ID != p.ID {
		t.Fatalf("retried Pay = %+v, %v", retry, err)
	}
	// The receipt's doc is proven into the log.
	if _, _, err := env.LogSigner.SignNow(ctx); err != nil {
		t.Fatal(err)
	}
	item, ok := r.Item("doc", sdk.DocKindPayment+"/"+p.ID)
	if !ok {
		t.Fatalf("receipt %+v names no payment doc", r)
	}
	dp, err := owner.DocProof(ctx, sdk.DocKindPayment, p.ID, item.Timestamp)
	if err != nil || evidence.LeafHash(dp.Leaf) != item.LeafHash || dp.LogIndex != r.LogIndex {
		t.Fatalf("DocProof = %+v, %v", dp, err)
	}
	// Refusals are *sdk.Error with the protocol's code.
	_, err = agent.Pay(ctx, w.closed(akey, agentID, m, shop, 6000), "data", nil)
	if e, ok := sdk.AsError(err); !ok || e.Body.Code != string(protocol.CodeBudgetExceeded) {
		t.Fatalf("Pay over budget: %v", err)
	} else if e.Payment == nil || len(e.Payment.Limits) == 0 {
		t.Fatalf("Pay over budget: the refusal carries no limits: %+v", e.Payment)
	}
	_, err = agent.Pay(ctx, w.closed(akey, agentID, m, shop, 2001), "data", nil)
	if e, ok := sdk.AsError(err); !ok || e.Body.Code != "risk_declined" {
		t.Fatalf("Pay over the rule: %v", err)
	}

	// Over the approval threshold: held, listed, approved by the owner.
	held, err := agent.Pay(ctx, w.closed(akey, agentID, m, shop, 600), "data", nil)
	if err != nil || held.Status != "held" || held.HoldReason == "" {
		t.Fatalf("held Pay = %+v, %v", held, err)
	}
	list, err := owner.ListPayments(ctx, sdk.PaymentFilter{Agent: agentID, Status: "held"})
	if err != nil || len(list.Data) != 1 || list.Data[0].ID != held.ID {
		t.Fatalf("ListPayments = %+v, %v", list, err)
	}
	approved, err := owner.ApprovePayment(ctx, "", held.ID)
	if err != nil || approved.Status != "approved" || approved.Answer == nil || !approved.Answer.Approved {
		t.Fatalf("ApprovePayment = %+v, %v", approved, err)
	}
	if _, err := owner.VerifyPaymentReceipt(*approved); err != nil {
		t.Fatalf("approval receipt: %v", err)
	}
	got, err := owner.GetPayment(ctx, held.ID)
	if err != nil || got.Status != "approved" || got.Receipt != approved.Receipt {
		t.Fatalf("GetPayment = %+v, %v", got, err)
	}
	_, err = owner.DeclinePayment(ctx, "", held.ID)
	wantAPIError(t, err, http.StatusConflict, "payment_not_pending", "")
	held2, err := agent.Pay(ctx, w.closed(akey, agentID, m, shop, 700), "data", nil)
	if err != nil || held2.Status != "held" {
		t.Fatalf("held Pay = %+v, %v", held2, err)
	}
	if d, err := owner.DeclinePayment(ctx, "", held2.ID); err != nil || d.Status != "declined" {
		t.Fatalf("DeclinePayment = %+v, %v", d, err)
	}
	if got, err := owner.GetMandate(ctx, m.ID); err != nil || got.Limits[0].Used != 31+600 {
		t.Fatalf("GetMandate = %+v, %v", got, err)
	}

	// A receipt that does not name the payment's doc is refused.
	other := *p
	other.ID = held.ID
	if _, err := agent.VerifyPaymentReceipt(other); !errors.Is(err, sdk.ErrPaymentReceiptMismatch) || !errors.Is(err, sdk.ErrReceiptMismatch) {
		t.Fatalf("receipt of another payment: %v", err)
	}
	forged := *p
	forged.Receipt = strings.Replace(p.Receipt, "payment/", "paymenT/", 1)
	if _, err := agent.VerifyPaymentReceipt(forged); !errors.Is(err, sdk.ErrReceipt) {
		t.Fatalf("altered receipt: %v", err)
	}
	if _, err := sdk.New(env.URL, "").VerifyPaymentReceipt(*p); !errors.Is(err, sdk.ErrLogNotTrusted) {
		t.Fatalf("untrusted VerifyPaymentReceipt: %v", err)
	}
	// A server (here a proxy) that answers a payment with another
	// payment's receipt: Pay returns the payment and the error.
	target, _ := url.Parse(env.URL)
	swapper := &receiptSwapper{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = swapper.modify
	front := httptest.NewServer(proxy)
	defer front.Close()
	swapper.swap.Store(&p.Receipt)
	viaProxy := sdk.New(front.URL, "", append(trust, sdk.WithAgentKey(akey))...)
	p3, err := viaProxy.Pay(ctx, w.closed(akey, agentID, m, shop, 5), "data", nil)
	if !errors.Is(err, sdk.ErrPaymentReceiptMismatch) || p3 == nil || p3.ID == p.ID || !strings.Contains(err.Error(), p3.ID) {
		t.Fatalf("Pay with another payment's receipt = %+v, %v", p3, err)
	}
	// Without a log key the client does not check receipts.
	if _, err := sdk.New(front.URL, "", sdk.WithAgentKey(akey)).Pay(ctx, w.closed(akey, agentID, m, shop, 5), "data", nil); err != nil {
		t.Fatalf("untrusted Pay: %v", err)
	}

	// Revoking the mandate and the agent stops it at once.
	if rm, err := owner.RevokeMandate(ctx, "", m.ID); err != nil || rm.RevokedAt == "" {
		t.Fatalf("RevokeMandate = %+v, %v", rm, err)
	}
	_, err = agent.Pay(ctx, w.closed(akey, agentID, m, shop, 5), "data", nil)
	if _, ok := sdk.AsError(err); !ok {
		t.Fatalf("Pay under a revoked mandate: %v", err)
	}
	if ra, err := owner.RevokeAgent(ctx, "", agentID); err != nil || ra.ActiveKeyID != "" {
		t.Fatalf("RevokeAgent = %+v, %v", ra, err)
	}
	_, err = agent.Pay(ctx, w.closed(akey, agentID, m, shop, 5), "data", nil)
	if e, ok := sdk.AsError(err); !ok || e.Body.Code != string(protocol.CodeKeyRevoked) || e.Status != http.StatusUnauthorized {
		t.Fatalf("Pay by a revoked agent: %v", err)
	}
	_, err = owner.GetPayment(ctx, "pay_00000000000000000000000000")
	if e, ok := sdk.AsError(err); !ok || e.Status != http.StatusNotFound {
		t.Fatalf("GetPayment of an unknown payment: %v", err)
	}
}
