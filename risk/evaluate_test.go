package risk

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func mustCompile(t testing.TB, r Rule) *CompiledRule {
	t.Helper()
	c, err := Compile(r)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", r, err)
	}
	return c
}

func rule(id, scope, expr string, o Outcome, reason string, prio int) Rule {
	return Rule{ID: id, Scope: scope, Expression: expr, Outcome: o, Reason: reason, Priority: prio, Enabled: true}
}

func baseFeatures() *Features {
	return &Features{
		Amount: 2500, Currency: "USD", MandateID: "mandate_1", HourUTC: 14,
		Metadata:   map[string]string{"channel": "chat"},
		MerchantID: "merchant_1", MerchantCategory: "saas", MerchantCountry: "US",
		AgentID: "agent_1", AgentPaymentsLastMinute: 3, AgentAmountLastHour: 7000,
		WalletID: "wallet_1", WalletAmountToday: 9000, MerchantAmountToday: 1000,
	}
}

func TestDefaultRules(t *testing.T) {
	rules, err := CompileAll(DefaultPlatformRules())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(*Features)
		outcome Outcome
		reasons []string
	}{
		{"ordinary payment", func(*Features) {}, OutcomeApprove, nil},
		{"59 payments in the last minute", func(f *Features) { f.AgentPaymentsLastMinute = 59 }, OutcomeApprove, nil},
		{"61st payment in a minute", func(f *Features) { f.AgentPaymentsLastMinute = 60 }, OutcomeDecline, []string{"velocity_exceeded"}},
		{"new merchant, small", func(f *Features) { f.IsNewMerchant = true; f.Amount = 10000 }, OutcomeApprove, nil},
		{"new merchant, large", func(f *Features) { f.IsNewMerchant = true; f.Amount = 10001 }, OutcomeStepUp, []string{"new_merchant_high_amount"}},
		{"known merchant, large", func(f *Features) { f.Amount = 20000 }, OutcomeApprove, nil},
		{"merchant daily amount at limit", func(f *Features) { f.MerchantAmountToday = 47500 }, OutcomeApprove, nil},
		{"merchant daily amount over", func(f *Features) { f.MerchantAmountToday = 47501 }, OutcomeReview, []string{"merchant_daily_amount"}},
		{"all three", func(f *Features) {
			f.AgentPaymentsLastMinute, f.IsNewMerchant, f.Amount = 100, true, 60000
		}, OutcomeDecline, []string{"velocity_exceeded", "new_merchant_high_amount", "merchant_daily_amount"}},
		{"step-up and review", func(f *Features) { f.IsNewMerchant, f.Amount = true, 60000 },
			OutcomeStepUp, []string{"new_merchant_high_amount", "merchant_daily_amount"}},
		{"overflow fails closed", func(f *Features) { f.MerchantAmountToday = math.MaxInt64 }, OutcomeReview, []string{ReasonRuleError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFeatures()
			tt.mutate(f)
			d := Evaluate(f, rules, nil)
			if d.Outcome != tt.outcome {
				t.Errorf("outcome = %s, want %s (%+v)", d.Outcome, tt.outcome, d.Matches)
			}
			if got := d.Reasons(); !slices.Equal(got, tt.reasons) && (len(got) != 0 || len(tt.reasons) != 0) {
				t.Errorf("reasons = %v, want %v", got, tt.reasons)
			}
		})
	}
}

