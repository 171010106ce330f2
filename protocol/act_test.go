package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// forge builds a compact JWS with any header and payload JSON, signed by
// s (so tests can produce what Sign refuses to).
func forgeJWS(tb testing.TB, s Signer, header string, payload []byte) []byte {
	tb.Helper()
	in := jwsB64.EncodeToString([]byte(header)) + "." + jwsB64.EncodeToString(payload)
	sig, err := s.SignMessage([]byte(in))
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(in + "." + jwsB64.EncodeToString(sig))
}

// hdr is a header JSON for s and kind.
func actHeader(s Signer, typ string) string {
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":%q}`, s.Algorithm(), s.KeyID(), typ)
}

// payloadOf marshals obj after filling its vct.
func payloadOf(tb testing.TB, obj Object) []byte {
	tb.Helper()
	if obj.claims().VCT == "" {
		obj.claims().VCT = obj.Kind().VCT()
	}
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// editJSON decodes payload into a map, lets f change it, and re-encodes.
func editJSON(tb testing.TB, payload []byte, f func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		tb.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// parts splits a compact JWS.
func jwsParts(raw []byte) (h, p, s string) {
	x := strings.Split(string(raw), ".")
	return x[0], x[1], x[2]
}

func wantCode(t *testing.T, name string, err error, want Code) {
	t.Helper()
	if got := CodeOf(err); got != want {
		t.Errorf("%s: code %q, want %q (err: %v)", name, got, want, err)
	}
}

func TestSignVerifyEveryKind(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	co := w.sign(w.merchant, w.checkout())
	oc := w.sign(w.user, w.openCheckout())
	op := w.sign(w.user, w.openPayment(HashJWS(oc)))
	pm := w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(op)))
	rf := w.sign(w.merchant, w.refund(co))
	cases := []struct {
		raw  []byte
		aud  string
		kind Kind
	}{
		{w.sign(w.user, w.credential()), platformID, KindAgentCredential},
		{oc, platformID, KindOpenCheckoutMandate},
		{op, platformID, KindOpenPaymentMandate},
		{co, platformID, KindCheckout},
		{w.sign(w.agent, w.closedCheckout(co, HashJWS(oc))), platformID, KindClosedCheckoutMandate},
		{pm, platformID, KindClosedPaymentMandate},
		{w.sign(w.platform, w.receipt(pm)), agentID, KindReceipt},
		{w.sign(w.platform, w.orderAttestation(co, pm)), merchantID, KindOrderAttestation},
		{rf, platformID, KindRefund},
		{w.sign(w.merchant, w.adjustment(rf)), platformID, KindAdjustment},
		{w.sign(w.oracle, w.priceAttestation(6500)), platformID, KindPriceAttestation},
	}
	seen := map[Kind]bool{}
	for _, c := range cases {
		v, err := VerifyObject(actCtx, w.vc(c.aud), c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.kind, err)
			continue
		}
		seen[c.kind] = true
		if v.Kind != c.kind || v.Object.Kind() != c.kind {
			t.Errorf("%s: verified as %s", c.kind, v.Kind)
		}
		if v.Hash != HashJWS(c.raw) || !bytes.Equal(v.Raw, c.raw) {
			t.Errorf("%s: hash or raw bytes differ from what was received", c.kind)
		}
		if v.Header.Typ != c.kind.Typ() || v.Object.claims().VCT != c.kind.VCT() {
			t.Errorf("%s: typ %q vct %q", c.kind, v.Header.Typ, v.Object.claims().VCT)
		}
		if c.kind == KindClosedCheckoutMandate && (v.Checkout == nil || v.Checkout.Hash != HashJWS(co)) {
			t.Errorf("closed checkout mandate: embedded checkout not verified")
		}
	}
	for _, k := range Kinds() {
		if !seen[k] {
			t.Errorf("kind %s not covered", k)
		}
	}
}

func TestSignIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := newWorld(t), newWorld(t)
	if !bytes.Equal(a.sign(a.user, a.openPayment("")), b.sign(b.user, b.openPayment(""))) {
		t.Fatal("two signatures of the same mandate with the same Ed25519 key differ")
	}
}

