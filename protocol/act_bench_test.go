package protocol

import (
	"testing"
)

// Benchmarks of signing and verifying each ACT object, each reporting
// µs/op as a metric. One Ed25519 verification costs about 50 µs on the
// project machines, so a verify benchmark near that is dominated by the
// signature and the rest (framing, key lookup, strict JSON, rules) is the
// difference. Run with:
//
//	go test -run x -bench 'Sign|Verify' ./protocol/

func reportActMicros(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
}

type benchObject struct {
	name   string
	signer Signer
	obj    Object
	aud    string
}

func benchObjects(b *testing.B) (*world, []benchObject) {
	w := newWorld(b)
	co := w.sign(w.merchant, w.checkout())
	oc := w.sign(w.user, w.openCheckout())
	op := w.sign(w.user, w.openPayment(HashJWS(oc)))
	pm := w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(op)))
	rf := w.sign(w.merchant, w.refund(co))
	return w, []benchObject{
		{"AgentCredential", w.user, w.credential(), platformID},
		{"OpenCheckoutMandate", w.user, w.openCheckout(), platformID},
		{"OpenPaymentMandate", w.user, w.openPayment(HashJWS(oc)), platformID},
		{"Checkout", w.merchant, w.checkout(), platformID},
		{"ClosedCheckoutMandate", w.agent, w.closedCheckout(co, HashJWS(oc)), platformID},
		{"ClosedPaymentMandate", w.agent, w.closedPayment(co, usd(8220), HashJWS(op)), platformID},
		{"Receipt", w.platform, w.receipt(pm), agentID},
		{"OrderAttestation", w.platform, w.orderAttestation(co, pm), merchantID},
		{"Refund", w.merchant, w.refund(co), platformID},
		{"Adjustment", w.merchant, w.adjustment(rf), platformID},
		{"PriceAttestation", w.oracle, w.priceAttestation(6500), platformID},
	}
}

func BenchmarkSignObject(b *testing.B) {
	_, objs := benchObjects(b)
	for _, o := range objs {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(o.signer, o.obj); err != nil {
					b.Fatal(err)
				}
			}
			reportActMicros(b)
		})
	}
}

func BenchmarkVerifyObject(b *testing.B) {
	w, objs := benchObjects(b)
	for _, o := range objs {
		raw := w.sign(o.signer, o.obj)
		vc := w.vc(o.aud)
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := VerifyObject(actCtx, vc, raw); err != nil {
					b.Fatal(err)
				}
			}
			reportActMicros(b)
		})
	}
}

// BenchmarkVerifyPurchase verifies a whole human-not-present purchase
// (five signatures: two open mandates, two closed ones, the checkout) and
// evaluates its constraints: the platform's cost per agent payment.
func BenchmarkVerifyPurchase(b *testing.B) {
	w := newWorld(b)
	p := w.hnpPurchase()
	vc := w.vc(platformID)
	b.ReportAllocs()
	for b.Loop() {
		vp, err := VerifyPurchase(actCtx, vc, p)
		if err != nil {
			b.Fatal(err)
		}
		if d := vp.Evaluate(PurchaseState{Now: testNow, UserApproved: true}); d.Outcome != OutcomeAllow {
			b.Fatal(d.Outcome)
		}
	}
	reportActMicros(b)
}

// BenchmarkEvaluate is constraint evaluation alone.
func BenchmarkEvaluate(b *testing.B) {
	w := newWorld(b)
	m := w.openPayment(HashJWS([]byte("x")))
	in := EvalInput{Now: testNow, Payment: payment(8220, merchantID), OpenCheckoutMandateHash: HashJWS([]byte("x")),
		State: UsageState{SpentMonth: 100, SpentTotal: 100}, UserApproved: true}
	b.ReportAllocs()
	for b.Loop() {
		if d := m.Evaluate(in); d.Outcome != OutcomeAllow {
			b.Fatal(d.Outcome, d.Checks)
		}
	}
	reportActMicros(b)
}

// BenchmarkClosedPaymentMandate is what every wallet payment does with
// its closed payment mandate: Parse alone, and Parse with
// VerifyParsedClosedPaymentMandate against the verified open mandate
// (human not present), serially and from parallel callers (whose
// signatures are verified in batches).
func BenchmarkClosedPaymentMandate(b *testing.B) {
	w := newWorld(b)
	vc := w.vc(platformID)
	oc := w.sign(w.user, w.openCheckout())
	co := w.sign(w.merchant, w.checkout())
	opRaw := w.sign(w.user, w.openPayment(HashJWS(oc)))
	op, err := VerifyOpenPaymentMandate(actCtx, vc, opRaw)
	if err != nil {
		b.Fatal(err)
	}
	pm := w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(opRaw)))
	verify := func() {
		if _, err := VerifyParsedClosedPaymentMandate(actCtx, vc, Parse[ClosedPaymentMandate](pm), op); err != nil {
			b.Fatal(err)
		}
	}
	verify() // the agent's key is expanded after its first uses
	verify()
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := Parse[ClosedPaymentMandate](pm).Unverified(); !ok {
				b.Fatal("not parsed")
			}
		}
		reportActMicros(b)
	})
	b.Run("Decode", func(b *testing.B) {
		cj, err := parseCompact(pm)
		if err != nil {
			b.Fatal(err)
		}
		payload, err := jwsB64.DecodeString(string(cj.payloadB64))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var m ClosedPaymentMandate
			if err := decodeStrict(payload, &m); err != nil {
				b.Fatal(err)
			}
		}
		reportActMicros(b)
	})
	b.Run("ParseVerify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify()
		}
		reportActMicros(b)
	})
	b.Run("ParseVerifyParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				verify()
			}
		})
		reportActMicros(b)
	})
}