func TestEvaluateOutcomesAndSeverity(t *testing.T) {
	f := baseFeatures()
	approve := mustCompile(t, rule("a", ScopePlatform, "payment.amount > 0", OutcomeApprove, "known_good", 1))
	review := mustCompile(t, rule("r", ScopePlatform, `merchant.category == "saas"`, OutcomeReview, "category_review", 2))
	stepUp := mustCompile(t, rule("s", "wallet_1", `payment.metadata["channel"] == "chat"`, OutcomeStepUp, "owner_confirms_chat", 1))
	decline := mustCompile(t, rule("d", "wallet_1", `merchant.country == "US" && payment.hour_utc == 14`, OutcomeDecline, "blocked_hours", 2))
	never := mustCompile(t, rule("n", ScopePlatform, "false", OutcomeDecline, "never", 0))

	tests := []struct {
		name             string
		platform, wallet []*CompiledRule
		want             Outcome
		ids              []string
	}{
		{"no rules", nil, nil, OutcomeApprove, nil},
		{"approve", []*CompiledRule{approve}, nil, OutcomeApprove, []string{"a"}},
		{"review", []*CompiledRule{review}, nil, OutcomeReview, []string{"r"}},
		{"step_up", nil, []*CompiledRule{stepUp}, OutcomeStepUp, []string{"s"}},
		{"decline", nil, []*CompiledRule{decline}, OutcomeDecline, []string{"d"}},
		{"not matched", []*CompiledRule{never}, nil, OutcomeApprove, nil},
		{"approve does not lower review", []*CompiledRule{review, approve}, nil, OutcomeReview, []string{"a", "r"}},
		{"review < step_up", []*CompiledRule{review}, []*CompiledRule{stepUp}, OutcomeStepUp, []string{"r", "s"}},
		{"step_up < decline, any order", nil, []*CompiledRule{decline, stepUp}, OutcomeDecline, []string{"s", "d"}},
		{"all", []*CompiledRule{never, review, approve}, []*CompiledRule{decline, stepUp}, OutcomeDecline, []string{"a", "r", "s", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(f, tt.platform, tt.wallet)
			if d.Outcome != tt.want {
				t.Errorf("outcome = %s, want %s", d.Outcome, tt.want)
			}
			var ids []string
			for _, m := range d.Matches {
				ids = append(ids, m.RuleID)
			}
			if !slices.Equal(ids, tt.ids) {
				t.Errorf("matched %v, want %v", ids, tt.ids)
			}
		})
	}
	// Match details are recorded.
	d := Evaluate(f, nil, []*CompiledRule{stepUp})
	want := Match{RuleID: "s", Scope: "wallet_1", Outcome: OutcomeStepUp, Reason: "owner_confirms_chat"}
	if !reflect.DeepEqual(d.Matches, []Match{want}) {
		t.Errorf("matches = %+v", d.Matches)
	}
}

func TestEvaluateOrderAndDisabled(t *testing.T) {
	f := baseFeatures()
	r1 := mustCompile(t, rule("b", ScopePlatform, "true", OutcomeReview, "r_b", 5))
	r2 := mustCompile(t, rule("a", ScopePlatform, "true", OutcomeReview, "r_a", 5))
	r3 := mustCompile(t, rule("z", ScopePlatform, "true", OutcomeReview, "r_z", -1))
	off := rule("off", ScopePlatform, "true", OutcomeDecline, "off", 0)
	off.Enabled = false
	r4 := mustCompile(t, off)
	in := []*CompiledRule{r1, r4, r2, r3}
	d := Evaluate(f, in, nil)
	if got := d.Reasons(); !slices.Equal(got, []string{"r_z", "r_a", "r_b"}) {
		t.Errorf("reasons = %v", got)
	}
	if d.Outcome != OutcomeReview {
		t.Errorf("disabled decline rule applied: %s", d.Outcome)
	}
	if in[0] != r1 {
		t.Error("Evaluate reordered its input")
	}
	SortRules(in)
	if d2 := Evaluate(f, in, nil); !reflect.DeepEqual(d, d2) {
		t.Errorf("sorted input gave %+v, want %+v", d2, d)
	}
}

