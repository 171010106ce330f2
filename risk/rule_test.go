package risk

import (
	"errors"
	"strings"
	"testing"
)

func validRule() Rule {
	return Rule{ID: "r1", Scope: ScopePlatform, Expression: "payment.amount > 100",
		Outcome: OutcomeReview, Reason: "big_payment", Priority: 1, Enabled: true}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Rule)
		code   ErrorCode
		msg    string // substring of the message
	}{
		{"empty id", func(r *Rule) { r.ID = "" }, CodeInvalidID, "id"},
		{"id with space", func(r *Rule) { r.ID = "a b" }, CodeInvalidID, "id"},
		{"id too long", func(r *Rule) { r.ID = strings.Repeat("a", 129) }, CodeInvalidID, "id"},
		{"empty scope", func(r *Rule) { r.Scope = "" }, CodeInvalidScope, "scope"},
		{"scope with slash", func(r *Rule) { r.Scope = "wallet/1" }, CodeInvalidScope, "scope"},
		{"empty outcome", func(r *Rule) { r.Outcome = "" }, CodeInvalidOutcome, "outcome"},
		{"unknown outcome", func(r *Rule) { r.Outcome = "allow" }, CodeInvalidOutcome, `"allow"`},
		{"upper-case outcome", func(r *Rule) { r.Outcome = "DECLINE" }, CodeInvalidOutcome, "outcome"},
		{"empty reason", func(r *Rule) { r.Reason = "" }, CodeInvalidReason, "snake_case"},
		{"camel reason", func(r *Rule) { r.Reason = "bigPayment" }, CodeInvalidReason, "snake_case"},
		{"reason with space", func(r *Rule) { r.Reason = "big payment" }, CodeInvalidReason, "snake_case"},
		{"reason double underscore", func(r *Rule) { r.Reason = "big__payment" }, CodeInvalidReason, "snake_case"},
		{"reason trailing underscore", func(r *Rule) { r.Reason = "big_" }, CodeInvalidReason, "snake_case"},
		{"reason leading digit", func(r *Rule) { r.Reason = "1big" }, CodeInvalidReason, "snake_case"},
		{"reason too long", func(r *Rule) { r.Reason = strings.Repeat("a", 65) }, CodeInvalidReason, "snake_case"},
		{"reserved reason", func(r *Rule) { r.Reason = ReasonRuleError }, CodeInvalidReason, "reserved"},
		{"empty expression", func(r *Rule) { r.Expression = "  " }, CodeInvalidExpression, "empty"},
		{"syntax error", func(r *Rule) { r.Expression = "payment.amount >" }, CodeInvalidExpression, "Syntax error"},
		{"unknown variable", func(r *Rule) { r.Expression = "payment.amout > 1" }, CodeInvalidExpression, "undeclared reference"},
		{"type error", func(r *Rule) { r.Expression = `payment.amount > "1"` }, CodeInvalidExpression, "no matching overload"},
		{"unknown function", func(r *Rule) { r.Expression = `now() > 1` }, CodeInvalidExpression, "undeclared reference"},
		{"invalid utf8", func(r *Rule) { r.Expression = "merchant.id == \"\xff\"" }, CodeInvalidExpression, "UTF-8"},
		{"bad regex", func(r *Rule) { r.Expression = `merchant.id.matches("(")` }, CodeInvalidExpression, ""},
		{"int result", func(r *Rule) { r.Expression = "payment.amount + 1" }, CodeNotBoolean, "int"},
		{"string result", func(r *Rule) { r.Expression = "merchant.id" }, CodeNotBoolean, "string"},
		{"dyn result", func(r *Rule) { r.Expression = "dyn(merchant.is_new)" }, CodeNotBoolean, "dyn"},
		{"too long", func(r *Rule) { r.Expression = "true" + strings.Repeat(" || true", 300) }, CodeExpressionTooLong, "2048"},
		{"nested comprehensions", func(r *Rule) {
			r.Expression = `payment.metadata.all(a, payment.metadata.all(b, payment.metadata.all(c, a + b + c != "")))`
		}, CodeTooCostly, "exceeds the limit"},
		{"comprehension over map() result", func(r *Rule) {
			r.Expression = `payment.metadata.map(a, payment.metadata.map(b, a + b)).exists(l, l.exists(x, x.contains(merchant.id)))`
		}, CodeTooCostly, "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRule()
			tt.mutate(&r)
			c, err := Compile(r)
			if err == nil {
				t.Fatalf("Compile(%q) succeeded, want %s", r.Expression, tt.code)
			}
			if c != nil {
				t.Errorf("Compile returned a rule with an error")
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not a *RuleError", err, err)
			}
			if re.Code != tt.code {
				t.Errorf("code = %s, want %s (%v)", re.Code, tt.code, err)
			}
			if re.RuleID != r.ID {
				t.Errorf("RuleID = %q, want %q", re.RuleID, r.ID)
			}
			if !strings.Contains(re.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", re.Message, tt.msg)
			}
			if !strings.Contains(err.Error(), string(tt.code)) {
				t.Errorf("Error() %q does not contain the code", err.Error())
			}
		})
	}
}

