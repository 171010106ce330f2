// Package actvectors generates the ACT conformance test vectors of
// protocol/testdata/vectors deterministically: fixed Ed25519 test seeds,
// a fixed clock, fixed jtis and nonces. Generate returns the files; the
// vectorgen command writes them, and protocol's tests check that the
// checked-in files are exactly what Generate returns.
package actvectors

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agentpay/agentpay/protocol"
)

// The parties of the vectors.
const (
	UserID      = "usr_alice"
	AgentID     = "agt_shopper"
	MerchantID  = "mch_shoes"
	Merchant2ID = "mch_other"
	PlatformID  = "https://agentpay.example"
	WalletID    = "wal_alice_main"
)

// Now is the vectors' clock: 2026-11-29T12:00:00Z.
var Now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// TestKey returns the published test key of a party label ("user",
// "agent", "merchant", "merchant2", "platform"): its seed is
// SHA-256("agentpay act test vector key " + label). Test use only.
func TestKey(label string) *protocol.Ed25519PrivateKey {
	seed := sha256.Sum256([]byte("agentpay act test vector key " + label))
	k, err := protocol.NewEd25519PrivateKey(seed[:])
	if err != nil {
		panic(err) // a 32-byte seed always makes a key
	}
	return k
}

type party struct {
	label string
	id    string
	role  protocol.PartyRole
	key   *protocol.Ed25519PrivateKey
}

type gen struct {
	parties                                    []party
	user, agent, merchant, merchant2, platform *protocol.Ed25519PrivateKey
	jti                                        int
	files                                      map[string][]byte
	err                                        error
}

func newGen() *gen {
	g := &gen{files: map[string][]byte{}}
	for _, p := range []struct {
		label, id string
		role      protocol.PartyRole
		dst       **protocol.Ed25519PrivateKey
	}{
		{"user", UserID, protocol.PartyUser, &g.user},
		{"agent", AgentID, protocol.PartyAgent, &g.agent},
		{"merchant", MerchantID, protocol.PartyMerchant, &g.merchant},
		{"merchant2", Merchant2ID, protocol.PartyMerchant, &g.merchant2},
		{"platform", PlatformID, protocol.PartyPlatform, &g.platform},
	} {
		k := TestKey(p.label)
		*p.dst = k
		g.parties = append(g.parties, party{p.label, p.id, p.role, k})
	}
	return g
}

func (g *gen) keys() []protocol.VectorKey {
	out := make([]protocol.VectorKey, 0, len(g.parties))
	for _, p := range g.parties {
		out = append(out, protocol.VectorKey{
			Party: p.id, Role: p.role, JWK: p.key.PublicKey().JWK(),
			TestSeed: hex.EncodeToString(p.key.Seed()),
		})
	}
	return out
}

func (g *gen) setErr(err error) {
	if g.err == nil {
		g.err = err
	}
}

// claims makes registered claims issued a minute before Now.
func (g *gen) claims(iss, sub string, aud string, life time.Duration) protocol.Claims {
	g.jti++
	c := protocol.Claims{
		Issuer: iss, Subject: sub, Audience: protocol.Audience{aud},
		IssuedAt: Now.Add(-time.Minute).Unix(),
		ID:       fmt.Sprintf("jti-vector-%04d-0123456789", g.jti),
	}
	if life > 0 {
		c.Expiry = Now.Add(-time.Minute + life).Unix()
	}
	return c
}

func (g *gen) sign(k protocol.Signer, obj protocol.Object) string {
	b, err := protocol.Sign(k, obj)
	if err != nil {
		g.setErr(fmt.Errorf("sign %s: %w", obj.Kind(), err))
		return ""
	}
	return string(b)
}

var b64 = base64.RawURLEncoding

// signRaw signs an arbitrary payload with header {alg, kid, typ}: for
// objects Sign refuses to make (they break a rule a verifier checks).
func (g *gen) signRaw(k protocol.Signer, typ string, payload any) string {
	p, err := json.Marshal(payload)
	if err != nil {
		g.setErr(err)
		return ""
	}
	h, _ := json.Marshal(protocol.Header{Alg: k.Algorithm(), Kid: k.KeyID(), Typ: typ})
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sig, err := k.SignMessage([]byte(in))
	if err != nil {
		g.setErr(err)
		return ""
	}
	return in + "." + b64.EncodeToString(sig)
}

