package risk

import (
	"errors"
	"testing"
)

var knownCodes = map[ErrorCode]bool{
	CodeInvalidID: true, CodeInvalidScope: true, CodeInvalidExpression: true, CodeExpressionTooLong: true,
	CodeNotBoolean: true, CodeTooCostly: true, CodeInvalidOutcome: true, CodeInvalidReason: true,
}

// FuzzCompile: Compile never panics, its errors are *RuleError with a
// known code, and a rule it accepts evaluates without panicking to a valid
// decision.
func FuzzCompile(f *testing.F) {
	for _, r := range DefaultPlatformRules() {
		f.Add(r.Expression, string(r.Outcome), r.Reason)
	}
	for _, e := range []string{
		"", "(", "payment.amount >", `"a" + 1`, "merchant.id", "1/0 == 1",
		`payment.metadata.all(a, payment.metadata.all(b, a != b))`,
		`payment.metadata.map(a, payment.metadata.map(b, a + b)).size() > 1`,
		`merchant.id.matches("(a+)+$")`, `[1,2,3].exists(x, x > payment.amount)`,
		`{"a": 1}["b"] == 1`, `has(payment.metadata.x)`, `payment.metadata.?x.orValue("") == ""`,
		`int(merchant.id) > 0`, `timestamp("2026-01-01T00:00:00Z") < timestamp(merchant.id)`,
		`9223372036854775807 + payment.amount > 0`, `merchant.category.size() > 3 ? true : false`,
	} {
		f.Add(e, "review", "fuzz_reason")
	}
	feats := baseFeatures()
	feats.Metadata = map[string]string{"x": "1", "channel": "chat", "": ""}
	f.Fuzz(func(t *testing.T, expr, outcome, reason string) {
		r := Rule{ID: "fuzz", Scope: ScopePlatform, Expression: expr, Outcome: Outcome(outcome), Reason: reason, Enabled: true}
		c, err := Compile(r)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not *RuleError: %v", err, err)
			}
			if !knownCodes[re.Code] || re.Message == "" {
				t.Fatalf("bad error %+v", re)
			}
			return
		}
		if _, hi := c.EstimatedCost(); hi > MaxEstimatedCost {
			t.Fatalf("accepted cost %d", hi)
		}
		d := Evaluate(feats, []*CompiledRule{c}, nil)
		if !d.Outcome.Valid() || len(d.Matches) > 1 {
			t.Fatalf("decision %+v", d)
		}
	})
}