func TestCompileValid(t *testing.T) {
	exprs := []string{
		"payment.amount > 100",
		`payment.currency == "USD" && payment.hour_utc >= 22`,
		`payment.has_price_condition && payment.amount > payment.price_at_or_below`,
		`"channel" in payment.metadata && payment.metadata["channel"] == "voice"`,
		`payment.metadata.exists(k, k.startsWith("x-"))`,
		`merchant.category in ["gambling", "crypto_exchange"]`,
		`merchant.country != "" && !(merchant.country in ["US", "CA"])`,
		`merchant.id.matches("^acct_test_")`,
		`agent.amount_last_hour + payment.amount > 100000 || wallet.amount_today > 500000`,
		`agent.id.startsWith("agent_") && payment.mandate_id == ""`,
		`wallet.id == "w1" && merchant.amount_today > 0`,
	}
	for _, e := range exprs {
		r := validRule()
		r.Expression = e
		c, err := Compile(r)
		if err != nil {
			t.Errorf("Compile(%q): %v", e, err)
			continue
		}
		lo, hi := c.EstimatedCost()
		if hi > MaxEstimatedCost || lo > hi {
			t.Errorf("Compile(%q): estimate [%d, %d]", e, lo, hi)
		}
		if c.Rule() != r {
			t.Errorf("Rule() = %+v, want %+v", c.Rule(), r)
		}
	}
	// A wallet scope and a disabled rule are valid too.
	r := validRule()
	r.Scope, r.Enabled = "wallet_123", false
	if _, err := Compile(r); err != nil {
		t.Errorf("wallet-scoped disabled rule: %v", err)
	}
}

func TestCompileDefaults(t *testing.T) {
	rules, err := CompileAll(DefaultPlatformRules())
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 {
		t.Fatalf("got %d default rules", len(rules))
	}
	// CompileAll stops at the first invalid rule.
	bad := append(DefaultPlatformRules(), Rule{ID: "x", Scope: ScopePlatform, Expression: "1", Outcome: OutcomeReview, Reason: "x"})
	if _, err := CompileAll(bad); err == nil {
		t.Fatal("CompileAll accepted an invalid rule")
	}
}

func TestOutcomeSeverity(t *testing.T) {
	order := []Outcome{OutcomeApprove, OutcomeReview, OutcomeStepUp, OutcomeDecline}
	for i := 1; i < len(order); i++ {
		if order[i].Severity() <= order[i-1].Severity() {
			t.Errorf("%s not stricter than %s", order[i], order[i-1])
		}
	}
	if Outcome("nope").Valid() || !OutcomeStepUp.Valid() {
		t.Error("Valid is wrong")
	}
}
