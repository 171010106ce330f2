package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// Fuzz targets for every ACT decoder and verifier. Each must never panic
// and must return either an error carrying a registered code or a valid
// object. Run one with, for example:
//
//	go test -run x -fuzz FuzzVerifyObject -fuzztime 10s ./protocol/

// fuzzWorld is built once per target (keys are deterministic).
func fuzzWorld(f *testing.F) *world { return newWorld(f) }

// checkFuzzResult asserts the contract on a verification result.
func checkFuzzResult(t *testing.T, raw []byte, v *VerifiedObject, err error) {
	t.Helper()
	if err != nil {
		var fl *Failure
		if !errors.As(err, &fl) {
			t.Fatalf("error is not a *Failure: %v", err)
		}
		if _, ok := fl.Code.Info(); !ok {
			t.Fatalf("unregistered code %q", fl.Code)
		}
		if v != nil {
			t.Fatal("both an object and an error")
		}
		return
	}
	if v == nil || v.Object == nil {
		t.Fatal("no error and no object")
	}
	if v.Hash != HashJWS(raw) || !bytes.Equal(v.Raw, raw) {
		t.Fatal("hash or raw is not of the received bytes")
	}
	spec := kindSpecs[v.Kind]
	if err := v.Object.claims().check(spec); err != nil {
		t.Fatalf("accepted object breaks its claims rules: %v", err)
	}
	if err := v.Object.validate(); err != nil {
		t.Fatalf("accepted object breaks its rules: %v", err)
	}
}

// seedAll adds one valid object of every kind.
func seedAll(f *testing.F, w *world) {
	co := w.sign(w.merchant, w.checkout())
	oc := w.sign(w.user, w.openCheckout())
	op := w.sign(w.user, w.openPayment(HashJWS(oc)))
	pm := w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(op)))
	rf := w.sign(w.merchant, w.refund(co))
	for _, b := range [][]byte{
		w.sign(w.user, w.credential()), oc, op, co, w.sign(w.agent, w.closedCheckout(co, HashJWS(oc))), pm,
		w.sign(w.platform, w.receipt(pm)), w.sign(w.platform, w.orderAttestation(co, pm)), rf,
		w.sign(w.merchant, w.adjustment(rf)), w.sign(w.oracle, w.priceAttestation(6500)),
	} {
		f.Add(b)
	}
	f.Add([]byte("a.b.c"))
	f.Add([]byte(""))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
}

// FuzzVerifyObject feeds arbitrary bytes to the verifier of every kind
// (VerifyObject dispatches on typ, and each typed verifier is called
// too).
func FuzzVerifyObject(f *testing.F) {
	w := fuzzWorld(f)
	seedAll(f, w)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, aud := range []string{platformID, merchantID, agentID} {
			vc := w.vc(aud)
			v, err := VerifyObject(actCtx, vc, raw)
			checkFuzzResult(t, raw, v, err)
		}
		vc := w.vc(platformID)
		_, _ = VerifyAgentCredential(actCtx, vc, raw)
		_, _ = VerifyOpenCheckoutMandate(actCtx, vc, raw)
		_, _ = VerifyOpenPaymentMandate(actCtx, vc, raw)
		_, _ = VerifyCheckout(actCtx, vc, raw)
		_, _ = VerifyReceipt(actCtx, vc, raw)
		_, _ = VerifyOrderAttestation(actCtx, vc, raw)
		_, _ = VerifyRefund(actCtx, vc, raw)
		_, _ = VerifyAdjustment(actCtx, vc, raw)
		_, _ = VerifyPriceAttestation(actCtx, vc, raw)
		_, _, _ = VerifyClosedCheckoutMandate(actCtx, vc, raw, nil)
		_, _ = VerifyClosedPaymentMandate(actCtx, vc, raw, nil)
	})
}