func TestSignRefusesInvalidObjects(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := map[string]struct {
		obj  Object
		want Code
	}{
		"no issuer": {func() Object { o := w.credential(); o.Issuer = ""; return o }(), CodeClaimsInvalid},
		"short jti": {func() Object { o := w.credential(); o.ID = "x"; return o }(), CodeClaimsInvalid},
		"too long":  {func() Object { o := w.credential(); o.Expiry = o.IssuedAt + 500*86400; return o }(), CodeLifetimeTooLong},
		"exp <= iat": {func() Object {
			o := w.checkout()
			o.Expiry = o.IssuedAt
			return o
		}(), CodeLifetimeTooLong},
		"sub on checkout": {func() Object { o := w.checkout(); o.Subject = "x"; return o }(), CodeClaimsInvalid},
		"no money ceiling": {w.openPayment("", &AllowedPayeesConstraint{Allowed: []Merchant{shoeShop}}),
			CodeConstraintInvalid},
		"payment constraint in checkout mandate": {w.openCheckout(&AmountRangeConstraint{Currency: "USD", Max: 1}), CodeConstraintInvalid},
		"bad totals":                             {func() Object { o := w.checkout(); o.Totals[4].Amount++; return o }(), CodeClaimsInvalid},
		"vct of another kind": {func() Object {
			o := w.checkout()
			o.VCT = KindReceipt.VCT()
			return o
		}(), CodeTypMismatch},
		"wrong hash":        {func() Object { o := w.closedCheckout([]byte("a.b.c"), ""); o.CheckoutHash = HashJWS(nil); return o }(), CodeCheckoutHashMismatch},
		"receipt bad code":  {func() Object { o := w.receipt(nil); o.Result = ResultError; o.Error = "nope"; return o }(), CodeClaimsInvalid},
		"control character": {func() Object { o := w.credential(); o.Name = "a\x07b"; return o }(), CodeClaimsInvalid},
		"agent key not Ed25519": {func() Object {
			o := w.credential()
			o.Cnf = Confirmation{JWK: newES256Signer(t, "x").PublicKey().JWK()}
			return o
		}(), CodeClaimsInvalid},
	}
	for name, c := range cases {
		_, err := Sign(w.user, c.obj)
		wantCode(t, name, err, c.want)
	}
}

