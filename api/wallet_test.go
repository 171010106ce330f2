package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
)

// wtest is a real server with the AI Wallet on a fake clock, USD
// registered, and one user with a funded wallet.
type wtest struct {
	t      *testing.T
	env    *apitest.Env
	clock  *apitest.Clock
	jti    atomic.Int64
	user   protocol.WalletUser
	secret string
	ukey   *protocol.Ed25519PrivateKey
	wallet protocol.Wallet
	// signPath, when set, is the path sign signs for.
	signPath string
}

func newWalletTest(t *testing.T) *wtest {
	t.Helper()
	clock := apitest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	w := &wtest{t: t, clock: clock, env: apitest.New(t, apitest.Options{Clock: clock, Wallet: true})}
	createAsset(t, w.env, 1, "USD")
	w.user, w.secret, w.ukey = w.newUser("Alice")
	do(t, w.env, "POST", "/v1/wallets", as(w.secret), body(`{"currency":"USD"}`)).want(t, http.StatusCreated).decode(t, &w.wallet)
	do(t, w.env, "POST", "/v1/wallets/"+w.wallet.ID+"/topups", as(w.secret), body(`{"amount":100000,"source":"ok-card"}`)).want(t, http.StatusCreated)
	return w
}

func (w *wtest) newUser(name string) (protocol.WalletUser, string, *protocol.Ed25519PrivateKey) {
	k, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	jwk, _ := json.Marshal(k.PublicKey().JWK())
	var u protocol.WalletUser
	do(w.t, w.env, "POST", "/v1/users", body(fmt.Sprintf(`{"name":%q,"key":%s}`, name, jwk))).want(w.t, http.StatusCreated).decode(w.t, &u)
	if u.APIKey == nil || u.APIKey.Secret == "" || u.APIKey.Party != u.ID || u.APIKey.Role != "writer" {
		w.t.Fatalf("user %+v", u)
	}
	return u, u.APIKey.Secret, k
}

func (w *wtest) claims(iss, sub string, life time.Duration) protocol.Claims {
	now := w.clock.Now()
	return protocol.Claims{Issuer: iss, Subject: sub, Audience: protocol.Audience{apitest.WalletPlatform},
		IssuedAt: now.Add(-time.Second).Unix(), Expiry: now.Add(life).Unix(),
		ID: fmt.Sprintf("jti-0123456789abcdef-%d", w.jti.Add(1))}
}