// FuzzVerifySignedPayload signs arbitrary payloads with a valid header
// for each kind, so the fuzzer reaches the payload decoder and every
// object's rules behind a good signature.
func FuzzVerifySignedPayload(f *testing.F) {
	w := fuzzWorld(f)
	co := w.sign(w.merchant, w.checkout())
	oc := w.sign(w.user, w.openCheckout())
	op := w.sign(w.user, w.openPayment(HashJWS(oc)))
	pm := w.closedPayment(co, usd(8220), HashJWS(op))
	seeds := []struct {
		kind Kind
		obj  Object
	}{
		{KindAgentCredential, w.credential()}, {KindOpenCheckoutMandate, w.openCheckout()},
		{KindOpenPaymentMandate, w.openPayment(HashJWS(oc))}, {KindCheckout, w.checkout()},
		{KindClosedCheckoutMandate, w.closedCheckout(co, HashJWS(oc))}, {KindClosedPaymentMandate, pm},
		{KindReceipt, w.receipt(co)}, {KindOrderAttestation, w.orderAttestation(co, co)},
		{KindRefund, w.refund(co)}, {KindAdjustment, w.adjustment(co)}, {KindPriceAttestation, w.priceAttestation(1)},
	}
	kinds := Kinds()
	for _, s := range seeds {
		idx := 0
		for i, k := range kinds {
			if k == s.kind {
				idx = i
			}
		}
		f.Add(uint8(idx), payloadOf(f, s.obj))
	}
	signers := map[Kind]Signer{
		KindAgentCredential: w.user, KindOpenCheckoutMandate: w.user, KindOpenPaymentMandate: w.user,
		KindClosedCheckoutMandate: w.agent, KindClosedPaymentMandate: w.agent, KindCheckout: w.merchant,
		KindReceipt: w.platform, KindOrderAttestation: w.platform, KindRefund: w.merchant,
		KindAdjustment: w.merchant, KindPriceAttestation: w.oracle,
	}
	f.Fuzz(func(t *testing.T, k uint8, payload []byte) {
		kind := kinds[int(k)%len(kinds)]
		s := signers[kind]
		raw := forgeJWS(t, s, actHeader(s, kind.Typ()), payload)
		for _, aud := range []string{platformID, merchantID, agentID} {
			v, err := VerifyObject(actCtx, w.vc(aud), raw)
			checkFuzzResult(t, raw, v, err)
			if err == nil {
				// An accepted object re-signs and verifies again.
				again, err := Sign(s, v.Object)
				if err != nil {
					t.Fatalf("accepted %s does not re-sign: %v", kind, err)
				}
				if _, err := VerifyObject(actCtx, w.vc(aud), again); err != nil {
					t.Fatalf("re-signed %s does not verify: %v", kind, err)
				}
			}
		}
	})
}