func TestEvaluateFailClosed(t *testing.T) {
	f := baseFeatures()
	big := make(map[string]string, 5000)
	for i := range 5000 {
		big[fmt.Sprintf("k%04d", i)] = strings.Repeat("v", 100)
	}
	tests := []struct {
		name    string
		rule    Rule
		mutate  func(*Features)
		wantErr string
	}{
		{"missing map key", rule("e1", ScopePlatform, `payment.metadata["absent"] == "x"`, OutcomeApprove, "x", 0), nil, "no such key"},
		{"division by zero", rule("e2", ScopePlatform, `payment.amount / agent.payments_last_minute > 1`, OutcomeDecline, "x", 0),
			func(f *Features) { f.AgentPaymentsLastMinute = 0 }, "division by zero"},
		{"runtime cost limit", rule("e3", ScopePlatform, `payment.metadata.exists(k, payment.metadata[k].contains("zzz"))`, OutcomeApprove, "x", 0),
			func(f *Features) { f.Metadata = big }, "cost limit"},
		{"wallet rule of another wallet", rule("e4", "wallet_2", "true", OutcomeApprove, "x", 0), nil, "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, tt.rule)
			f := baseFeatures()
			if tt.mutate != nil {
				tt.mutate(f)
			}
			var d Decision
			if tt.rule.Scope == ScopePlatform {
				d = Evaluate(f, []*CompiledRule{c}, nil)
			} else {
				d = Evaluate(f, nil, []*CompiledRule{c})
			}
			if d.Outcome != OutcomeReview || len(d.Matches) != 1 {
				t.Fatalf("decision %+v, want one fail-closed review", d)
			}
			m := d.Matches[0]
			if m.Reason != ReasonRuleError || m.Outcome != OutcomeReview || m.RuleID != tt.rule.ID {
				t.Errorf("match %+v", m)
			}
			if !strings.Contains(m.Error, tt.wantErr) {
				t.Errorf("error %q does not mention %q", m.Error, tt.wantErr)
			}
		})
	}
	// A wallet-scoped rule in the platform list fails closed too.
	w := mustCompile(t, rule("w", "wallet_1", "false", OutcomeApprove, "x", 0))
	if d := Evaluate(f, []*CompiledRule{w}, nil); d.Outcome != OutcomeReview || d.Matches[0].Reason != ReasonRuleError {
		t.Errorf("wallet rule as platform rule: %+v", d)
	}
	// A fail-closed review never lowers a decline.
	decl := mustCompile(t, rule("d", ScopePlatform, "true", OutcomeDecline, "x", 0))
	bad := mustCompile(t, rule("b", ScopePlatform, `payment.metadata["absent"] == "x"`, OutcomeApprove, "x", 1))
	if d := Evaluate(f, []*CompiledRule{decl, bad}, nil); d.Outcome != OutcomeDecline {
		t.Errorf("outcome %s, want decline", d.Outcome)
	}
}

// exprTemplates are building blocks for generated rules.
var exprTemplates = []string{
	"payment.amount > %d",
	"payment.amount < %d",
	"agent.payments_last_minute >= %d",
	"merchant.amount_today + payment.amount > %d",
	"wallet.amount_today > %d",
	"merchant.is_new && payment.amount > %d",
	"payment.hour_utc == %d",
	`payment.metadata["k%d"] == "v"`,                         // errors when the key is absent
	"payment.amount / (agent.payments_last_minute - %d) > 0", // may divide by zero
	`true || %d > 0`,
	`%d < 0`,
}

func genRule(t *rapid.T, label string) *CompiledRule {
	expr := fmt.Sprintf(rapid.SampledFrom(exprTemplates).Draw(t, label+"_expr"), rapid.IntRange(0, 100).Draw(t, label+"_n"))
	o := rapid.SampledFrom([]Outcome{OutcomeApprove, OutcomeReview, OutcomeStepUp, OutcomeDecline}).Draw(t, label+"_outcome")
	scope := rapid.SampledFrom([]string{ScopePlatform, "wallet_1", "wallet_2"}).Draw(t, label+"_scope")
	r := Rule{ID: label + rapid.StringMatching(`[a-z0-9]{1,6}`).Draw(t, label+"_id"), Scope: scope, Expression: expr,
		Outcome: o, Reason: "reason_" + label, Priority: rapid.IntRange(-3, 3).Draw(t, label+"_prio"),
		Enabled: rapid.Bool().Draw(t, label+"_enabled")}
	c, err := Compile(r)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", r, err)
	}
	return c
}