// TestVerifyFailures runs one object per failure and checks the code.
func TestVerifyObjectFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cred := w.sign(w.user, w.credential())
	credPayload := payloadOf(t, w.credential())
	h, p, s := jwsParts(cred)
	sig, _ := jwsB64.DecodeString(s)
	sig[0] ^= 1
	badSig := h + "." + p + "." + jwsB64.EncodeToString(sig)
	otherPayload := jwsB64.EncodeToString(editJSON(t, credPayload, func(m map[string]any) { m["name"] = "Evil" }))

	expired := w.credential()
	expired.IssuedAt, expired.Expiry = testNow.Add(-48*time.Hour).Unix(), testNow.Add(-2*time.Minute).Unix()
	withinSkew := w.credential()
	withinSkew.Expiry = testNow.Add(-30 * time.Second).Unix()
	notYet := w.credential()
	notYet.NotBefore = testNow.Add(time.Hour).Unix()
	future := w.credential()
	future.IssuedAt = testNow.Add(10 * time.Minute).Unix()
	future.Expiry = future.IssuedAt + 3600

	revokedObj := w.credential()
	w.revocations.Revoke(userID, revokedObj.ID)

	stranger := seedKey(t, "stranger")
	revokedKey := seedKey(t, "revoked user")
	if err := w.keys.Add("usr_bob", PartyUser, revokedKey.PublicKey()); err != nil {
		t.Fatal(err)
	}
	w.keys.Revoke(revokedKey.KeyID())
	bob := w.credential()
	bob.Issuer = "usr_bob"

	p256 := newES256Signer(t, "alice passkey")
	if err := w.keys.Add("usr_carol", PartyUser, p256.PublicKey()); err != nil {
		t.Fatal(err)
	}
	carol := w.credential()
	carol.Issuer = "usr_carol"
	carolJWS := w.sign(p256, carol)
	ch, cp, cs := jwsParts(carolJWS)
	csig, _ := jwsB64.DecodeString(cs)
	csig[40] ^= 0x80

	unknownConstraint := editJSON(t, payloadOf(t, w.openPayment("")), func(m map[string]any) {
		m["constraints"] = append(m["constraints"].([]any), map[string]any{"type": "payment.teleport", "to": "mars"})
	})
	badConstraint := editJSON(t, payloadOf(t, w.openPayment("")), func(m map[string]any) {
		m["constraints"].([]any)[0].(map[string]any)["max"] = -5
	})
	long := w.credential()
	long.Expiry = long.IssuedAt + 500*86400

	typCred := KindAgentCredential.Typ()
	cases := []struct {
		name string
		raw  []byte
		aud  string
		want Code
	}{
		{"valid", cred, platformID, ""},
		{"valid within clock skew", w.sign(w.user, withinSkew), platformID, ""},
		{"valid ES256", carolJWS, platformID, ""},
		{"bad signature", []byte(badSig), platformID, CodeSignatureInvalid},
		{"bad ES256 signature", []byte(ch + "." + cp + "." + jwsB64.EncodeToString(csig)), platformID, CodeSignatureInvalid},
		{"payload changed after signing", []byte(h + "." + otherPayload + "." + s), platformID, CodeSignatureInvalid},
		{"signature of another key", forgeJWS(t, stranger, actHeader(w.user, typCred), credPayload), platformID, CodeSignatureInvalid},
		{"alg none", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"none","kid":%q,"typ":%q}`, w.user.KeyID(), typCred), credPayload), platformID, CodeAlgUnsupported},
		{"alg HS256", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"HS256","kid":%q,"typ":%q}`, w.user.KeyID(), typCred), credPayload), platformID, CodeAlgUnsupported},
		{"alg ES256 on an Ed25519 key", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"ES256","kid":%q,"typ":%q}`, w.user.KeyID(), typCred), credPayload), platformID, CodeAlgKeyMismatch},
		{"wrong typ", forgeJWS(t, w.user, actHeader(w.user, KindOpenPaymentMandate.Typ()), credPayload), platformID, CodeTypMismatch},
		{"typ of a kind the key may not sign", forgeJWS(t, w.user, actHeader(w.user, KindCheckout.Typ()), credPayload), platformID, CodeSignerNotAllowed},
		{"unknown typ", forgeJWS(t, w.user, actHeader(w.user, "JWT"), credPayload), platformID, CodeTypMismatch},
		{"wrong vct", forgeJWS(t, w.user, actHeader(w.user, typCred), editJSON(t, credPayload, func(m map[string]any) { m["vct"] = "act.checkout.1" })), platformID, CodeTypMismatch},
		{"newer version", forgeJWS(t, w.user, actHeader(w.user, typCred), editJSON(t, credPayload, func(m map[string]any) { m["vct"] = "act.agent_credential.2" })), platformID, CodeVersionUnsupported},
		{"wrong audience", cred, merchantID, CodeAudienceMismatch},
		{"expired", w.sign(w.user, expired), platformID, CodeExpired},
		{"not yet valid", w.sign(w.user, notYet), platformID, CodeNotYetValid},
		{"issued in the future", w.sign(w.user, future), platformID, CodeIssuedInFuture},
		{"lifetime too long", forgeJWS(t, w.user, actHeader(w.user, typCred), payloadOf(t, long)), platformID, CodeLifetimeTooLong},
		{"unknown key", w.sign(stranger, w.credential()), platformID, CodeKeyUnknown},
		{"revoked key", w.sign(revokedKey, bob), platformID, CodeKeyRevoked},
		{"revoked object", w.sign(w.user, revokedObj), platformID, CodeRevoked},
		{"issuer is not the key's party", w.sign(w.merchant, w.credential()), platformID, CodeSignerNotAllowed},
		{"iss of another user", forgeJWS(t, w.user, actHeader(w.user, typCred), editJSON(t, credPayload, func(m map[string]any) { m["iss"] = "usr_carol" })), platformID, CodeIssuerMismatch},
		{"agent signs an open mandate", w.sign(w.agent, w.openPayment("")), platformID, CodeSignerNotAllowed},
		{"unknown constraint type", forgeJWS(t, w.user, actHeader(w.user, KindOpenPaymentMandate.Typ()), unknownConstraint), platformID, CodeConstraintUnknown},
		{"malformed constraint", forgeJWS(t, w.user, actHeader(w.user, KindOpenPaymentMandate.Typ()), badConstraint), platformID, CodeConstraintInvalid},
		{"unknown member", forgeJWS(t, w.user, actHeader(w.user, typCred), editJSON(t, credPayload, func(m map[string]any) { m["admin"] = true })), platformID, CodePayloadInvalid},
		{"duplicate member", forgeJWS(t, w.user, actHeader(w.user, typCred), []byte(strings.Replace(string(credPayload), `"iss":"usr_alice"`, `"iss":"usr_alice","iss":"usr_alice"`, 1))), platformID, CodePayloadInvalid},
		{"upper-case member", forgeJWS(t, w.user, actHeader(w.user, typCred), []byte(strings.Replace(string(credPayload), `"iss"`, `"ISS"`, 1))), platformID, CodePayloadInvalid},
		{"null member", forgeJWS(t, w.user, actHeader(w.user, typCred), []byte(strings.Replace(string(credPayload), `"name":"Shopper"`, `"name":null`, 1))), platformID, CodePayloadInvalid},
		{"fractional time", forgeJWS(t, w.user, actHeader(w.user, typCred), editJSON(t, credPayload, func(m map[string]any) { m["iat"] = json.Number("1.5") })), platformID, CodePayloadInvalid},
		{"invalid UTF-8", forgeJWS(t, w.user, actHeader(w.user, typCred), []byte(strings.Replace(string(credPayload), "Shopper", "Shop\xffper", 1))), platformID, CodePayloadInvalid},
		{"trailing data", forgeJWS(t, w.user, actHeader(w.user, typCred), append(append([]byte{}, credPayload...), []byte(" {}")...)), platformID, CodePayloadInvalid},
		{"header with crit", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":%q,"crit":["exp"]}`, w.user.KeyID(), typCred), credPayload), platformID, CodeJWSHeaderInvalid},
		{"header with jwk", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"EdDSA","kid":%q,"typ":%q,"jwk":{}}`, w.user.KeyID(), typCred), credPayload), platformID, CodeJWSHeaderInvalid},
		{"header without kid", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"EdDSA","typ":%q}`, typCred), credPayload), platformID, CodeJWSHeaderInvalid},
		{"kid not a thumbprint", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"EdDSA","kid":"alice-1","typ":%q}`, typCred), credPayload), platformID, CodeJWSHeaderInvalid},
		{"header repeated alg", forgeJWS(t, w.user, fmt.Sprintf(`{"alg":"none","alg":"EdDSA","kid":%q,"typ":%q}`, w.user.KeyID(), typCred), credPayload), platformID, CodeJWSHeaderInvalid},
		{"two parts", []byte(h + "." + p), platformID, CodeJWSMalformed},
		{"four parts", []byte(string(cred) + ".x"), platformID, CodeJWSMalformed},
		{"empty signature", []byte(h + "." + p + "."), platformID, CodeJWSMalformed},
		{"padded base64", []byte(h + "." + p + "." + s + "=="), platformID, CodeJWSMalformed},
		{"standard base64", []byte(strings.NewReplacer("-", "+", "_", "/").Replace(h) + "+." + p + "." + s), platformID, CodeJWSMalformed},
		{"empty", nil, platformID, CodeJWSMalformed},
		{"too large", bytes.Repeat([]byte("a"), JWSBytesMax+1), platformID, CodeJWSTooLarge},
		{"deep JSON", forgeJWS(t, w.user, actHeader(w.user, typCred), []byte(strings.Repeat("[", 40)+strings.Repeat("]", 40))), platformID, CodeJWSTooLarge},
	}
	for _, c := range cases {
		_, err := VerifyObject(actCtx, w.vc(c.aud), c.raw)
		wantCode(t, c.name, err, c.want)
		if c.want != "" {
			var f *Failure
			if !errors.As(err, &f) || f.Err == nil {
				t.Errorf("%s: error %v is not a *Failure with a reason", c.name, err)
			}
		}
	}
	// The typed verifier refuses another kind by typ.
	_, err := VerifyCheckout(actCtx, w.vc(platformID), cred)
	wantCode(t, "checkout verifier on a credential", err, CodeTypMismatch)
}

func TestVerifyContextErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cred := w.sign(w.user, w.credential())
	for name, vc := range map[string]*VerifyContext{
		"nil":       nil,
		"no now":    {Audience: platformID, Keys: w.keys},
		"no aud":    {Now: testNow, Keys: w.keys},
		"no keys":   {Now: testNow, Audience: platformID},
		"huge skew": {Now: testNow, Audience: platformID, Keys: w.keys, ClockSkew: time.Hour},
	} {
		_, err := VerifyAgentCredential(actCtx, vc, cred)
		wantCode(t, name, err, CodeInternal)
		_, err = VerifyObject(actCtx, vc, []byte("not a jws"))
		wantCode(t, name+" (VerifyObject)", err, CodeInternal)
		_, err = VerifyPurchase(actCtx, vc, Purchase{})
		wantCode(t, name+" (VerifyPurchase)", err, CodeInternal)
	}
	if _, err := Sign(w.user, (*Checkout)(nil)); err == nil {
		t.Error("Sign accepted a nil object")
	}
	// A directory that fails is "verifier unavailable", not the object's fault.
	vc := w.vc(platformID)
	vc.Keys = failingDirectory{}
	_, err := VerifyAgentCredential(actCtx, vc, cred)
	wantCode(t, "failing directory", err, CodeVerifierUnavailable)
	// No clock skew at all: an object expired 30 s ago fails.
	c := w.credential()
	c.Expiry = testNow.Add(-30 * time.Second).Unix()
	vc = w.vc(platformID)
	vc.ClockSkew = -1
	_, err = VerifyAgentCredential(actCtx, vc, w.sign(w.user, c))
	wantCode(t, "no skew", err, CodeExpired)
}

type failingDirectory struct{}

func (failingDirectory) LookupKey(context.Context, string) (PartyKey, error) {
	return PartyKey{}, errors.New("database is down")
}

func TestVerifyPurchase(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	t.Run("human not present", func(t *testing.T) {
		p := w.hnpPurchase()
		vp, err := VerifyPurchase(actCtx, w.vc(platformID), p)
		if err != nil {
			t.Fatal(err)
		}
		if vp.Modality != HumanNotPresent || vp.Checkout.Claims.Total() != 8220 {
			t.Fatalf("modality %s total %d", vp.Modality, vp.Checkout.Claims.Total())
		}
		d := vp.Evaluate(PurchaseState{Now: testNow})
		if d.Outcome != OutcomeApprovalRequired || d.Code != CodeApprovalRequired {
			t.Fatalf("82.20 above the 80.00 threshold: got %s/%s, want approval_required", d.Outcome, d.Code)
		}
		d = vp.Evaluate(PurchaseState{Now: testNow, UserApproved: true})
		if d.Outcome != OutcomeAllow {
			t.Fatalf("approved purchase: %s %s: %+v", d.Outcome, d.Code, d.Checks)
		}
		if len(d.Checks) != 11 {
			t.Errorf("%d checks, want 3 checkout + 8 payment", len(d.Checks))
		}
		d = vp.Evaluate(PurchaseState{Now: testNow, UserApproved: true, Usage: UsageState{SpentMonth: 15000, SpentTotal: 15000, Uses: 2}})
		if d.Outcome != OutcomeDeny || d.Code != CodeBudgetExceeded {
			t.Fatalf("over the monthly budget: got %s/%s", d.Outcome, d.Code)
		}
	})

	t.Run("human present", func(t *testing.T) {
		vp, err := VerifyPurchase(actCtx, w.vc(platformID), w.hpPurchase())
		if err != nil {
			t.Fatal(err)
		}
		if vp.Modality != HumanPresent || vp.OpenPaymentMandate != nil {
			t.Fatal("human-present purchase verified as human not present")
		}
		if d := vp.Evaluate(PurchaseState{Now: testNow}); d.Outcome != OutcomeAllow {
			t.Fatalf("human-present purchase: %s", d.Outcome)
		}
	})

	agent2 := seedKey(t, "agent2")
	cases := []struct {
		name  string
		edit  func(w *world, p *Purchase)
		want  Code
		param string
	}{
		{"valid", func(w *world, p *Purchase) {}, "", ""},
		{"changed amount", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			p.PaymentMandate = w.sign(w.agent, w.closedPayment(co, usd(8000), HashJWS(p.OpenPaymentMandate)))
		}, CodeAmountMismatch, "payment_mandate.payment_amount.amount"},
		{"changed currency", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			p.PaymentMandate = w.sign(w.agent, w.closedPayment(co, Money{Amount: 8220, Currency: "EUR", Scale: 2}, HashJWS(p.OpenPaymentMandate)))
		}, CodeCurrencyMismatch, "payment_mandate.payment_amount"},
		{"changed merchant", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			pm := w.closedPayment(co, usd(8220), HashJWS(p.OpenPaymentMandate))
			pm.Payee = Merchant{ID: merchant2ID}
			p.PaymentMandate = w.sign(w.agent, pm)
		}, CodeMerchantMismatch, "payment_mandate.payee.id"},
		{"payment for another checkout", func(w *world, p *Purchase) {
			other := w.checkout()
			other.ID = "co_2002"
			co2 := w.sign(w.merchant, other)
			p.PaymentMandate = w.sign(w.agent, w.closedPayment(co2, usd(8220), HashJWS(p.OpenPaymentMandate)))
		}, CodeCheckoutHashMismatch, "payment_mandate.transaction_id"},
		{"closed mandate not matching its checkout hash", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			cm := w.closedCheckout(co, HashJWS(p.OpenCheckoutMandate))
			cm.CheckoutHash = HashJWS([]byte("another checkout"))
			p.CheckoutMandate = forgeJWS(t, w.agent, actHeader(w.agent, KindClosedCheckoutMandate.Typ()), payloadOf(t, cm))
		}, CodeCheckoutHashMismatch, "checkout_mandate.checkout_hash"},
		{"checkout swapped inside the closed mandate", func(w *world, p *Purchase) {
			other := w.checkout()
			other.LineItems[1].Item.Quantity, other.LineItems[1].BaseAmount, other.LineItems[1].Subtotal, other.LineItems[1].Total = 1, 450, 450, 450
			other.Totals = []Total{{Type: TotalSubtotal, Amount: 6950}, {Type: TotalTax, Amount: 520}, {Type: TotalFulfillment, Amount: 300}, {Type: TotalTotal, Amount: 7770}}
			co2 := w.sign(w.merchant, other)
			cm := w.closedCheckout(w.embeddedCheckout(p.CheckoutMandate), HashJWS(p.OpenCheckoutMandate))
			cm.CheckoutJWT = string(co2) // hash still of the first checkout
			p.CheckoutMandate = forgeJWS(t, w.agent, actHeader(w.agent, KindClosedCheckoutMandate.Typ()), payloadOf(t, cm))
		}, CodeCheckoutHashMismatch, "checkout_mandate.checkout_hash"},
		{"checkout expired", func(w *world, p *Purchase) {
			c := w.checkout()
			c.IssuedAt, c.Expiry = testNow.Add(-3*time.Hour).Unix(), testNow.Add(-time.Hour).Unix()
			co := w.sign(w.merchant, c)
			p.CheckoutMandate = w.sign(w.agent, w.closedCheckout(co, HashJWS(p.OpenCheckoutMandate)))
			p.PaymentMandate = w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(p.OpenPaymentMandate)))
		}, CodeExpired, "checkout_mandate.checkout_jwt.exp"},
		{"checkout signed by another merchant", func(w *world, p *Purchase) {
			c := w.checkout()
			c.Issuer, c.Merchant = merchant2ID, Merchant{ID: merchant2ID}
			co := w.sign(w.merchant2, c)
			p.CheckoutMandate = w.sign(w.agent, w.closedCheckout(co, HashJWS(p.OpenCheckoutMandate)))
			p.PaymentMandate = w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(p.OpenPaymentMandate)))
		}, CodeMerchantMismatch, "payment_mandate.payee.id"},
		{"open mandate expired", func(w *world, p *Purchase) {
			o := w.openCheckout()
			o.IssuedAt, o.Expiry = testNow.Add(-72*time.Hour).Unix(), testNow.Add(-time.Hour).Unix()
			p.OpenCheckoutMandate = w.sign(w.user, o)
		}, CodeExpired, "open_checkout_mandate.exp"},
		{"open mandate revoked", func(w *world, p *Purchase) {
			v, err := VerifyOpenPaymentMandate(actCtx, w.vc(platformID), p.OpenPaymentMandate)
			if err != nil {
				t.Fatal(err)
			}
			w.revocations.Revoke(userID, v.Claims.ID)
		}, CodeRevoked, "open_payment_mandate.jti"},
		{"closed mandate of another open mandate", func(w *world, p *Purchase) {
			p.OpenCheckoutMandate = w.sign(w.user, w.openCheckout())
		}, CodeMandateHashMismatch, "checkout_mandate.open_mandate_hash"},
		{"only one open mandate", func(w *world, p *Purchase) { p.OpenCheckoutMandate = nil }, CodeClaimsInvalid, "open_payment_mandate"},
		{"closed mandate by another agent", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			cm := w.closedCheckout(co, HashJWS(p.OpenCheckoutMandate))
			cm.Issuer = "agt_other"
			p.CheckoutMandate = w.sign(agent2, cm)
		}, CodeAgentKeyMismatch, "checkout_mandate.header.kid"},
		{"human-not-present mandate signed by the user", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			cm := w.closedCheckout(co, HashJWS(p.OpenCheckoutMandate))
			cm.Issuer = userID
			p.CheckoutMandate = w.sign(w.user, cm)
		}, CodeSignerNotAllowed, "checkout_mandate.header.kid"},
		{"other payment instrument", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			pm := w.closedPayment(co, usd(8220), HashJWS(p.OpenPaymentMandate))
			pm.PaymentInstrument.ID = "wal_someone_else"
			p.PaymentMandate = w.sign(w.agent, pm)
		}, CodeInstrumentMismatch, "payment_mandate.payment_instrument"},
		{"closed mandate lives too long", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			pm := w.closedPayment(co, usd(8220), HashJWS(p.OpenPaymentMandate))
			pm.Expiry = pm.IssuedAt + 2*3600
			p.PaymentMandate = forgeJWS(t, w.agent, actHeader(w.agent, KindClosedPaymentMandate.Typ()), payloadOf(t, pm))
		}, CodeLifetimeTooLong, "payment_mandate.exp"},
		{"closed payment mandate has a wrong audience", func(w *world, p *Purchase) {
			co := w.embeddedCheckout(p.CheckoutMandate)
			pm := w.closedPayment(co, usd(8220), HashJWS(p.OpenPaymentMandate))
			pm.Audience = Audience{merchantID}
			p.PaymentMandate = w.sign(w.agent, pm)
		}, CodeAudienceMismatch, "payment_mandate.aud"},
	}
	for _, c := range cases {
		w := newWorld(t)
		if err := w.keys.Add("agt_other", PartyAgent, agent2.PublicKey()); err != nil {
			t.Fatal(err)
		}
		p := w.hnpPurchase()
		c.edit(w, &p)
		_, err := VerifyPurchase(actCtx, w.vc(platformID), p)
		wantCode(t, c.name, err, c.want)
		var f *Failure
		if c.want != "" && errors.As(err, &f) && f.Param != c.param {
			t.Errorf("%s: param %q, want %q", c.name, f.Param, c.param)
		}
	}

	// Human present: an open mandate presented with it is a confusion.
	hp := w.hpPurchase()
	hnp := w.hnpPurchase()
	hp.OpenCheckoutMandate, hp.OpenPaymentMandate = hnp.OpenCheckoutMandate, hnp.OpenPaymentMandate
	_, err := VerifyPurchase(actCtx, w.vc(platformID), hp)
	wantCode(t, "human present with open mandates", err, CodeMandateHashMismatch)
	// Human present signed by the agent.
	co := w.sign(w.merchant, w.checkout())
	cm := w.closedCheckout(co, "")
	cm.Issuer = agentID
	_, err = VerifyPurchase(actCtx, w.vc(platformID), Purchase{CheckoutMandate: w.sign(w.agent, cm), PaymentMandate: w.sign(w.user, w.closedPayment(co, usd(8220), ""))})
	wantCode(t, "human present signed by the agent", err, CodeSignerNotAllowed)
}

// embeddedCheckout returns the checkout JWS inside a closed checkout
// mandate.
func (w *world) embeddedCheckout(cm []byte) []byte {
	w.tb.Helper()
	_, p, _ := jwsParts(cm)
	b, err := jwsB64.DecodeString(p)
	if err != nil {
		w.tb.Fatal(err)
	}
	var m ClosedCheckoutMandate
	if err := json.Unmarshal(b, &m); err != nil {
		w.tb.Fatal(err)
	}
	return []byte(m.CheckoutJWT)
}

func TestTraceReportsEveryCheck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var got []string
	vc := w.vc(platformID)
	vc.Trace = func(check, detail string, err error) {
		got = append(got, fmt.Sprintf("%s:%v", check, err == nil))
	}
	if _, err := VerifyAgentCredential(actCtx, vc, w.sign(w.user, w.credential())); err != nil {
		t.Fatal(err)
	}
	want := "jws:true typ:true key:true signature:true payload:true issuer:true audience:true time:true rules:true revocation:true"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("trace\n got %s\nwant %s", s, want)
	}
}

func TestKeysNeverPrintThemselves(t *testing.T) {
	t.Parallel()
	k := seedKey(t, "secret")
	seedHex := fmt.Sprintf("%x", k.Seed())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, v := range []any{k, *k} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, seedHex[:16]) || strings.Contains(strings.ToLower(out), seedHex[:16]) || !strings.Contains(out, k.KeyID()) {
				t.Errorf("%s of the key prints %q", verb, out)
			}
		}
	}
	if _, err := json.Marshal(k); err == nil {
		t.Error("json.Marshal of a private key succeeded")
	}
	if _, err := json.Marshal(struct{ K *Ed25519PrivateKey }{k}); err == nil {
		t.Error("json.Marshal of a struct holding a private key succeeded")
	}
	// A private key is a crypto.Signer and a RequestSigner.
	var _ RequestSigner = k
	sig, err := k.Sign(nil, []byte("m"), nil)
	if err != nil || !k.PublicKey().Verify(AlgEdDSA, []byte("m"), sig) {
		t.Fatalf("crypto.Signer Sign: %v", err)
	}
	if k2, err := NewEd25519PrivateKey(k.Seed()); err != nil || !k2.PublicKey().Equal(k.PublicKey()) {
		t.Fatal("seed round trip")
	}
}

func TestPublicKey(t *testing.T) {
	t.Parallel()
	k := seedKey(t, "pk")
	p := k.PublicKey()
	if p.Algorithm() != AlgEdDSA || p.KeyID() == "" || p.IsZero() {
		t.Fatal(p)
	}
	tp, err := Thumbprint(p.CryptoPublicKey())
	if err != nil || tp != p.KeyID() {
		t.Fatalf("kid %s, thumbprint %s, %v", p.KeyID(), tp, err)
	}
	if (PublicKey{}).Verify(AlgEdDSA, nil, make([]byte, 64)) {
		t.Fatal("zero key verified")
	}
	if _, err := NewPublicKey("not a key"); err == nil {
		t.Fatal("NewPublicKey accepted a string")
	}
	es := newES256Signer(t, "pk")
	sig, _ := es.SignMessage([]byte("m"))
	if !es.PublicKey().Verify(AlgES256, []byte("m"), sig) || es.PublicKey().Verify(AlgEdDSA, []byte("m"), sig) {
		t.Fatal("ES256 verify")
	}
}

func TestHashIsOverExactBytes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	co := w.sign(w.merchant, w.checkout())
	v, err := VerifyCheckout(actCtx, w.vc(platformID), co)
	if err != nil {
		t.Fatal(err)
	}
	// Re-serializing the claims gives other bytes; the hash is of the received ones.
	again := w.sign(w.merchant, v.Claims)
	if v.Hash != HashJWS(co) {
		t.Fatal("hash is not of the received bytes")
	}
	if !bytes.Equal(again, co) && HashJWS(again) == v.Hash {
		t.Fatal("hash collision between different bytes")
	}
	if len(v.Hash) != 43 {
		t.Fatalf("hash %q is not 43 base64url characters", v.Hash)
	}
}

func TestKindTables(t *testing.T) {
	t.Parallel()
	typs, vcts := map[string]bool{}, map[string]bool{}
	for _, k := range Kinds() {
		spec := kindSpecs[k]
		if spec == nil || spec.kind != k {
			t.Fatalf("kind %s has no spec", k)
		}
		if typs[k.Typ()] || vcts[k.VCT()] {
			t.Errorf("kind %s repeats a typ or vct", k)
		}
		typs[k.Typ()], vcts[k.VCT()] = true, true
		if !strings.HasSuffix(k.VCT(), fmt.Sprintf(".%d", ProtocolVersion)) {
			t.Errorf("%s vct %s lacks the protocol version", k, k.VCT())
		}
		if got, ok := KindOfTyp(k.Typ()); !ok || got != k {
			t.Errorf("KindOfTyp(%s) = %s", k.Typ(), got)
		}
	}
	if len(kindSpecs) != len(Kinds()) {
		t.Error("Kinds() and kindSpecs disagree")
	}
}

func TestMoneyString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m    Money
		want string
	}{
		{usd(8220), "82.20 USD"}, {usd(5), "0.05 USD"}, {Money{Amount: 7, Currency: "JPY"}, "7 JPY"},
		{Money{Amount: -150, Currency: "USD", Scale: 2}, "-1.50 USD"}, {Money{Amount: 1, Currency: "TOK", Scale: 9}, "0.000000001 TOK"},
	} {
		if got := c.m.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.m, got, c.want)
		}
	}
	// Any amount at any scale: the decimal fmt would write.
	rapid.Check(t, func(t *rapid.T) {
		m := Money{Amount: rapid.OneOf(rapid.Int64(), rapid.Int64Range(-1000, 1000)).Draw(t, "amount"),
			Scale: rapid.Uint8Range(0, 40).Draw(t, "scale"), Currency: "USD"}
		u := uint64(m.Amount)
		sign := ""
		if m.Amount < 0 {
			u, sign = -u, "-"
		}
		digits := fmt.Sprintf("%0*d", int(m.Scale)+1, u)
		want := digits
		if m.Scale > 0 {
			want = digits[:len(digits)-int(m.Scale)] + "." + digits[len(digits)-int(m.Scale):]
		}
		if want = sign + want + " USD"; m.String() != want {
			t.Fatalf("%+v: %q, want %q", m, m.String(), want)
		}
	})
}

func TestAudienceForms(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{`"a"`: 1, `["a","b"]`: 2, `[]`: 0} {
		var a Audience
		if err := json.Unmarshal([]byte(in), &a); err != nil || len(a) != want {
			t.Errorf("%s: %v %v", in, a, err)
		}
	}
	for _, bad := range []string{`1`, `{"a":1}`, `[1]`} {
		var a Audience
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	b, _ := json.Marshal(Audience{"x"})
	c, _ := json.Marshal(Audience{"x", "y"})
	if string(b) != `"x"` || string(c) != `["x","y"]` {
		t.Errorf("%s %s", b, c)
	}
}

// TestParsedObject: a parsed object verifies as the bytes it was parsed
// from, whatever happens to the caller's buffer afterwards; its payload
// is offered unverified only when it is strict JSON of its kind; and a
// failure found while parsing is reported where verification reaches it
// (a payload that is not strict JSON under a bad signature fails as a bad
// signature).
func TestParsedObject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	co := w.sign(w.merchant, w.checkout())
	pm := w.sign(w.user, w.closedPayment(co, usd(8220), ""))
	buf := bytes.Clone(pm)
	parsed := Parse[ClosedPaymentMandate](buf)
	c, ok := parsed.Unverified()
	if !ok || c.PaymentAmount.Amount != 8220 {
		t.Fatalf("unverified payload: %+v, %v", c, ok)
	}
	// The caller reuses its buffer: the parsed object is unaffected.
	for i := range buf {
		buf[i] = 'A'
	}
	v, err := VerifyParsedClosedPaymentMandate(actCtx, w.vc(platformID), parsed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Raw, pm) || v.Hash != HashJWS(pm) || v.Claims.PaymentAmount.Amount != 8220 {
		t.Fatalf("verified %q (hash %s), want the bytes parsed", v.Raw, v.Hash)
	}

	// A payload with an unknown member, signed: not offered, refused as
	// payload_invalid after the signature; unsigned: signature_invalid.
	h, p, _ := jwsParts(pm)
	payload, err := jwsB64.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	extra := editJSON(t, payload, func(m map[string]any) { m["extra"] = 1 })
	signed := forgeJWS(t, w.user, actHeader(w.user, KindClosedPaymentMandate.Typ()), extra)
	if _, ok := Parse[ClosedPaymentMandate](signed).Unverified(); ok {
		t.Error("a payload with an unknown member was offered")
	}
	_, err = VerifyParsedClosedPaymentMandate(actCtx, w.vc(platformID), Parse[ClosedPaymentMandate](signed), nil)
	wantCode(t, "unknown member, signed", err, CodePayloadInvalid)
	_, _, sig := jwsParts(pm)
	unsigned := []byte(h + "." + jwsB64.EncodeToString(extra) + "." + sig)
	_, err = VerifyParsedClosedPaymentMandate(actCtx, w.vc(platformID), Parse[ClosedPaymentMandate](unsigned), nil)
	wantCode(t, "unknown member, not signed", err, CodeSignatureInvalid)
	// Another kind's payload: typ first, then vct after the signature.
	_, err = VerifyParsedClosedPaymentMandate(actCtx, w.vc(platformID), Parse[ClosedPaymentMandate](co), nil)
	wantCode(t, "a checkout", err, CodeTypMismatch)
	if _, ok := Parse[ClosedPaymentMandate]([]byte("not.a.jws.at.all")).Unverified(); ok {
		t.Error("a malformed JWS was offered")
	}
}