// tamper replaces, in the payload of a signed compact JWS, old by new,
// keeping the header and signature.
func (g *gen) tamper(jws, old, new string) string {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		g.setErr(fmt.Errorf("tamper: not a JWS"))
		return ""
	}
	p, err := b64.DecodeString(parts[1])
	if err != nil || !strings.Contains(string(p), old) {
		g.setErr(fmt.Errorf("tamper: %q not in payload", old))
		return ""
	}
	parts[1] = b64.EncodeToString([]byte(strings.Replace(string(p), old, new, 1)))
	return strings.Join(parts, ".")
}

func usd(a int64) protocol.Money { return protocol.Money{Amount: a, Currency: "USD", Scale: 2} }

var shoeShop = protocol.Merchant{ID: MerchantID, Name: "Shoe Shop", Website: "https://shoes.example"}
var otherShop = protocol.Merchant{ID: Merchant2ID, Name: "Other Shop"}

func (g *gen) cnf() protocol.Confirmation {
	c, err := protocol.NewConfirmation(g.agent.PublicKey())
	g.setErr(err)
	return c
}

func (g *gen) credential(life time.Duration) *protocol.AgentCredential {
	return &protocol.AgentCredential{Claims: g.claims(UserID, AgentID, PlatformID, life), Cnf: g.cnf(), Name: "Shopper"}
}

func (g *gen) openCheckout() *protocol.OpenCheckoutMandate {
	return &protocol.OpenCheckoutMandate{
		Claims: g.claims(UserID, AgentID, PlatformID, 30*24*time.Hour), Cnf: g.cnf(),
		Constraints: protocol.Constraints{
			&protocol.AllowedMerchantsConstraint{Allowed: []protocol.Merchant{shoeShop}},
			&protocol.LineItemsConstraint{Items: []protocol.LineItemRule{
				{ID: "shoes", AcceptableItems: []protocol.AcceptableItem{{ID: "sku-runner-42", Title: "Runner 42"}}, Quantity: 1},
				{ID: "socks", AcceptableItems: []protocol.AcceptableItem{{ID: "sku-socks"}}, Quantity: 3},
			}},
			&protocol.PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000},
		},
		PromptSummary: "Buy running shoes size 42 when they cost at most $70",
	}
}

// openPayment: each payment 0..100.00 USD, 200.00 a month, 500.00 in
// total, to the shoe shop only, user approval above 90.00.
func (g *gen) openPayment(ref string, maxAmount int64) *protocol.OpenPaymentMandate {
	return &protocol.OpenPaymentMandate{
		Claims: g.claims(UserID, AgentID, PlatformID, 30*24*time.Hour), Cnf: g.cnf(),
		PaymentInstrument: protocol.PaymentInstrument{ID: WalletID, Type: protocol.PaymentInstrumentWallet},
		Constraints: protocol.Constraints{
			&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: maxAmount},
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 20000, Period: protocol.PeriodMonth},
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 50000},
			&protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{shoeShop}},
			&protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 9000},
			&protocol.PaymentReferenceConstraint{ConditionalTransactionID: ref},
		},
	}
}

// checkout: one pair of shoes at 65.00 and two pairs of socks at 4.50,
// 3.00 shipping, 5.20 tax: 82.20 in total.
func (g *gen) checkout(m protocol.Merchant) *protocol.Checkout {
	return &protocol.Checkout{
		Claims:   g.claims(m.ID, "", PlatformID, 24*time.Hour),
		ID:       "co_1001",
		Merchant: m,
		Currency: "USD", Scale: 2,
		LineItems: []protocol.LineItem{
			{ID: "li_1", Item: protocol.Item{ID: "sku-runner-42", Title: "Runner 42", Quantity: 1}, UnitAmount: 6500, BaseAmount: 6500, Subtotal: 6500, Tax: 520, Total: 7020},
			{ID: "li_2", Item: protocol.Item{ID: "sku-socks", Title: "Socks", Quantity: 2}, UnitAmount: 450, BaseAmount: 900, Subtotal: 900, Total: 900},
		},
		Totals: []protocol.Total{
			{Type: protocol.TotalItemsBaseAmount, Amount: 7400},
			{Type: protocol.TotalSubtotal, Amount: 7400},
			{Type: protocol.TotalFulfillment, Amount: 300},
			{Type: protocol.TotalTax, Amount: 520},
			{Type: protocol.TotalTotal, Amount: 8220, DisplayText: "Total"},
		},
	}
}