func genFeatures(t *rapid.T) *Features {
	f := baseFeatures()
	f.Amount = rapid.Int64Range(0, 100).Draw(t, "amount")
	f.AgentPaymentsLastMinute = rapid.Int64Range(0, 100).Draw(t, "velocity")
	f.MerchantAmountToday = rapid.Int64Range(0, 100).Draw(t, "merchant_today")
	f.WalletAmountToday = rapid.Int64Range(0, 100).Draw(t, "wallet_today")
	f.IsNewMerchant = rapid.Bool().Draw(t, "new")
	f.HourUTC = rapid.IntRange(0, 23).Draw(t, "hour")
	f.Metadata = map[string]string{fmt.Sprintf("k%d", rapid.IntRange(0, 100).Draw(t, "meta")): "v"}
	return f
}

// TestAddingRuleNeverLoosens: adding any rule to any rule set, in either
// list, never lowers the outcome, and keeps every earlier match.
func TestAddingRuleNeverLoosens(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := genFeatures(t)
		var platform, wallet []*CompiledRule
		for i := range rapid.IntRange(0, 4).Draw(t, "np") {
			platform = append(platform, genRule(t, fmt.Sprintf("p%d", i)))
		}
		for i := range rapid.IntRange(0, 4).Draw(t, "nw") {
			wallet = append(wallet, genRule(t, fmt.Sprintf("w%d", i)))
		}
		before := Evaluate(f, platform, wallet)
		extra := genRule(t, "x")
		if rapid.Bool().Draw(t, "to_platform") {
			platform = append(platform, extra)
		} else {
			wallet = append(wallet, extra)
		}
		after := Evaluate(f, platform, wallet)
		if after.Outcome.Severity() < before.Outcome.Severity() {
			t.Fatalf("adding %+v lowered %s to %s", extra.Rule(), before.Outcome, after.Outcome)
		}
		if len(after.Matches) < len(before.Matches) || len(after.Matches) > len(before.Matches)+1 {
			t.Fatalf("matches %d -> %d", len(before.Matches), len(after.Matches))
		}
		// The outcome is the strictest match.
		maxSev := OutcomeApprove.Severity()
		for _, m := range after.Matches {
			maxSev = max(maxSev, m.Outcome.Severity())
		}
		if after.Outcome.Severity() != maxSev {
			t.Fatalf("outcome %s is not the strictest of %+v", after.Outcome, after.Matches)
		}
	})
}

// TestTrackedAndFastAgree: for inputs within the estimate's bounds, the
// untracked fast path decides exactly as the cost-tracked path.
func TestTrackedAndFastAgree(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := genFeatures(t)
		if !f.withinEstimateBounds() {
			t.Fatal("generated features out of bounds")
		}
		var rules []*CompiledRule
		for i := range rapid.IntRange(1, 6).Draw(t, "n") {
			rules = append(rules, genRule(t, fmt.Sprintf("r%d", i)))
		}
		fast, tracked := evaluate(f, rules, rules, false), evaluate(f, rules, rules, true)
		if !reflect.DeepEqual(fast, tracked) {
			t.Fatalf("fast %+v != tracked %+v", fast, tracked)
		}
	})
}

func TestWithinEstimateBounds(t *testing.T) {
	f := baseFeatures()
	if !f.withinEstimateBounds() {
		t.Fatal("base features out of bounds")
	}
	long := strings.Repeat("x", MaxStringLen+1)
	for name, mutate := range map[string]func(*Features){
		"merchant id": func(f *Features) { f.MerchantID = long },
		"agent id":    func(f *Features) { f.AgentID = long },
		"meta key":    func(f *Features) { f.Metadata = map[string]string{long: ""} },
		"meta value":  func(f *Features) { f.Metadata = map[string]string{"k": long} },
		"meta size": func(f *Features) {
			f.Metadata = map[string]string{}
			for i := range MaxMetadataEntries + 1 {
				f.Metadata[fmt.Sprint(i)] = ""
			}
		},
	} {
		f := baseFeatures()
		mutate(f)
		if f.withinEstimateBounds() {
			t.Errorf("%s: out-of-bounds features reported in bounds", name)
		}
	}
}