// FuzzVerifyPurchase mutates the four parts of a purchase.
func FuzzVerifyPurchase(f *testing.F) {
	w := fuzzWorld(f)
	p := w.hnpPurchase()
	f.Add(p.CheckoutMandate, p.PaymentMandate, p.OpenCheckoutMandate, p.OpenPaymentMandate)
	hp := w.hpPurchase()
	f.Add(hp.CheckoutMandate, hp.PaymentMandate, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, cm, pm, oc, op []byte) {
		vp, err := VerifyPurchase(actCtx, w.vc(platformID), Purchase{cm, pm, oc, op})
		if err != nil {
			if CodeOf(err) == CodeInternal {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		if vp.PaymentMandate.Claims.PaymentAmount != vp.Checkout.Claims.Money() ||
			vp.PaymentMandate.Claims.TransactionID != vp.Checkout.Hash {
			t.Fatal("accepted a purchase whose payment does not match its checkout")
		}
		d := vp.Evaluate(PurchaseState{Now: testNow})
		if d.Outcome == "" {
			t.Fatal("no outcome")
		}
	})
}

// FuzzParseHeader fuzzes the header decoder.
func FuzzParseHeader(f *testing.F) {
	w := fuzzWorld(f)
	seedAll(f, w)
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := ParseHeader(raw)
		if err != nil {
			if CodeOf(err) == CodeInternal {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		if (h.Alg != AlgEdDSA && h.Alg != AlgES256) || !isThumbprint(h.Kid) || h.Typ == "" {
			t.Fatalf("accepted header %+v", h)
		}
	})
}

// FuzzConstraints fuzzes the constraints decoder and evaluation.
func FuzzConstraints(f *testing.F) {
	w := fuzzWorld(f)
	for _, cs := range []Constraints{w.openCheckout().Constraints, w.openPayment(HashJWS(nil)).Constraints} {
		b, err := json.Marshal(cs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(8220), int64(100))
	}
	f.Add([]byte(`[{"type":"payment.teleport"}]`), int64(1), int64(0))
	f.Add([]byte(`[{"type":"payment.allowed_categories","categories":["weather","news"]}]`), int64(1), int64(0))
	co := w.checkout()
	f.Fuzz(func(t *testing.T, data []byte, amount, spent int64) {
		var cs Constraints
		if err := json.Unmarshal(data, &cs); err != nil {
			// Invalid JSON never reaches the decoder; valid JSON must fail
			// with a constraint code.
			if c := CodeOf(err); json.Valid(data) && c != CodeConstraintInvalid && c != CodeConstraintUnknown {
				t.Fatalf("decoder error with code %s: %v", c, err)
			}
			return
		}
		for _, c := range cs {
			if c == nil {
				t.Fatal("decoded a nil constraint")
			}
		}
		// Evaluation never panics, even on constraints that would not validate.
		pf := payment(amount, merchantID)
		pf.PayeeCategory = "weather"
		in := EvalInput{Now: testNow, Checkout: co, Payment: pf,
			State: UsageState{SpentTotal: spent, SpentDay: spent, SpentMonth: spent, Uses: spent}}
		d := Evaluate("fuzz", cs, in)
		if len(d.Checks) != len(cs) {
			t.Fatalf("%d checks for %d constraints", len(d.Checks), len(cs))
		}
		if _, _, err := checkConstraints(cs, "payment."); err == nil {
			b, err := json.Marshal(cs)
			if err != nil {
				t.Fatal(err)
			}
			var back Constraints
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("valid constraints do not round-trip: %v", err)
			}
		}
	})
}

// FuzzDecodeStrict fuzzes the strict JSON decoder.
func FuzzDecodeStrict(f *testing.F) {
	w := fuzzWorld(f)
	f.Add(payloadOf(f, w.checkout()))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"a":{"b":1,"c":{"b":2}},"b":{"a":1},"c":[{"a":1},{"a":2}],"a":3}`))
	f.Add([]byte(`{"a":{"b":1},"c":[{"d":1,"d":2}]}`))
	f.Add([]byte(`{"A":1}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v Checkout
		err := decodeStrict(data, &v)
		shapeErr := checkJSONShape(data)
		if err == nil && shapeErr != nil {
			t.Fatalf("decoded despite shape error %v", shapeErr)
		}
		var anyV any
		if err == nil && json.Unmarshal(data, &anyV) != nil {
			t.Fatal("strict decoder accepted invalid JSON")
		}
		// Repeated member names, found by encoding/json's tokens, are
		// refused by the shape check, at any depth.
		if json.Valid(data) && repeatsMember(data) && shapeErr == nil {
			t.Fatalf("shape check accepted a repeated member in %q", data)
		}
	})
}

// repeatsMember reports whether valid JSON data has an object with a
// member name twice, found through encoding/json's tokens.
func repeatsMember(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		wantKey bool
		seen    map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.wantKey = true
				}
				stack = append(stack, &frame{object: v == '{', wantKey: v == '{', seen: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.wantKey {
				if top.seen[v] {
					return true
				}
				top.seen[v] = true
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.object {
			top.wantKey = true
		}
	}
}