func (g *gen) closedCheckout(co, openHash string) *protocol.ClosedCheckoutMandate {
	iss, mod := UserID, protocol.HumanPresent
	if openHash != "" {
		iss, mod = AgentID, protocol.HumanNotPresent
	}
	return &protocol.ClosedCheckoutMandate{
		Claims:      g.claims(iss, "", PlatformID, 15*time.Minute),
		CheckoutJWT: co, CheckoutHash: protocol.HashJWS([]byte(co)), OpenMandateHash: openHash, Modality: mod,
	}
}

func (g *gen) closedPayment(co string, payee protocol.Merchant, amount protocol.Money, openHash string) *protocol.ClosedPaymentMandate {
	iss, mod := UserID, protocol.HumanPresent
	if openHash != "" {
		iss, mod = AgentID, protocol.HumanNotPresent
	}
	return &protocol.ClosedPaymentMandate{
		Claims:            g.claims(iss, "", PlatformID, 15*time.Minute),
		TransactionID:     protocol.HashJWS([]byte(co)),
		Payee:             payee,
		PaymentAmount:     amount,
		PaymentInstrument: protocol.PaymentInstrument{ID: WalletID, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   openHash,
		Modality:          mod,
	}
}

func (g *gen) closedSigner(openHash string) protocol.Signer {
	if openHash != "" {
		return g.agent
	}
	return g.user
}

func (g *gen) receipt(ref string) *protocol.Receipt {
	a := usd(8220)
	return &protocol.Receipt{
		Claims: g.claims(PlatformID, "", AgentID, 0), Result: protocol.ResultSuccess,
		Reference:    protocol.HashJWS([]byte(ref)),
		ReferenceVCT: protocol.KindClosedPaymentMandate.VCT(), PaymentID: "tr_01JDX0000000000000000000", Amount: &a,
	}
}

func (g *gen) price(signer string) *protocol.PriceAttestation {
	return &protocol.PriceAttestation{
		Claims:   g.claims(signer, "", PlatformID, 30*time.Minute),
		Merchant: shoeShop, ItemID: "sku-runner-42", Price: usd(6500), Available: true,
		Source: &protocol.PriceSource{FeedID: "feed_shoes", FeedUpdateID: "upd_42"},
	}
}

// add records a vector.
func (g *gen) add(v protocol.Vector) {
	if g.err != nil {
		return
	}
	v.Notice = protocol.TestKeyNotice
	v.Keys = g.keys()
	if v.Context.Now == "" {
		v.Context.Now = Now.Format(time.RFC3339)
	}
	if v.Expected.Code == "" {
		v.Expected.Valid = true
	}
	if _, dup := g.files[v.Name+".json"]; dup {
		g.setErr(fmt.Errorf("vector %s twice", v.Name))
		return
	}
	b, err := json.MarshalIndent(&v, "", "  ")
	if err != nil {
		g.setErr(fmt.Errorf("vector %s: %w", v.Name, err))
		return
	}
	g.files[v.Name+".json"] = append(b, '\n')
}

func object(name, desc, jws, aud string, code protocol.Code) protocol.Vector {
	return protocol.Vector{Name: name, Description: desc, Type: protocol.VectorObject,
		Input: protocol.VectorInput{JWS: jws}, Context: protocol.VectorContext{Audience: aud},
		Expected: protocol.VectorExpected{Code: code}}
}

func purchase(name, desc string, p protocol.VectorPurchaseInput, code protocol.Code) protocol.Vector {
	return protocol.Vector{Name: name, Description: desc, Type: protocol.VectorPurchase,
		Input: protocol.VectorInput{Purchase: &p}, Context: protocol.VectorContext{Audience: PlatformID},
		Expected: protocol.VectorExpected{Code: code}}
}

// hnp builds a human-not-present purchase with an open payment mandate
// whose amount range maximum is maxAmount and a payment of amount to
// payee for the checkout co.
func (g *gen) hnp(co string, payee protocol.Merchant, amount int64, maxAmount int64) protocol.VectorPurchaseInput {
	oc := g.sign(g.user, g.openCheckout())
	op := g.sign(g.user, g.openPayment(protocol.HashJWS([]byte(oc)), maxAmount))
	ohc, ohp := protocol.HashJWS([]byte(oc)), protocol.HashJWS([]byte(op))
	cm := g.sign(g.agent, g.closedCheckout(co, ohc))
	pm := g.sign(g.agent, g.closedPayment(co, payee, usd(amount), ohp))
	return protocol.VectorPurchaseInput{CheckoutMandate: cm, PaymentMandate: pm, OpenCheckoutMandate: oc, OpenPaymentMandate: op}
}

func (g *gen) hp(co string, payee protocol.Merchant, amount int64) protocol.VectorPurchaseInput {
	cm := g.sign(g.user, g.closedCheckout(co, ""))
	pm := g.sign(g.user, g.closedPayment(co, payee, usd(amount), ""))
	return protocol.VectorPurchaseInput{CheckoutMandate: cm, PaymentMandate: pm}
}

// request signs an agent request to the platform.
func (g *gen) request(method, url, body, nonce string) *protocol.VectorHTTPRequest {
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		g.setErr(err)
		return nil
	}
	headers := [][2]string{}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set(protocol.HeaderIdempotencyKey, "idem-vector-"+nonce[:8])
	if err := protocol.SignRequest(r, []byte(body), g.agent, protocol.SignOptions{
		Created: Now.Add(-10 * time.Second), Nonce: nonce,
	}); err != nil {
		g.setErr(fmt.Errorf("sign request: %w", err))
		return nil
	}
	for _, name := range []string{"Content-Type", protocol.HeaderIdempotencyKey, protocol.HeaderContentDigest,
		protocol.HeaderSignatureInput, protocol.HeaderSignature} {
		if v := r.Header.Get(name); v != "" {
			headers = append(headers, [2]string{name, v})
		}
	}
	return &protocol.VectorHTTPRequest{Method: method, URL: url, Headers: headers, Body: body}
}

