package risk

import "testing"

// BenchmarkEvaluate evaluates the default platform rules plus two wallet
// rules against one payment, as the wallet does on every payment.
func BenchmarkEvaluate(b *testing.B) {
	platform, err := CompileAll(DefaultPlatformRules())
	if err != nil {
		b.Fatal(err)
	}
	wallet, err := CompileAll([]Rule{
		rule("w.night", "wallet_1", `payment.hour_utc < 6 && payment.amount > 5000`, OutcomeStepUp, "night_payment", 1),
		rule("w.channel", "wallet_1", `"channel" in payment.metadata && payment.metadata["channel"] == "voice"`, OutcomeReview, "voice_channel", 2),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("default", func(b *testing.B) {
		f := baseFeatures()
		b.ReportAllocs()
		for b.Loop() {
			if d := Evaluate(f, platform, nil); d.Outcome != OutcomeApprove {
				b.Fatal(d)
			}
		}
	})
	b.Run("default+wallet", func(b *testing.B) {
		f := baseFeatures()
		b.ReportAllocs()
		for b.Loop() {
			if d := Evaluate(f, platform, wallet); d.Outcome != OutcomeApprove {
				b.Fatal(d)
			}
		}
	})
	b.Run("default+wallet/matches", func(b *testing.B) {
		f := baseFeatures()
		f.IsNewMerchant, f.Amount = true, 60000
		b.ReportAllocs()
		for b.Loop() {
			if d := Evaluate(f, platform, wallet); d.Outcome != OutcomeStepUp {
				b.Fatal(d)
			}
		}
	})
	b.Run("default+wallet/cost_tracked", func(b *testing.B) {
		// Oversized metadata: every rule runs with runtime cost tracking.
		f := baseFeatures()
		f.Metadata = map[string]string{"note": string(make([]byte, MaxStringLen+1))}
		b.ReportAllocs()
		for b.Loop() {
			if d := Evaluate(f, platform, wallet); d.Outcome != OutcomeApprove {
				b.Fatal(d)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			f := baseFeatures()
			for pb.Next() {
				Evaluate(f, platform, wallet)
			}
		})
	})
}

// BenchmarkCounters measures the counter helpers on the payment path.
func BenchmarkCounters(b *testing.B) {
	s := NewSlidingCounter(60e9, 60, 1<<16, nil)
	d := NewDailyCounter(1<<16, nil)
	b.ReportAllocs()
	for b.Loop() {
		s.Add("agent_1", 1)
		d.Add("wallet_1/merchant_1", 2500)
	}
}