func signObj(t testing.TB, k protocol.Signer, obj protocol.Object) string {
	t.Helper()
	b, err := protocol.Sign(k, obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resign re-signs a compact JWS with k after mut changed its payload.
func resign(t testing.TB, k *protocol.Ed25519PrivateKey, jws string, mut func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	mut(p)
	pb, _ := json.Marshal(p)
	si := parts[0] + "." + base64.RawURLEncoding.EncodeToString(pb)
	if k == nil { // tampered: the old signature
		return si + "." + parts[2]
	}
	sig, err := k.SignMessage([]byte(si))
	if err != nil {
		t.Fatal(err)
	}
	return si + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// agent registers an agent of the user over HTTP.
func (w *wtest) agent(name string) (string, *protocol.Ed25519PrivateKey) {
	k, _ := protocol.GenerateEd25519Key(rand.Reader)
	cnf, _ := protocol.NewConfirmation(k.PublicKey())
	id := "agt_" + name
	cred := &protocol.AgentCredential{Claims: w.claims(w.user.ID, id, 24*time.Hour), Cnf: cnf, Name: name}
	var a protocol.WalletAgent
	do(w.t, w.env, "POST", "/v1/agents", as(w.secret), body(map[string]string{"credential": signObj(w.t, w.ukey, cred)})).
		want(w.t, http.StatusCreated).decode(w.t, &a)
	if a.ID != id || a.ActiveKeyID != k.KeyID() {
		w.t.Fatalf("agent %+v", a)
	}
	return id, k
}

func (w *wtest) openMandate(agentKey *protocol.Ed25519PrivateKey, agentID string, cs ...protocol.Constraint) *protocol.OpenPaymentMandate {
	cnf, _ := protocol.NewConfirmation(agentKey.PublicKey())
	return &protocol.OpenPaymentMandate{Claims: w.claims(w.user.ID, agentID, 30*24*time.Hour), Cnf: cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: w.wallet.ID, Type: protocol.PaymentInstrumentWallet}, Constraints: cs}
}

func (w *wtest) issue(jws string) *response {
	return do(w.t, w.env, "POST", "/v1/mandates", as(w.secret), body(map[string]string{"mandate": jws}))
}

func (w *wtest) mandate(agentKey *protocol.Ed25519PrivateKey, agentID string, cs ...protocol.Constraint) protocol.WalletMandate {
	var m protocol.WalletMandate
	w.issue(signObj(w.t, w.ukey, w.openMandate(agentKey, agentID, cs...))).want(w.t, http.StatusCreated).decode(w.t, &m)
	return m
}

var shop = protocol.Merchant{ID: "mch_weather", Name: "Weather API"}

func (w *wtest) closedObj(agentKey *protocol.Ed25519PrivateKey, agentID string, m protocol.WalletMandate, payee protocol.Merchant, amount int64) *protocol.ClosedPaymentMandate {
	return &protocol.ClosedPaymentMandate{Claims: w.claims(agentID, "", 15*time.Minute),
		TransactionID: protocol.HashJWS([]byte(fmt.Sprintf("invoice-%d", w.jti.Load()))), Payee: payee,
		PaymentAmount:     protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
		PaymentInstrument: protocol.PaymentInstrument{ID: w.wallet.ID, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent}
}

func (w *wtest) closed(agentKey *protocol.Ed25519PrivateKey, agentID string, m protocol.WalletMandate, payee protocol.Merchant, amount int64) string {
	return signObj(w.t, agentKey, w.closedObj(agentKey, agentID, m, payee, amount))
}

// signed is an agent's signed POST /v1/payments, ready to send (again).
type signed struct {
	req  *http.Request
	body []byte
}

// sign builds and signs a payment request; edit may change it before it
// is signed (opts) or after (post).
func (w *wtest) sign(k *protocol.Ed25519PrivateKey, closed string, opts protocol.SignOptions) signed {
	b, _ := json.Marshal(protocol.PaymentRequest{ClosedMandate: closed, Category: "data"})
	path := "/v1/payments"
	if w.signPath != "" {
		path = w.signPath
	}
	req, err := http.NewRequest("POST", w.env.URL+path, bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(protocol.HeaderIdempotencyKey, newKey())
	if opts.Created.IsZero() {
		opts.Created = w.clock.Now()
	}
	if k != nil {
		if err := protocol.SignRequest(req, b, k, opts); err != nil {
			w.t.Fatal(err)
		}
	}
	return signed{req: req, body: b}
}

func (w *wtest) send(s signed) *response {
	w.t.Helper()
	req := s.req.Clone(s.req.Context())
	req.Body = io.NopCloser(bytes.NewReader(s.body))
	req.ContentLength = int64(len(s.body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (w *wtest) pay(k *protocol.Ed25519PrivateKey, closed string) *response {
	return w.send(w.sign(k, closed, protocol.SignOptions{}))
}

// state is what a refused request must leave unchanged.
type wstate struct {
	Available string
	Limits    []protocol.Limit
	Payments  int
}

func (w *wtest) state(mandateID string) wstate {
	var wl protocol.Wallet
	do(w.t, w.env, "GET", "/v1/wallets/"+w.wallet.ID, as(w.secret)).want(w.t, http.StatusOK).decode(w.t, &wl)
	st := wstate{Available: wl.Available}
	if mandateID != "" {
		var m protocol.WalletMandate
		do(w.t, w.env, "GET", "/v1/mandates/"+mandateID, as(w.secret)).want(w.t, http.StatusOK).decode(w.t, &m)
		st.Limits = m.Limits
	}
	var pl protocol.WalletPaymentList
	do(w.t, w.env, "GET", "/v1/payments", as(w.secret)).want(w.t, http.StatusOK).decode(w.t, &pl)
	st.Payments = len(pl.Data)
	return st
}

func (w *wtest) wantSame(before wstate, mandateID string) {
	w.t.Helper()
	if after := w.state(mandateID); !jsonEqual(before, after) {
		w.t.Errorf("state changed: %+v, want %+v", after, before)
	}
}

// wantCode checks a refusal: the protocol code with the registry's status.
func wantCode(t testing.TB, r *response, code protocol.Code) protocol.PaymentError {
	t.Helper()
	var e protocol.PaymentError
	_ = json.Unmarshal(r.Body, &e)
	status := http.StatusUnprocessableEntity
	if info, ok := code.Info(); ok {
		status = info.Status
	}
	if r.Status != status || e.Code != string(code) {
		t.Fatalf("got %d %s, want %d %s: %s", r.Status, e.Code, status, code, r.Body)
	}
	return e
}

func usd(n int64) *protocol.BudgetConstraint {
	return &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: n}
}

func TestWalletFlow(t *testing.T) {
	t.Parallel()
	w := newWalletTest(t)
	env := w.env

	// A top-up is idempotent by its Idempotency-Key.
	var m1, m2 protocol.WalletMovement
	do(t, env, "POST", "/v1/wallets/"+w.wallet.ID+"/topups", as(w.secret), idem("top-2"), body(`{"amount":500,"source":"ok-bank"}`)).want(t, http.StatusCreated).decode(t, &m1)
	do(t, env, "POST", "/v1/wallets/"+w.wallet.ID+"/topups", as(w.secret), idem("top-2"), body(`{"amount":500,"source":"ok-bank"}`)).want(t, http.StatusCreated).decode(t, &m2)
	if m1.ID != m2.ID || !strings.HasPrefix(m1.ID, "tr_") {
		t.Fatalf("top-up retry: %+v then %+v", m1, m2)
	}
	do(t, env, "POST", "/v1/wallets/"+w.wallet.ID+"/topups", as(w.secret), body(`{"amount":500,"source":"decline-card"}`)).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "rail_failed", "")
	if st := w.state(""); st.Available != "100500" {
		t.Fatalf("available %s, want 100500", st.Available)
	}

	agentID, key := w.agent("shopper")
	m := w.mandate(key, agentID, usd(5000),
		&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1000},
		&protocol.RecurrenceConstraint{Frequency: protocol.FrequencyOnDemand, MaxOccurrences: 5},
		&protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{shop}},
		&protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 500})
	if len(m.Limits) != 2 || m.Limits[0].Remaining != 5000 {
		t.Fatalf("mandate limits %+v", m.Limits)
	}

	// A payment signed by the agent.
	closed := w.closed(key, agentID, m, shop, 31)
	var p protocol.WalletPayment
	w.pay(key, closed).want(t, http.StatusCreated).decode(t, &p)
	if p.Status != "completed" || p.Amount != 31 || p.Payee != shop.ID || p.Agent != agentID || len(p.Decision.Checks) == 0 ||
		p.Risk.Outcome == "" || len(p.Limits) != 2 || p.Limits[0].Used != 31 || p.Limits[0].Remaining != 5000-31 {
		t.Fatalf("payment %s", mustJSON(t, p))
	}
	// The same closed mandate again, signed again: the same payment.
	var again protocol.WalletPayment
	r := w.pay(key, closed).want(t, http.StatusOK)
	r.decode(t, &again)
	if again.ID != p.ID || r.Header.Get(protocol.HeaderIdempotentReplayed) != "true" || len(again.Limits) == 0 {
		t.Fatalf("retry: %s", r.Body)
	}
	// The same signed request again: its nonce was used.
	s := w.sign(key, w.closed(key, agentID, m, shop, 7), protocol.SignOptions{})
	w.send(s).want(t, http.StatusCreated)
	before := w.state(m.ID)
	wantCode(t, w.send(s), protocol.CodeNonceReplayed)
	// Unsigned, or with an API key only.
	wantCode(t, w.send(w.sign(nil, w.closed(key, agentID, m, shop, 7), protocol.SignOptions{})), protocol.CodeRequestSignatureMissing)
	do(t, env, "POST", "/v1/payments", as(w.secret), body(map[string]string{"closed_mandate": closed})).
		wantError(t, http.StatusUnauthorized, protocol.ErrorAuthentication, string(protocol.CodeRequestSignatureMissing), "")
	// Over the amount range: refused with the limits and the failed check.
	e := wantCode(t, w.pay(key, w.closed(key, agentID, m, shop, 1001)), protocol.CodeAmountOutOfRange)
	if e.Check == nil || e.Check.Type != "payment.amount_range" || len(e.Limits) == 0 || e.Decision == nil {
		t.Fatalf("refusal body %+v", e)
	}
	wantCode(t, w.pay(key, w.closed(key, agentID, m, protocol.Merchant{ID: "mch_other"}, 10)), protocol.CodePayeeNotAllowed)
	w.wantSame(before, m.ID)

	// Over the approval threshold: held, then approved by the owner.
	var held protocol.WalletPayment
	w.pay(key, w.closed(key, agentID, m, shop, 600)).want(t, http.StatusCreated).decode(t, &held)
	if held.Status != "held" || held.HoldReason == "" || held.ExpiresAt == "" {
		t.Fatalf("held payment %s", mustJSON(t, held))
	}
	var list protocol.WalletPaymentList
	do(t, env, "GET", "/v1/payments?status=held&agent="+agentID, as(w.secret)).want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != held.ID {
		t.Fatalf("held list %s", mustJSON(t, list))
	}
	// Another user can neither see nor answer it.
	_, bobSecret, _ := w.newUser("Bob")
	do(t, env, "GET", "/v1/payments/"+held.ID, as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "POST", "/v1/payments/"+held.ID+"/approve", as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "GET", "/v1/wallets/"+w.wallet.ID, as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "GET", "/v1/mandates/"+m.ID, as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "GET", "/v1/payments?owner="+w.user.ID, as(bobSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "not_owner", "")
	do(t, env, "POST", "/v1/users", as(bobSecret), body(`{"key":{}}`)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")
	var bobList protocol.WalletPaymentList
	do(t, env, "GET", "/v1/payments", as(bobSecret)).want(t, http.StatusOK).decode(t, &bobList)
	if len(bobList.Data) != 0 {
		t.Fatalf("bob sees %d payments", len(bobList.Data))
	}
	var ans protocol.WalletPayment
	do(t, env, "POST", "/v1/payments/"+held.ID+"/approve", as(w.secret)).want(t, http.StatusOK).decode(t, &ans)
	if ans.Status != "approved" || ans.Answer == nil || !ans.Answer.Approved {
		t.Fatalf("approved %s", mustJSON(t, ans))
	}
	do(t, env, "POST", "/v1/payments/"+held.ID+"/decline", as(w.secret)).wantError(t, http.StatusConflict, protocol.ErrorConflict, "payment_not_pending", "")
	// Held, then declined: the limits are released.
	mid := w.state(m.ID)
	var held2 protocol.WalletPayment
	w.pay(key, w.closed(key, agentID, m, shop, 700)).want(t, http.StatusCreated).decode(t, &held2)
	do(t, env, "POST", "/v1/payments/"+held2.ID+"/decline", as(w.secret)).want(t, http.StatusOK).decode(t, &ans)
	if ans.Status != "declined" {
		t.Fatalf("declined %s", mustJSON(t, ans))
	}
	after := w.state(m.ID)
	if after.Available != mid.Available || !jsonEqual(after.Limits[0], mid.Limits[0]) {
		t.Fatalf("decline did not release: %+v, was %+v", after, mid)
	}

	// The owner's payments a page at a time: the pages, in order, are the
	// whole list; each page's cursor is its last payment.
	var all protocol.WalletPaymentList
	do(t, env, "GET", "/v1/payments", as(w.secret)).want(t, http.StatusOK).decode(t, &all)
	if len(all.Data) < 4 || all.NextCursor != "" {
		t.Fatalf("all payments: %d, next %q", len(all.Data), all.NextCursor)
	}
	var paged []string
	for cursor, pages := "", 0; ; pages++ {
		if pages > len(all.Data) {
			t.Fatal("paging does not end")
		}
		var page protocol.WalletPaymentList
		path := "/v1/payments?limit=2"
		if cursor != "" {
			path += "&after=" + cursor
		}
		do(t, env, "GET", path, as(w.secret)).want(t, http.StatusOK).decode(t, &page)
		for _, p := range page.Data {
			paged = append(paged, p.ID)
		}
		if page.NextCursor == "" {
			break
		}
		if len(page.Data) != 2 || page.NextCursor != page.Data[1].ID {
			t.Fatalf("page of %d with next %q: %s", len(page.Data), page.NextCursor, mustJSON(t, page))
		}
		cursor = page.NextCursor
	}
	var want []string
	for _, p := range all.Data {
		want = append(want, p.ID)
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("pages %v, list %v", paged, want)
	}
	// A cursor that names none of the caller's payments, and limits out of
	// range, are refused with the parameter named.
	for _, c := range []struct{ secret, query, code, param string }{
		{w.secret, "after=pay_nosuch", "invalid_cursor", "after"},
		{bobSecret, "after=" + held.ID, "invalid_cursor", "after"},
		{w.secret, "limit=0", "invalid_limit", "limit"},
		{w.secret, "limit=1001", "invalid_limit", "limit"},
		{w.secret, "limit=two", "invalid_limit", "limit"},
	} {
		do(t, env, "GET", "/v1/payments?"+c.query, as(c.secret)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, c.code, c.param)
	}

	// Mandates and the wallet as the owner sees them.
	var ml protocol.WalletMandateList
	do(t, env, "GET", "/v1/mandates?agent="+agentID, as(w.secret)).want(t, http.StatusOK).decode(t, &ml)
	if len(ml.Data) != 1 || ml.Data[0].Limits[0].Used != 31+7+600 {
		t.Fatalf("mandates %s", mustJSON(t, ml))
	}
	var wl protocol.Wallet
	do(t, env, "GET", "/v1/wallets/"+w.wallet.ID, as(w.secret)).want(t, http.StatusOK).decode(t, &wl)
	if wl.Available != fmt.Sprint(100500-31-7-600) || wl.Balances == nil {
		t.Fatalf("wallet %s", mustJSON(t, wl))
	}

	// A revoked agent's signed requests are refused.
	do(t, env, "POST", "/v1/agents/"+agentID+"/revoke", as(w.secret)).want(t, http.StatusOK)
	before = w.state(m.ID)
	wantCode(t, w.pay(key, w.closed(key, agentID, m, shop, 5)), protocol.CodeKeyRevoked)
	w.wantSame(before, m.ID)
	// A revoked mandate.
	do(t, env, "POST", "/v1/mandates/"+m.ID+"/revoke", as(w.secret)).want(t, http.StatusOK)

	// The service's counters, as /metrics shows them: payments made and
	// refused, docs in memory, and the Ed25519 verifications of
	// registered keys (the agents' requests and closed mandates).
	st := env.Wallet.Stats()
	metrics := do(t, env, "GET", "/metrics", as("")).want(t, http.StatusOK).Body
	for _, want := range []string{
		fmt.Sprintf("agentpay_wallet_payments_total %d\n", st.Payments),
		fmt.Sprintf("agentpay_wallet_payments_refused_total %d\n", st.Refused),
		fmt.Sprintf("agentpay_wallet_payment_docs_kept %d\n", st.DocsKept),
		"agentpay_wallet_payment_doc_reads_total 0\n",
		"agentpay_wallet_payments_loaded 0\n", // a fresh store
		"agentpay_wallet_load_seconds ",
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if st.Payments == 0 || st.Refused == 0 || st.DocsKept == 0 {
		t.Errorf("wallet stats %+v: payments were made and refused", st)
	}
	ed := protocol.Ed25519Counts()
	if ed.Alone+ed.Batched == 0 || !bytes.Contains(metrics, []byte("agentpay_ed25519_verified_alone_total ")) ||
		!bytes.Contains(metrics, []byte("agentpay_ed25519_verified_batched_total ")) || !bytes.Contains(metrics, []byte("agentpay_ed25519_batches_total ")) {
		t.Errorf("Ed25519 counters %+v, metrics:\n%s", ed, metrics)
	}
}

func TestWalletRules(t *testing.T) {
	t.Parallel()
	w := newWalletTest(t)
	path := "/v1/wallets/" + w.wallet.ID + "/rules"
	do(t, w.env, "PUT", path, as(w.secret), body(`{"rules":[{"id":"bad","expression":"amount >","outcome":"decline","reason":"x","enabled":true}]}`)).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "rule_invalid_expression", "rules[0]")
	var rs protocol.WalletRules
	do(t, w.env, "PUT", path, as(w.secret), body(`{"rules":[{"id":"big","expression":"payment.amount > 400","outcome":"decline","reason":"too_big","enabled":true}]}`)).
		want(t, http.StatusOK).decode(t, &rs)
	if len(rs.Rules) != 1 || rs.Rules[0].Scope != w.wallet.ID {
		t.Fatalf("rules %+v", rs)
	}
	do(t, w.env, "GET", path, as(w.secret)).want(t, http.StatusOK).decode(t, &rs)
	agentID, key := w.agent("bot")
	m := w.mandate(key, agentID, usd(5000))
	before := w.state(m.ID)
	e := wantCode(t, w.pay(key, w.closed(key, agentID, m, shop, 401)), "risk_declined")
	if e.Risk == nil || e.Risk.Outcome != "decline" || !strings.Contains(strings.Join(e.Risk.Reasons, ","), "too_big") {
		t.Fatalf("risk refusal %+v", e)
	}
	w.wantSame(before, m.ID)
	// Insufficient funds.
	w.pay(key, w.closed(key, agentID, m, shop, 400)).want(t, http.StatusCreated)
}

// TestWalletVectors refuses, at the API, every negative conformance
// vector (protocol/testdata/vectors) that applies to a payment, a mandate
// or an agent credential: each case makes the vector's defect with the
// test's own parties and expects the vector's code with the registry's
// status, and nothing changed. The checkout, purchase and price
// attestation vectors are TestPurchaseVectors'; a receipt has no route.
func TestWalletVectors(t *testing.T) {
	t.Parallel()
	// The checkout, purchase and price attestation vectors are
	// TestPurchaseVectors' (purchaseVectors).
	notApplicable := map[string]string{
		"receipt_signed_by_merchant": "receipt: no route takes an ACT receipt (the platform signs them)",
		"receipt_unregistered_error": "receipt: no route takes an ACT receipt (the platform signs them)",
	}
	const checked = "checked"
	type env struct {
		w       *wtest
		agentID string
		key     *protocol.Ed25519PrivateKey
		m       protocol.WalletMandate
	}
	mandateCase := func(mk func(e env) string) func(e env) (*response, string) {
		return func(e env) (*response, string) { return e.w.issue(mk(e)), "" }
	}
	open := func(e env, mut func(*protocol.OpenPaymentMandate)) string {
		o := e.w.openMandate(e.key, e.agentID, usd(20000))
		mut(o)
		return signObj(e.w.t, e.w.ukey, o)
	}
	cases := map[string]func(e env) (*response, string){
		"open_payment_mandate_bad_signature": mandateCase(func(e env) string {
			a, b := open(e, func(*protocol.OpenPaymentMandate) {}), open(e, func(*protocol.OpenPaymentMandate) {})
			return a[:strings.LastIndex(a, ".")] + b[strings.LastIndex(b, "."):]
		}),
		"open_payment_mandate_expired": mandateCase(func(e env) string {
			return open(e, func(o *protocol.OpenPaymentMandate) {
				o.IssuedAt, o.Expiry = e.w.clock.Now().Add(-2*time.Hour).Unix(), e.w.clock.Now().Add(-time.Hour).Unix()
			})
		}),
		"open_payment_mandate_missing_signature": mandateCase(func(e env) string {
			s := open(e, func(*protocol.OpenPaymentMandate) {})
			return s[:strings.LastIndex(s, ".")+1]
		}),
		"open_payment_mandate_not_yet_valid": mandateCase(func(e env) string {
			return open(e, func(o *protocol.OpenPaymentMandate) { o.NotBefore = e.w.clock.Now().Add(time.Hour).Unix() })
		}),
		"open_payment_mandate_revoked": func(e env) (*response, string) {
			s := open(e, func(*protocol.OpenPaymentMandate) {})
			var m protocol.WalletMandate
			e.w.issue(s).want(e.w.t, http.StatusCreated).decode(e.w.t, &m)
			do(e.w.t, e.w.env, "POST", "/v1/mandates/"+m.ID+"/revoke", as(e.w.secret)).want(e.w.t, http.StatusOK)
			return e.w.issue(s), m.ID
		},
		"open_payment_mandate_revoked_key": func(e env) (*response, string) {
			// Sign with the user's key, then rotate it: the old key is
			// revoked, and a mandate it signed is refused.
			s := open(e, func(*protocol.OpenPaymentMandate) {})
			k, _ := protocol.GenerateEd25519Key(rand.Reader)
			jwk, _ := json.Marshal(k.PublicKey().JWK())
			do(e.w.t, e.w.env, "POST", "/v1/users/"+e.w.user.ID+"/key", as(e.w.secret), body(fmt.Sprintf(`{"key":%s}`, jwk))).want(e.w.t, http.StatusOK)
			return e.w.issue(s), ""
		},
		"open_payment_mandate_tampered_max": mandateCase(func(e env) string {
			return resign(e.w.t, nil, open(e, func(*protocol.OpenPaymentMandate) {}), func(p map[string]any) {
				p["constraints"].([]any)[0].(map[string]any)["max"] = 99999999
			})
		}),
		"open_payment_mandate_unknown_constraint": mandateCase(func(e env) string {
			return resign(e.w.t, e.w.ukey, open(e, func(*protocol.OpenPaymentMandate) {}), func(p map[string]any) {
				p["constraints"] = append(p["constraints"].([]any), map[string]any{"type": "payment.loyalty_points", "max": 10})
			})
		}),
		"open_payment_mandate_wrong_audience": mandateCase(func(e env) string {
			return open(e, func(o *protocol.OpenPaymentMandate) { o.Audience = protocol.Audience{"mch_weather"} })
		}),
		"agent_credential_lifetime_too_long": func(e env) (*response, string) {
			k, _ := protocol.GenerateEd25519Key(rand.Reader)
			cnf, _ := protocol.NewConfirmation(k.PublicKey())
			cred := &protocol.AgentCredential{Claims: e.w.claims(e.w.user.ID, "agt_long", 24*time.Hour), Cnf: cnf}
			long := resign(e.w.t, e.w.ukey, signObj(e.w.t, e.w.ukey, cred), func(p map[string]any) {
				p["exp"] = e.w.clock.Now().Add(500 * 24 * time.Hour).Unix()
			})
			return do(e.w.t, e.w.env, "POST", "/v1/agents", as(e.w.secret), body(map[string]string{"credential": long})), ""
		},
		"agent_credential_signed_by_agent": func(e env) (*response, string) {
			k, _ := protocol.GenerateEd25519Key(rand.Reader)
			cnf, _ := protocol.NewConfirmation(k.PublicKey())
			cred := &protocol.AgentCredential{Claims: e.w.claims(e.w.user.ID, "agt_self", 24*time.Hour), Cnf: cnf}
			return do(e.w.t, e.w.env, "POST", "/v1/agents", as(e.w.secret), body(map[string]string{"credential": signObj(e.w.t, e.key, cred)})), ""
		},
		"closed_payment_mandate_not_yet_valid": func(e env) (*response, string) {
			c := e.w.closedObj(e.key, e.agentID, e.m, shop, 100)
			c.NotBefore = e.w.clock.Now().Add(10 * time.Minute).Unix()
			return e.w.pay(e.key, signObj(e.w.t, e.key, c)), e.m.ID
		},
		"purchase_agent_key_revoked": func(e env) (*response, string) {
			closed := e.w.closed(e.key, e.agentID, e.m, shop, 100)
			do(e.w.t, e.w.env, "POST", "/v1/agents/"+e.agentID+"/revoke", as(e.w.secret)).want(e.w.t, http.StatusOK)
			return e.w.pay(e.key, closed), e.m.ID
		},
		"purchase_closed_mandate_expired": func(e env) (*response, string) {
			closed := e.w.closed(e.key, e.agentID, e.m, shop, 100)
			e.w.clock.Advance(17 * time.Minute)
			return e.w.pay(e.key, closed), e.m.ID
		},
		"purchase_over_amount_range": func(e env) (*response, string) {
			m := e.w.mandate(e.key, e.agentID, &protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 5000})
			return e.w.pay(e.key, e.w.closed(e.key, e.agentID, m, shop, 8220)), m.ID
		},
		"purchase_over_monthly_budget": func(e env) (*response, string) {
			m := e.w.mandate(e.key, e.agentID, &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 20000, Period: protocol.PeriodMonth})
			e.w.pay(e.key, e.w.closed(e.key, e.agentID, m, shop, 15000)).want(e.w.t, http.StatusCreated)
			before := e.w.state(m.ID)
			res := e.w.pay(e.key, e.w.closed(e.key, e.agentID, m, shop, 8220))
			e.w.wantSame(before, m.ID)
			return res, checked
		},
		"request_body_changed": func(e env) (*response, string) {
			s := e.w.sign(e.key, e.w.closed(e.key, e.agentID, e.m, shop, 100), protocol.SignOptions{})
			s.body = bytes.Replace(s.body, []byte(`"data"`), []byte(`"dat4"`), 1)
			return e.w.send(s), e.m.ID
		},
		"request_expired": func(e env) (*response, string) {
			s := e.w.sign(e.key, e.w.closed(e.key, e.agentID, e.m, shop, 100), protocol.SignOptions{Created: e.w.clock.Now().Add(-10 * time.Minute)})
			return e.w.send(s), e.m.ID
		},
		"request_replayed_nonce": func(e env) (*response, string) {
			s := e.w.sign(e.key, e.w.closed(e.key, e.agentID, e.m, shop, 30000), protocol.SignOptions{Nonce: "bm9uY2UtdmVjdG9yLTAwMDE"})
			// Accepted (its signature verifies), refused by the budget: nothing moves.
			wantCode(e.w.t, e.w.send(s), protocol.CodeBudgetExceeded)
			s2 := e.w.sign(e.key, e.w.closed(e.key, e.agentID, e.m, shop, 100), protocol.SignOptions{Nonce: "bm9uY2UtdmVjdG9yLTAwMDE"})
			return e.w.send(s2), e.m.ID
		},
		"request_revoked_key": func(e env) (*response, string) {
			old := e.key
			newKey, _ := protocol.GenerateEd25519Key(rand.Reader)
			cnf, _ := protocol.NewConfirmation(newKey.PublicKey())
			cred := &protocol.AgentCredential{Claims: e.w.claims(e.w.user.ID, e.agentID, 24*time.Hour), Cnf: cnf}
			do(e.w.t, e.w.env, "POST", "/v1/agents", as(e.w.secret), body(map[string]string{"credential": signObj(e.w.t, e.w.ukey, cred)})).want(e.w.t, http.StatusCreated)
			return e.w.pay(old, e.w.closed(old, e.agentID, e.m, shop, 100)), e.m.ID
		},
		"request_signature_missing": func(e env) (*response, string) {
			return e.w.send(e.w.sign(nil, e.w.closed(e.key, e.agentID, e.m, shop, 100), protocol.SignOptions{})), e.m.ID
		},
		"request_target_changed": func(e env) (*response, string) {
			// Signed for another path, sent to /v1/payments.
			e.w.signPath = "/v1/payments/elsewhere"
			s := e.w.sign(e.key, e.w.closed(e.key, e.agentID, e.m, shop, 100), protocol.SignOptions{})
			e.w.signPath = ""
			s.req.URL.Path = "/v1/payments"
			return e.w.send(s), e.m.ID
		},
	}
	files, err := filepath.Glob("../protocol/testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	ran := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := protocol.ParseVector(data)
		if err != nil {
			t.Fatal(err)
		}
		if v.Expected.Valid {
			continue
		}
		run, ok := cases[v.Name]
		_, na := notApplicable[v.Name]
		_, bought := purchaseVectors[v.Name]
		if bought && (ok || na) {
			t.Errorf("vector %s is TestPurchaseVectors' and also a case or listed as not applicable here", v.Name)
		}
		if !ok {
			if !na && !bought {
				t.Errorf("negative vector %s (%s) is neither tested at the API nor listed as not applicable", v.Name, v.Expected.Code)
			}
			continue
		}
		ran++
		t.Run(v.Name, func(t *testing.T) {
			w := newWalletTest(t)
			agentID, key := w.agent("vec")
			m := w.mandate(key, agentID, usd(20000))
			w.pay(key, w.closed(key, agentID, m, shop, 50)).want(t, http.StatusCreated)
			before := w.state(m.ID)
			res, mid := run(env{w: w, agentID: agentID, key: key, m: m})
			wantCode(t, res, v.Expected.Code)
			if mid == checked {
				// The case compared the state itself.
			} else if mid == m.ID {
				w.wantSame(before, m.ID)
			} else if mid != "" {
				var mm protocol.WalletMandate
				do(t, w.env, "GET", "/v1/mandates/"+mid, as(w.secret)).want(t, http.StatusOK).decode(t, &mm)
				if after := w.state(""); after.Available != before.Available {
					t.Errorf("wallet changed: %s, was %s", after.Available, before.Available)
				}
			} else if after := w.state(m.ID); !jsonEqual(after, before) {
				t.Errorf("state changed: %+v, want %+v", after, before)
			}
			var ml protocol.WalletMandateList
			do(t, w.env, "GET", "/v1/mandates", as(w.secret)).want(t, http.StatusOK).decode(t, &ml)
			for _, x := range ml.Data {
				if x.ID != m.ID && x.ID != mid && x.RevokedAt == "" && !strings.HasPrefix(v.Name, "purchase_over") {
					// purchase_over_* issue their own (valid) mandate.
					t.Errorf("a refused mandate was stored: %s", x.ID)
				}
			}
		})
	}
	if ran != len(cases) {
		t.Errorf("ran %d vector cases of %d (a case names no vector)", ran, len(cases))
	}
}