func request(name, desc string, r *protocol.VectorHTTPRequest, code protocol.Code) protocol.Vector {
	return protocol.Vector{Name: name, Description: desc, Type: protocol.VectorRequest,
		Input: protocol.VectorInput{Request: r}, Expected: protocol.VectorExpected{Code: code}}
}

// Generate returns every vector file, by file name.
func Generate() (map[string][]byte, error) {
	g := newGen()
	co := g.sign(g.merchant, g.checkout(shoeShop))
	coOther := g.sign(g.merchant2, g.checkout(otherShop))

	// ---- mandates: open ----
	oc := g.sign(g.user, g.openCheckout())
	g.add(object("open_checkout_mandate_valid", "A user-signed open checkout mandate with allowed merchants, line items and a price condition.",
		oc, PlatformID, ""))
	op := g.sign(g.user, g.openPayment(protocol.HashJWS([]byte(oc)), 10000))
	g.add(object("open_payment_mandate_valid", "A user-signed open payment mandate: amount range, monthly and total budgets, allowed payees, approval threshold, reference to its open checkout mandate.",
		op, PlatformID, ""))
	g.add(object("open_payment_mandate_wrong_audience", "A valid open payment mandate presented to a verifier it is not addressed to (aud is the platform, the verifier a merchant).",
		op, MerchantID, protocol.CodeAudienceMismatch))
	{
		var m map[string]any
		_ = json.Unmarshal([]byte(mustPayload(g, op)), &m)
		cs := m["constraints"].([]any)
		m["constraints"] = append(cs, map[string]any{"type": "payment.loyalty_points", "max": 10})
		g.add(object("open_payment_mandate_unknown_constraint", "An open payment mandate carrying a constraint type the verifier does not know (payment.loyalty_points): it fails closed.",
			g.signRaw(g.user, protocol.KindOpenPaymentMandate.Typ(), m), PlatformID, protocol.CodeConstraintUnknown))
	}
	{
		c := g.openPayment(protocol.HashJWS([]byte(oc)), 10000)
		c.IssuedAt = Now.Add(-24 * time.Hour).Unix()
		c.Expiry = Now.Add(-time.Hour).Unix()
		g.add(object("open_payment_mandate_expired", "An open payment mandate whose exp was an hour before now (well beyond the 60 s clock skew).",
			g.sign(g.user, c), PlatformID, protocol.CodeExpired))
	}
	{
		c := g.openPayment(protocol.HashJWS([]byte(oc)), 10000)
		c.NotBefore = Now.Add(time.Hour).Unix()
		g.add(object("open_payment_mandate_not_yet_valid", "An open payment mandate whose nbf is an hour after now.",
			g.sign(g.user, c), PlatformID, protocol.CodeNotYetValid))
	}
	g.add(withRevokedKey(object("open_payment_mandate_revoked_key", "A valid open payment mandate whose signing key (the user's) was revoked.",
		op, PlatformID, protocol.CodeKeyRevoked), g.user.KeyID()))
	{
		v := object("open_payment_mandate_revoked", "A valid open payment mandate that its issuer revoked (by iss and jti).",
			op, PlatformID, protocol.CodeRevoked)
		var c protocol.Claims
		_ = json.Unmarshal([]byte(mustPayload(g, op)), &c)
		v.Context.RevokedObjects = []protocol.VectorObjectRef{{Issuer: c.Issuer, ID: c.ID}}
		g.add(v)
	}
	{
		parts := strings.Split(op, ".")
		g.add(object("open_payment_mandate_missing_signature", "An open payment mandate with its signature part removed (header.payload.).",
			parts[0]+"."+parts[1]+".", PlatformID, protocol.CodeJWSMalformed))
		g.add(object("open_payment_mandate_bad_signature", "An open payment mandate signed by the user key but with the signature of another object.",
			parts[0]+"."+parts[1]+"."+strings.Split(oc, ".")[2], PlatformID, protocol.CodeSignatureInvalid))
		g.add(object("open_payment_mandate_tampered_max", "An open payment mandate whose amount_range max was raised after signing.",
			g.tamper(op, `"max":10000`, `"max":99999`), PlatformID, protocol.CodeSignatureInvalid))
	}

	// ---- mandates: closed ----
	hnpOK := g.hnp(co, shoeShop, 8220, 10000)
	g.add(object("closed_checkout_mandate_valid", "An agent-signed closed checkout mandate (human not present) embedding the merchant's checkout, verified on its own.",
		hnpOK.CheckoutMandate, PlatformID, ""))
	g.add(object("closed_payment_mandate_valid", "An agent-signed closed payment mandate (human not present) verified on its own.",
		hnpOK.PaymentMandate, PlatformID, ""))
	g.add(purchase("purchase_human_not_present_valid", "A purchase made by the agent while the user is away: open checkout and payment mandates, closed mandates signed by the agent key they confirm, payment matching the checkout, every constraint passing.",
		hnpOK, ""))
	g.add(purchase("purchase_human_present_valid", "A purchase the user confirmed: closed checkout and payment mandates signed by the user, no open mandates.",
		g.hp(co, shoeShop, 8220), ""))
	g.add(purchase("purchase_changed_merchant", "The closed payment mandate pays another merchant than the one that signed the checkout.",
		g.hp(co, otherShop, 8220), protocol.CodeMerchantMismatch))
	g.add(purchase("purchase_changed_amount", "The closed payment mandate pays less than the checkout's total.",
		g.hp(co, shoeShop, 1000), protocol.CodeAmountMismatch))
	{
		p := g.hp(co, shoeShop, 8220)
		p.PaymentMandate = g.sign(g.user, g.closedPayment(coOther, shoeShop, usd(8220), ""))
		g.add(purchase("purchase_payment_checkout_hash_mismatch", "The closed payment mandate's transaction_id is the hash of another checkout than the one the closed checkout mandate embeds.",
			p, protocol.CodeCheckoutHashMismatch))
	}
	{
		m := g.closedCheckout(co, "")
		m.CheckoutHash = protocol.HashJWS([]byte(coOther))
		m.VCT = protocol.KindClosedCheckoutMandate.VCT()
		g.add(object("closed_checkout_mandate_checkout_hash_mismatch", "A closed checkout mandate whose checkout_hash is not the hash of the checkout_jwt it embeds.",
			g.signRaw(g.user, protocol.KindClosedCheckoutMandate.Typ(), m), PlatformID, protocol.CodeCheckoutHashMismatch))
	}
	g.add(purchase("purchase_over_amount_range", "A purchase by the agent of 82.20 under an open payment mandate whose amount_range max is 50.00.",
		g.hnp(co, shoeShop, 8220, 5000), protocol.CodeAmountOutOfRange))
	{
		v := purchase("purchase_over_monthly_budget", "A purchase by the agent of 82.20 when 150.00 of the 200.00 monthly budget was already spent.",
			g.hnp(co, shoeShop, 8220, 10000), protocol.CodeBudgetExceeded)
		v.Context.Usage = &protocol.VectorUsage{SpentTotal: 15000, SpentMonth: 15000, SpentWeek: 5000, Uses: 2, LastUseAt: Now.Add(-48 * time.Hour).Format(time.RFC3339)}
		g.add(v)
	}
	{
		v := purchase("purchase_closed_mandate_expired", "A valid human-not-present purchase verified after its closed mandates expired (15 minutes after issue).",
			hnpOK, protocol.CodeExpired)
		v.Context.Now = Now.Add(20 * time.Minute).Format(time.RFC3339)
		g.add(v)
	}
	{
		m := g.closedPayment(co, shoeShop, usd(8220), "")
		m.NotBefore = Now.Add(10 * time.Minute).Unix()
		g.add(object("closed_payment_mandate_not_yet_valid", "A closed payment mandate whose nbf is ten minutes after now.",
			g.sign(g.user, m), PlatformID, protocol.CodeNotYetValid))
	}
	g.add(withRevokedKey(purchase("purchase_agent_key_revoked", "A valid human-not-present purchase after the agent's key was revoked.",
		hnpOK, protocol.CodeKeyRevoked), g.agent.KeyID()))

	// ---- checkout ----
	g.add(object("checkout_valid", "A merchant-signed checkout: two lines, shipping and tax, totals that add up.", co, PlatformID, ""))
	g.add(object("checkout_tampered_total", "A checkout whose total was lowered after the merchant signed it.",
		g.tamper(co, `"amount":8220`, `"amount":1`), PlatformID, protocol.CodeSignatureInvalid))
	{
		c := g.checkout(shoeShop)
		c.VCT = protocol.KindCheckout.VCT()
		c.Totals[4].Amount = 100
		g.add(object("checkout_totals_do_not_add_up", "A merchant-signed checkout whose total is not subtotal + fulfillment + tax.",
			g.signRaw(g.merchant, protocol.KindCheckout.Typ(), c), PlatformID, protocol.CodeClaimsInvalid))
	}
	{
		v := object("checkout_expired", "A checkout verified a day and a minute after it was issued (its lifetime is a day).", co, PlatformID, protocol.CodeExpired)
		v.Context.Now = Now.Add(24*time.Hour + time.Minute).Format(time.RFC3339)
		g.add(v)
	}
	g.add(object("checkout_signed_by_agent", "A checkout signed by an agent key: only merchants and vendors sign checkouts.",
		g.sign(g.agent, g.checkout(shoeShop)), PlatformID, protocol.CodeSignerNotAllowed))

	// ---- receipt ----
	rc := g.sign(g.platform, g.receipt(hnpOK.PaymentMandate))
	g.add(object("receipt_valid", "A platform receipt acknowledging a closed payment mandate, for the agent.", rc, AgentID, ""))
	g.add(object("receipt_signed_by_merchant", "A receipt signed by a merchant key: only the platform signs receipts.",
		g.sign(g.merchant, g.receipt(hnpOK.PaymentMandate)), AgentID, protocol.CodeSignerNotAllowed))
	{
		r := g.receipt(hnpOK.PaymentMandate)
		r.VCT = protocol.KindReceipt.VCT()
		r.Result, r.Error, r.Amount, r.PaymentID = protocol.ResultError, "out_of_stock", nil, ""
		g.add(object("receipt_unregistered_error", "A platform receipt whose error is not a registered code.",
			g.signRaw(g.platform, protocol.KindReceipt.Typ(), r), AgentID, protocol.CodeClaimsInvalid))
	}

	// ---- agent credential ----
	g.add(object("agent_credential_valid", "A user-signed agent credential binding the agent's Ed25519 key for 90 days.",
		g.sign(g.user, g.credential(90*24*time.Hour)), PlatformID, ""))
	{
		c := g.credential(500 * 24 * time.Hour)
		c.VCT = protocol.KindAgentCredential.VCT()
		g.add(object("agent_credential_lifetime_too_long", "An agent credential valid for 500 days (the limit is 400).",
			g.signRaw(g.user, protocol.KindAgentCredential.Typ(), c), PlatformID, protocol.CodeLifetimeTooLong))
	}
	g.add(object("agent_credential_signed_by_agent", "An agent credential signed by the agent's own key: only the user (wallet owner) may sign it.",
		g.sign(g.agent, g.credential(90*24*time.Hour)), PlatformID, protocol.CodeSignerNotAllowed))

	// ---- price attestation ----
	g.add(object("price_attestation_valid", "A platform-signed price attestation: sku-runner-42 available at 65.00 USD.",
		g.sign(g.platform, g.price(PlatformID)), PlatformID, ""))
	{
		v := object("price_attestation_stale", "A price attestation verified after its exp (30 minutes after issue).",
			g.sign(g.platform, g.price(PlatformID)), PlatformID, protocol.CodeExpired)
		v.Context.Now = Now.Add(time.Hour).Format(time.RFC3339)
		g.add(v)
	}
	g.add(object("price_attestation_issuer_mismatch", "A price attestation signed by the platform key but naming the merchant as issuer.",
		g.sign(g.platform, g.price(MerchantID)), PlatformID, protocol.CodeIssuerMismatch))

	// ---- agent requests (RFC 9421) ----
	body := `{"checkout_mandate":"...","payment_mandate":"..."}`
	const url = "https://agentpay.example/v1/purchases"
	req := g.request(http.MethodPost, url, body, "bm9uY2UtdmVjdG9yLTAwMDE")
	g.add(request("request_valid", "An agent's POST signed with RFC 9421: @method, @target-uri, content-type, content-digest, idempotency-key; created 10 s ago, nonce new.",
		req, ""))
	{
		v := request("request_replayed_nonce", "The same signed request again: its (keyid, nonce) was already used.", req, protocol.CodeNonceReplayed)
		v.Context.UsedNonces = []protocol.VectorNonce{{KeyID: g.agent.KeyID(), Nonce: "bm9uY2UtdmVjdG9yLTAwMDE"}}
		g.add(v)
	}
	if req != nil {
		changed := *req
		changed.Body = strings.Replace(body, "...", "..!", 1)
		g.add(request("request_body_changed", "The body was changed after signing: Content-Digest no longer matches.", &changed, protocol.CodeContentDigestInvalid))
		unsigned := *req
		unsigned.Headers = nil
		for _, h := range req.Headers {
			if h[0] != protocol.HeaderSignature && h[0] != protocol.HeaderSignatureInput {
				unsigned.Headers = append(unsigned.Headers, h)
			}
		}
		g.add(request("request_signature_missing", "The request without Signature-Input and Signature.", &unsigned, protocol.CodeRequestSignatureMissing))
		other := *req
		other.URL = "https://agentpay.example/v1/refunds"
		g.add(request("request_target_changed", "The signed request sent to another path: the signature does not verify.", &other, protocol.CodeRequestSignatureInvalid))
		v := request("request_expired", "The signed request verified 10 minutes after it was created (expires after 5).", req, protocol.CodeRequestSignatureExpired)
		v.Context.Now = Now.Add(10 * time.Minute).Format(time.RFC3339)
		g.add(v)
		rv := request("request_revoked_key", "A signed request whose agent key was revoked.", req, protocol.CodeKeyRevoked)
		rv.Context.RevokedKeys = []string{g.agent.KeyID()}
		g.add(rv)
	}
	g.add(request("request_get_valid", "An agent's GET without content, signed over @method and @target-uri.",
		g.request(http.MethodGet, "https://agentpay.example/v1/mandates?limit=10", "", "bm9uY2UtdmVjdG9yLTAwMDI"), ""))

	if g.err != nil {
		return nil, g.err
	}
	return g.files, nil
}

func withRevokedKey(v protocol.Vector, kid string) protocol.Vector {
	v.Context.RevokedKeys = append(v.Context.RevokedKeys, kid)
	return v
}

func mustPayload(g *gen, jws string) string {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		g.setErr(fmt.Errorf("not a JWS"))
		return "{}"
	}
	p, err := b64.DecodeString(parts[1])
	if err != nil {
		g.setErr(err)
		return "{}"
	}
	return string(p)
}
