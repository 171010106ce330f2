package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkoutOf builds a checkout with lines (item id, quantity, unit
// amount), USD/2, no tax or fees.
func checkoutOf(merchant string, lines ...LineItem) *Checkout {
	co := &Checkout{Merchant: Merchant{ID: merchant}, Currency: "USD", Scale: 2}
	var sum int64
	for i, l := range lines {
		l.ID = "li_" + actItoa(i)
		l.BaseAmount = l.UnitAmount * l.Item.Quantity
		l.Subtotal, l.Total = l.BaseAmount, l.BaseAmount
		sum += l.Total
		co.LineItems = append(co.LineItems, l)
	}
	co.Totals = []Total{{Type: TotalSubtotal, Amount: sum}, {Type: TotalTotal, Amount: sum}}
	return co
}

func line(item string, qty, unit int64) LineItem {
	return LineItem{Item: Item{ID: item, Quantity: qty}, UnitAmount: unit}
}

func payment(amount int64, payee string) *PaymentFacts {
	return &PaymentFacts{Amount: usd(amount), Payee: Merchant{ID: payee}}
}

func TestConstraintEvaluation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	attest := func(mut func(p *PriceAttestation)) *Verified[PriceAttestation] {
		p := w.priceAttestation(6500)
		if mut != nil {
			mut(p)
		}
		return &Verified[PriceAttestation]{Claims: p}
	}
	shoes := checkoutOf(merchantID, line("sku-runner-42", 1, 6500), line("sku-socks", 2, 450))
	openHash := HashJWS([]byte("open checkout mandate"))
	lastWeek := testNow.Add(-7 * 24 * time.Hour)
	yesterdayEvening := testNow.Add(-20 * time.Hour)

	cases := []struct {
		name   string
		c      Constraint
		in     EvalInput
		result CheckResult
		code   Code
		remain int64 // Remaining of the first limit, -1 to skip
	}{
		// payment.amount_range
		{"amount in range", &AmountRangeConstraint{Currency: "USD", Scale: 2, Min: 100, Max: 10000}, EvalInput{Payment: payment(8220, merchantID)}, CheckPass, "", 1780},
		{"amount at max", &AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 10000}, EvalInput{Payment: payment(10000, merchantID)}, CheckPass, "", 0},
		{"amount above max", &AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 10000}, EvalInput{Payment: payment(10001, merchantID)}, CheckFail, CodeAmountOutOfRange, 10000},
		{"amount below min", &AmountRangeConstraint{Currency: "USD", Scale: 2, Min: 500, Max: 10000}, EvalInput{Payment: payment(499, merchantID)}, CheckFail, CodeAmountOutOfRange, -1},
		{"amount other currency", &AmountRangeConstraint{Currency: "EUR", Scale: 2, Max: 10000}, EvalInput{Payment: payment(1, merchantID)}, CheckFail, CodeCurrencyMismatch, -1},
		{"amount other scale", &AmountRangeConstraint{Currency: "USD", Scale: 3, Max: 10000}, EvalInput{Payment: payment(1, merchantID)}, CheckFail, CodeCurrencyMismatch, -1},
		{"amount without a payment", &AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 10000}, EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// payment.budget
		{"total budget left", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 50000}, EvalInput{Payment: payment(8220, merchantID), State: UsageState{SpentTotal: 40000}}, CheckPass, "", 1780},
		{"total budget exact", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 50000}, EvalInput{Payment: payment(10000, merchantID), State: UsageState{SpentTotal: 40000}}, CheckPass, "", 0},
		{"total budget exceeded", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 50000, Period: PeriodTotal}, EvalInput{Payment: payment(10001, merchantID), State: UsageState{SpentTotal: 40000}}, CheckFail, CodeBudgetExceeded, 10000},
		{"day budget", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 1000, Period: PeriodDay}, EvalInput{Payment: payment(300, merchantID), State: UsageState{SpentDay: 600, SpentTotal: 99999}}, CheckPass, "", 100},
		{"day budget exceeded", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 1000, Period: PeriodDay}, EvalInput{Payment: payment(500, merchantID), State: UsageState{SpentDay: 600}}, CheckFail, CodeBudgetExceeded, 400},
		{"week budget", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 5000, Period: PeriodWeek}, EvalInput{Payment: payment(500, merchantID), State: UsageState{SpentWeek: 4500}}, CheckPass, "", 0},
		{"week budget exceeded", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 5000, Period: PeriodWeek}, EvalInput{Payment: payment(501, merchantID), State: UsageState{SpentWeek: 4500}}, CheckFail, CodeBudgetExceeded, 500},
		{"month budget", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 20000, Period: PeriodMonth}, EvalInput{Payment: payment(8220, merchantID), State: UsageState{SpentMonth: 100}}, CheckPass, "", 11680},
		{"month budget exceeded", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 20000, Period: PeriodMonth}, EvalInput{Payment: payment(8220, merchantID), State: UsageState{SpentMonth: 15000}}, CheckFail, CodeBudgetExceeded, 5000},
		{"budget already overspent", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 100}, EvalInput{Payment: payment(0, merchantID), State: UsageState{SpentTotal: 150}}, CheckFail, CodeBudgetExceeded, 0},
		{"budget with bad state", &BudgetConstraint{Currency: "USD", Scale: 2, Max: 100}, EvalInput{Payment: payment(1, merchantID), State: UsageState{SpentTotal: -1}}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		{"budget other currency", &BudgetConstraint{Currency: "EUR", Scale: 2, Max: 100}, EvalInput{Payment: payment(1, merchantID)}, CheckFail, CodeCurrencyMismatch, -1},
		// payment.agent_recurrence
		{"recurrence first use", &RecurrenceConstraint{Frequency: FrequencyMonthly, MaxOccurrences: 12}, EvalInput{Now: testNow}, CheckPass, "", 11},
		{"recurrence count reached", &RecurrenceConstraint{Frequency: FrequencyOnDemand, MaxOccurrences: 3}, EvalInput{Now: testNow, State: UsageState{Uses: 3}}, CheckFail, CodeRecurrenceExceeded, 0},
		{"recurrence last use", &RecurrenceConstraint{Frequency: FrequencyOnDemand, MaxOccurrences: 3}, EvalInput{Now: testNow, State: UsageState{Uses: 2}}, CheckPass, "", 0},
		{"weekly after a week", &RecurrenceConstraint{Frequency: FrequencyWeekly}, EvalInput{Now: testNow, State: UsageState{Uses: 4, LastUseAt: lastWeek}}, CheckPass, "", -1},
		{"daily too soon", &RecurrenceConstraint{Frequency: FrequencyDaily}, EvalInput{Now: testNow, State: UsageState{Uses: 1, LastUseAt: yesterdayEvening}}, CheckFail, CodeRecurrenceTooSoon, -1},
		{"monthly too soon", &RecurrenceConstraint{Frequency: FrequencyMonthly, MaxOccurrences: 12}, EvalInput{Now: testNow, State: UsageState{Uses: 1, LastUseAt: lastWeek}}, CheckFail, CodeRecurrenceTooSoon, 11},
		{"annually after a year", &RecurrenceConstraint{Frequency: FrequencyAnnually}, EvalInput{Now: testNow, State: UsageState{Uses: 1, LastUseAt: testNow.AddDate(-1, 0, 0)}}, CheckPass, "", -1},
		{"recurrence bad state", &RecurrenceConstraint{Frequency: FrequencyDaily}, EvalInput{Now: testNow, State: UsageState{Uses: -2}}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// payment.allowed_payees
		{"payee allowed", &AllowedPayeesConstraint{Allowed: []Merchant{{ID: "x"}, shoeShop}}, EvalInput{Payment: payment(1, merchantID)}, CheckPass, "", -1},
		{"payee not allowed", &AllowedPayeesConstraint{Allowed: []Merchant{shoeShop}}, EvalInput{Payment: payment(1, merchant2ID)}, CheckFail, CodePayeeNotAllowed, -1},
		{"payee without a payment", &AllowedPayeesConstraint{Allowed: []Merchant{shoeShop}}, EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// payment.allowed_categories
		{"category allowed", &AllowedCategoriesConstraint{Categories: []string{"books", "weather"}}, EvalInput{Payment: &PaymentFacts{Amount: usd(1), Payee: shoeShop, PayeeCategory: "weather"}}, CheckPass, "", -1},
		{"category not allowed", &AllowedCategoriesConstraint{Categories: []string{"weather"}}, EvalInput{Payment: &PaymentFacts{Amount: usd(1), Payee: shoeShop, PayeeCategory: "gambling"}}, CheckFail, CodeCategoryNotAllowed, -1},
		{"category is case-sensitive", &AllowedCategoriesConstraint{Categories: []string{"weather"}}, EvalInput{Payment: &PaymentFacts{Amount: usd(1), Payee: shoeShop, PayeeCategory: "Weather"}}, CheckFail, CodeCategoryNotAllowed, -1},
		{"category unknown", &AllowedCategoriesConstraint{Categories: []string{"weather"}}, EvalInput{Payment: payment(1, merchantID)}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		{"category without a payment", &AllowedCategoriesConstraint{Categories: []string{"weather"}}, EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// payment.execution_date
		{"inside the window", &ExecutionDateConstraint{NotBefore: testNow.Add(-time.Hour).Unix(), NotAfter: testNow.Add(time.Hour).Unix()}, EvalInput{Now: testNow}, CheckPass, "", -1},
		{"before the window", &ExecutionDateConstraint{NotBefore: testNow.Add(time.Hour).Unix()}, EvalInput{Now: testNow}, CheckFail, CodeOutsideExecutionWindow, -1},
		{"after the window", &ExecutionDateConstraint{NotAfter: testNow.Add(-time.Second).Unix()}, EvalInput{Now: testNow}, CheckFail, CodeOutsideExecutionWindow, -1},
		{"scheduled inside", &ExecutionDateConstraint{NotBefore: testNow.Add(24 * time.Hour).Unix()}, EvalInput{Now: testNow, Payment: &PaymentFacts{Amount: usd(1), ExecuteAt: testNow.Add(48 * time.Hour)}}, CheckPass, "", -1},
		// payment.approval_threshold
		{"below the threshold", &ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 8000}, EvalInput{Payment: payment(8000, merchantID)}, CheckPass, "", 0},
		{"above the threshold", &ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 8000}, EvalInput{Payment: payment(8220, merchantID)}, CheckUnresolved, CodeApprovalRequired, 8000},
		{"above the threshold, approved", &ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 8000}, EvalInput{Payment: payment(8220, merchantID), UserApproved: true}, CheckPass, "", 0},
		// payment.reference
		{"reference matches", &PaymentReferenceConstraint{ConditionalTransactionID: openHash}, EvalInput{OpenCheckoutMandateHash: openHash}, CheckPass, "", -1},
		{"reference differs", &PaymentReferenceConstraint{ConditionalTransactionID: openHash}, EvalInput{OpenCheckoutMandateHash: HashJWS(nil)}, CheckFail, CodeMandateHashMismatch, -1},
		{"reference missing", &PaymentReferenceConstraint{ConditionalTransactionID: openHash}, EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// checkout.allowed_merchants
		{"merchant allowed", &AllowedMerchantsConstraint{Allowed: []Merchant{shoeShop}}, EvalInput{Checkout: shoes}, CheckPass, "", -1},
		{"merchant not allowed", &AllowedMerchantsConstraint{Allowed: []Merchant{{ID: merchant2ID}}}, EvalInput{Checkout: shoes}, CheckFail, CodeMerchantNotAllowed, -1},
		{"merchant without a checkout", &AllowedMerchantsConstraint{Allowed: []Merchant{shoeShop}}, EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// checkout.line_items
		{"line items match", w.openCheckout().Constraints[1], EvalInput{Checkout: shoes}, CheckPass, "", 0},
		{"line items over quantity", w.openCheckout().Constraints[1], EvalInput{Checkout: checkoutOf(merchantID, line("sku-socks", 4, 450))}, CheckFail, CodeLineItemsNotAllowed, -1},
		{"line item not acceptable", w.openCheckout().Constraints[1], EvalInput{Checkout: checkoutOf(merchantID, line("sku-runner-42", 1, 6500), line("sku-gold-laces", 1, 100))}, CheckFail, CodeLineItemsNotAllowed, -1},
		{"line items split across rules", &LineItemsConstraint{Items: []LineItemRule{
			{ID: "a", AcceptableItems: []AcceptableItem{{ID: "x"}, {ID: "y"}}, Quantity: 2},
			{ID: "b", AcceptableItems: []AcceptableItem{{ID: "x"}}, Quantity: 2},
		}}, EvalInput{Checkout: checkoutOf(merchantID, line("y", 2, 1), line("x", 2, 1))}, CheckPass, "", 0},
		{"line items need the max flow", &LineItemsConstraint{Items: []LineItemRule{
			{ID: "a", AcceptableItems: []AcceptableItem{{ID: "x"}, {ID: "y"}}, Quantity: 1},
			{ID: "b", AcceptableItems: []AcceptableItem{{ID: "x"}}, Quantity: 1},
		}}, EvalInput{Checkout: checkoutOf(merchantID, line("x", 1, 1), line("y", 1, 1))}, CheckPass, "", 0},
		{"line items without a checkout", w.openCheckout().Constraints[1], EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
		// checkout.price_condition
		{"price at or below", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000}, EvalInput{Checkout: shoes}, CheckPass, "", 500},
		{"price exactly at", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 6500}, EvalInput{Checkout: shoes}, CheckPass, "", 0},
		{"price moved", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 6000}, EvalInput{Checkout: shoes}, CheckFail, CodePriceConditionNotMet, 6000},
		{"item absent", &PriceConditionConstraint{ItemID: "sku-boots", Currency: "USD", Scale: 2, AtOrBelow: 6000}, EvalInput{Checkout: shoes}, CheckFail, CodePriceConditionNotMet, -1},
		{"checkout total at or below", &PriceConditionConstraint{Currency: "USD", Scale: 2, AtOrBelow: 7400}, EvalInput{Checkout: shoes}, CheckPass, "", 0},
		{"checkout total above", &PriceConditionConstraint{Currency: "USD", Scale: 2, AtOrBelow: 7399}, EvalInput{Checkout: shoes}, CheckFail, CodePriceConditionNotMet, -1},
		{"price other currency", &PriceConditionConstraint{Currency: "EUR", Scale: 2, AtOrBelow: 7399}, EvalInput{Checkout: shoes}, CheckFail, CodeCurrencyMismatch, -1},
		{"attested price", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Checkout: shoes, Price: attest(nil)}, CheckPass, "", 500},
		{"attested price without checkout", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Price: attest(nil)}, CheckPass, "", 500},
		{"attested price above", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Price: attest(func(p *PriceAttestation) { p.Price.Amount = 7100 })}, CheckFail, CodePriceConditionNotMet, -1},
		{"attested unavailable", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Price: attest(func(p *PriceAttestation) { p.Available = false })}, CheckFail, CodePriceConditionNotMet, -1},
		{"attestation missing", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Checkout: shoes}, CheckUnresolved, CodePriceAttestationRequired, -1},
		{"attestation from a stranger", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{"orc_other"}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Checkout: shoes, Price: attest(nil)}, CheckUnresolved, CodePriceAttestationRequired, -1},
		{"attestation for another merchant", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 300},
			EvalInput{Now: testNow, Checkout: shoes, Price: attest(func(p *PriceAttestation) { p.Merchant.ID = merchant2ID })}, CheckUnresolved, CodePriceAttestationRequired, -1},
		{"attestation stale", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 30},
			EvalInput{Now: testNow, Checkout: shoes, Price: attest(nil)}, CheckUnresolved, CodePriceAttestationStale, -1},
		{"price without checkout or attestation", &PriceConditionConstraint{ItemID: "sku-runner-42", Currency: "USD", Scale: 2, AtOrBelow: 7000}, EvalInput{}, CheckUnresolved, CodeUnresolvedConstraint, -1},
	}
	covered := map[string]map[CheckResult]bool{}
	for _, c := range cases {
		if c.in.Now.IsZero() {
			c.in.Now = testNow
		}
		d := Evaluate("test", Constraints{c.c}, c.in)
		if len(d.Checks) != 1 {
			t.Fatalf("%s: %d checks", c.name, len(d.Checks))
		}
		ch := d.Checks[0]
		if ch.Result != c.result || ch.Code != c.code {
			t.Errorf("%s: %s/%s, want %s/%s (%s)", c.name, ch.Result, ch.Code, c.result, c.code, ch.Detail)
		}
		if ch.Type != c.c.ConstraintType() || ch.Mandate != "test" || ch.Detail == "" {
			t.Errorf("%s: check %+v lacks its type, mandate or detail", c.name, ch)
		}
		if c.remain >= 0 {
			if len(ch.Limits) == 0 {
				t.Errorf("%s: no limits reported", c.name)
			} else if ch.Limits[0].Remaining != c.remain {
				t.Errorf("%s: remaining %d, want %d (%+v)", c.name, ch.Limits[0].Remaining, c.remain, ch.Limits[0])
			}
		}
		if covered[ch.Type] == nil {
			covered[ch.Type] = map[CheckResult]bool{}
		}
		covered[ch.Type][ch.Result] = true
		// The decision's outcome follows its one check.
		want := map[CheckResult]Outcome{CheckPass: OutcomeAllow, CheckFail: OutcomeDeny, CheckUnresolved: OutcomeApprovalRequired}[ch.Result]
		if d.Outcome != want || d.Code != ch.Code {
			t.Errorf("%s: outcome %s/%s, want %s/%s", c.name, d.Outcome, d.Code, want, ch.Code)
		}
	}
	for _, typ := range []string{ConstraintAllowedMerchants, ConstraintLineItems, ConstraintPriceCondition, ConstraintAmountRange,
		ConstraintBudget, ConstraintAgentRecurrence, ConstraintAllowedPayees, ConstraintExecutionDate,
		ConstraintApprovalThreshold, ConstraintPaymentReference, ConstraintAllowedCategories} {
		if !covered[typ][CheckPass] || !covered[typ][CheckFail] && typ != ConstraintApprovalThreshold {
			t.Errorf("%s: pass and fail are not both covered", typ)
		}
	}
}

func TestDecisionListsEveryConstraint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := w.openPayment(HashJWS([]byte("x")))
	d := m.Evaluate(EvalInput{Now: testNow, Payment: payment(20000, merchant2ID), OpenCheckoutMandateHash: HashJWS([]byte("y")),
		State: UsageState{Uses: 9, SpentMonth: 1, SpentTotal: 1}})
	if len(d.Checks) != len(m.Constraints) {
		t.Fatalf("%d checks for %d constraints", len(d.Checks), len(m.Constraints))
	}
	if d.Outcome != OutcomeDeny || d.Code != CodeAmountOutOfRange {
		t.Errorf("outcome %s code %s, want deny with the first failure (amount_out_of_range)", d.Outcome, d.Code)
	}
	fails := 0
	for i, ch := range d.Checks {
		if ch.Index != i || ch.Mandate != "payment" {
			t.Errorf("check %d: index %d mandate %q", i, ch.Index, ch.Mandate)
		}
		if ch.Result == CheckFail {
			fails++
		}
	}
	// amount, month budget, recurrence, payee, reference fail; total
	// budget, window pass; approval is unresolved.
	if fails != 5 {
		t.Errorf("%d failures, want 5: %+v", fails, d.Checks)
	}
	b, err := json.Marshal(d)
	if err != nil || !strings.Contains(string(b), `"outcome":"deny"`) {
		t.Errorf("decision JSON %s: %v", b, err)
	}
	if got := (Decision{}).Merge(Decision{Checks: []Check{{Result: CheckUnresolved, Code: CodeApprovalRequired}}}); got.Outcome != OutcomeApprovalRequired {
		t.Errorf("merge: %s", got.Outcome)
	}
	if got := Evaluate("", Constraints{nil}, EvalInput{}); got.Outcome != OutcomeDeny {
		t.Errorf("nil constraint: %s", got.Outcome)
	}
}

func TestConstraintDecoding(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	all := append(append(Constraints{}, w.openCheckout().Constraints...), w.openPayment(HashJWS(nil)).Constraints...)
	all = append(all, &PriceConditionConstraint{ItemID: "i", Currency: "USD", Scale: 2, AtOrBelow: 1, Attestors: []string{oracleID}, AttestationMaxAgeSeconds: 60})
	all = append(all, &AllowedCategoriesConstraint{Categories: []string{"weather", "news_media", "3d-printing"}})
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	var back Constraints
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the constraints:\n%s\n%s", b, b2)
	}
	if !strings.HasSuffix(string(b), `{"type":"payment.allowed_categories","categories":["weather","news_media","3d-printing"]}]`) {
		t.Errorf("allowed categories marshalled as %s", b[strings.LastIndex(string(b), `{"type"`):])
	}
	if c, ok := back[len(back)-1].(*AllowedCategoriesConstraint); !ok || len(c.Categories) != 3 || c.Categories[1] != "news_media" {
		t.Errorf("allowed categories decoded as %#v", back[len(back)-1])
	}
	if !strings.HasPrefix(string(b), `[{"type":"checkout.allowed_merchants",`) {
		t.Errorf("type is not the first member: %.60s", b)
	}
	for in, want := range map[string]Code{
		`[{"type":"payment.teleport"}]`:                                        CodeConstraintUnknown,
		`[{"type":"PAYMENT.AMOUNT_RANGE","currency":"USD","scale":2,"max":1}]`: CodeConstraintUnknown,
		`[{"max":1}]`: CodeConstraintInvalid,
		`[{"type":"payment.amount_range","currency":"USD","scale":2,"max":1,"extra":true}]`: CodeConstraintInvalid,
		`[{"type":"payment.amount_range","currency":"USD","scale":2,"max":1.5}]`:            CodeConstraintInvalid,
		`[{"type":7}]`: CodeConstraintInvalid,
		`[{"type":"payment.allowed_categories","categories":["weather"],"extra":1}]`: CodeConstraintInvalid,
		`[{"type":"payment.allowed_categories","categories":"weather"}]`:             CodeConstraintInvalid,
		`{"type":"payment.budget"}`: CodeConstraintInvalid,
		`[` + strings.Repeat(`{"type":"payment.reference"},`, ConstraintsMax) + `{"type":1}]`: CodeConstraintInvalid,
	} {
		var cs Constraints
		err := json.Unmarshal([]byte(in), &cs)
		wantCode(t, in[:min(len(in), 60)], err, want)
	}
}

func TestConstraintRules(t *testing.T) {
	t.Parallel()
	ok := func(cs ...Constraint) Constraints { return cs }
	cases := map[string]struct {
		cs        Constraints
		namespace string
		bad       bool
	}{
		"valid payment set": {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1}, &BudgetConstraint{Currency: "USD", Scale: 2, Max: 5, Period: PeriodDay},
			&BudgetConstraint{Currency: "USD", Scale: 2, Max: 50}), "payment.", false},
		"two budgets for one period": {ok(&BudgetConstraint{Currency: "USD", Scale: 2, Max: 5}, &BudgetConstraint{Currency: "USD", Scale: 2, Max: 50, Period: PeriodTotal}), "payment.", true},
		"two currencies":             {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1}, &BudgetConstraint{Currency: "EUR", Scale: 2, Max: 5}), "payment.", true},
		"two scales":                 {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1}, &BudgetConstraint{Currency: "USD", Scale: 3, Max: 5}), "payment.", true},
		"two amount ranges":          {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1}, &AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 2}), "payment.", true},
		"checkout type in payment":   {ok(&AllowedMerchantsConstraint{Allowed: []Merchant{shoeShop}}), "payment.", true},
		"min above max":              {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Min: 5, Max: 1}), "payment.", true},
		"negative max":               {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: -1}), "payment.", true},
		"max above AmountMax":        {ok(&AmountRangeConstraint{Currency: "USD", Scale: 2, Max: AmountMax + 1}), "payment.", true},
		"lower-case currency":        {ok(&AmountRangeConstraint{Currency: "usd", Scale: 2, Max: 1}), "payment.", true},
		"scale 19":                   {ok(&AmountRangeConstraint{Currency: "USD", Scale: 19, Max: 1}), "payment.", true},
		"unknown period":             {ok(&BudgetConstraint{Currency: "USD", Scale: 2, Max: 5, Period: "fortnight"}), "payment.", true},
		"unknown frequency":          {ok(&RecurrenceConstraint{Frequency: "HOURLY"}), "payment.", true},
		"on demand without count":    {ok(&RecurrenceConstraint{Frequency: FrequencyOnDemand}), "payment.", true},
		"empty window":               {ok(&ExecutionDateConstraint{}), "payment.", true},
		"inverted window":            {ok(&ExecutionDateConstraint{NotBefore: 10, NotAfter: 5}), "payment.", true},
		"empty payees":               {ok(&AllowedPayeesConstraint{}), "payment.", true},
		"bad reference":              {ok(&PaymentReferenceConstraint{ConditionalTransactionID: "abc"}), "payment.", true},
		"categories":                 {ok(&AllowedCategoriesConstraint{Categories: []string{"weather", "news_media", "3d-printing"}}), "payment.", false},
		"empty categories":           {ok(&AllowedCategoriesConstraint{}), "payment.", true},
		"too many categories":        {ok(&AllowedCategoriesConstraint{Categories: manyCategories(AllowedEntriesMax + 1)}), "payment.", true},
		"most categories":            {ok(&AllowedCategoriesConstraint{Categories: manyCategories(AllowedEntriesMax)}), "payment.", false},
		"upper-case category":        {ok(&AllowedCategoriesConstraint{Categories: []string{"Weather"}}), "payment.", true},
		"empty category":             {ok(&AllowedCategoriesConstraint{Categories: []string{""}}), "payment.", true},
		"category with a space":      {ok(&AllowedCategoriesConstraint{Categories: []string{"web services"}}), "payment.", true},
		"category starting with _":   {ok(&AllowedCategoriesConstraint{Categories: []string{"_x"}}), "payment.", true},
		"longest category":           {ok(&AllowedCategoriesConstraint{Categories: []string{strings.Repeat("a", CategoryBytesMax)}}), "payment.", false},
		"too long category":          {ok(&AllowedCategoriesConstraint{Categories: []string{strings.Repeat("a", CategoryBytesMax+1)}}), "payment.", true},
		"repeated category":          {ok(&AllowedCategoriesConstraint{Categories: []string{"weather", "weather"}}), "payment.", true},
		"categories in checkout":     {ok(&AllowedCategoriesConstraint{Categories: []string{"weather"}}), "checkout.", true},
		"two category constraints": {ok(&AllowedCategoriesConstraint{Categories: []string{"weather"}},
			&AllowedCategoriesConstraint{Categories: []string{"news"}}), "payment.", true},
		"empty line rules":   {ok(&LineItemsConstraint{}), "checkout.", true},
		"zero quantity rule": {ok(&LineItemsConstraint{Items: []LineItemRule{{ID: "a", AcceptableItems: []AcceptableItem{{ID: "x"}}}}}), "checkout.", true},
		"repeated rule id": {ok(&LineItemsConstraint{Items: []LineItemRule{{ID: "a", AcceptableItems: []AcceptableItem{{ID: "x"}}, Quantity: 1},
			{ID: "a", AcceptableItems: []AcceptableItem{{ID: "y"}}, Quantity: 1}}}), "checkout.", true},
		"attestors without item":    {ok(&PriceConditionConstraint{Currency: "USD", Scale: 2, AtOrBelow: 1, Attestors: []string{"o"}, AttestationMaxAgeSeconds: 5}), "checkout.", true},
		"attestors without max age": {ok(&PriceConditionConstraint{ItemID: "i", Currency: "USD", Scale: 2, AtOrBelow: 1, Attestors: []string{"o"}}), "checkout.", true},
		"max age without attestors": {ok(&PriceConditionConstraint{ItemID: "i", Currency: "USD", Scale: 2, AtOrBelow: 1, AttestationMaxAgeSeconds: 5}), "checkout.", true},
		"price per item twice": {ok(&PriceConditionConstraint{ItemID: "i", Currency: "USD", Scale: 2, AtOrBelow: 1},
			&PriceConditionConstraint{ItemID: "i", Currency: "USD", Scale: 2, AtOrBelow: 2}), "checkout.", true},
		"prices for two items": {ok(&PriceConditionConstraint{ItemID: "i", Currency: "USD", Scale: 2, AtOrBelow: 1},
			&PriceConditionConstraint{ItemID: "j", Currency: "USD", Scale: 2, AtOrBelow: 2}), "checkout.", false},
		"nil constraint": {Constraints{nil}, "payment.", true},
	}
	for name, c := range cases {
		_, _, err := checkConstraints(c.cs, c.namespace)
		if (err != nil) != c.bad {
			t.Errorf("%s: err %v, want bad=%v", name, err, c.bad)
		}
		if err != nil && CodeOf(err) != CodeConstraintInvalid {
			t.Errorf("%s: code %s", name, CodeOf(err))
		}
	}
}

// manyCategories returns n distinct valid categories.
func manyCategories(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "cat" + actItoa(i)
	}
	return out
}

func TestBudgetWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 15, 4, 5, 0, time.FixedZone("X", 5*3600)) // Wednesday 10:04 UTC
	for _, c := range []struct {
		period     string
		start, end string
	}{
		{PeriodDay, "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z"},
		{PeriodWeek, "2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z"},
		{PeriodMonth, "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		s, e := BudgetWindow(c.period, now)
		if s.Format(time.RFC3339) != c.start || e.Format(time.RFC3339) != c.end {
			t.Errorf("%s: [%s, %s), want [%s, %s)", c.period, s.Format(time.RFC3339), e.Format(time.RFC3339), c.start, c.end)
		}
	}
	// testNow is a Sunday: its week started on the Monday before.
	if s, _ := BudgetWindow(PeriodWeek, testNow); s.Weekday() != time.Monday || testNow.Sub(s) != 6*24*time.Hour+12*time.Hour {
		t.Errorf("week of a Sunday starts %s", s)
	}
	if s, e := BudgetWindow(PeriodTotal, now); !s.IsZero() || !e.IsZero() {
		t.Error("total has a window")
	}
}

func TestLineItemMatchIsMaxFlow(t *testing.T) {
	t.Parallel()
	// Greedy would give both x units to rule a and fail on y.
	rules := []LineItemRule{
		{ID: "a", AcceptableItems: []AcceptableItem{{ID: "x"}, {ID: "y"}}, Quantity: 2},
		{ID: "b", AcceptableItems: []AcceptableItem{{ID: "x"}}, Quantity: 2},
	}
	got, per := matchLineItems([]flowLine{{"x", 2}, {"y", 2}}, rules)
	if got != 4 || per[0] != 2 || per[1] != 2 {
		t.Fatalf("matched %d (%v), want 4 (2, 2)", got, per)
	}
	got, _ = matchLineItems([]flowLine{{"x", 3}, {"y", 2}}, rules)
	if got != 4 {
		t.Fatalf("matched %d, want 4 of 5", got)
	}
	// The largest graph the limits allow stays fast.
	big := make([]LineItemRule, AllowedEntriesMax)
	for j := range big {
		acc := make([]AcceptableItem, AllowedEntriesMax)
		for k := range acc {
			acc[k] = AcceptableItem{ID: "item" + actItoa((j+k)%LineItemsMax)}
		}
		big[j] = LineItemRule{ID: actItoa(j), AcceptableItems: acc, Quantity: QuantityMax}
	}
	lines := make([]flowLine, LineItemsMax)
	for i := range lines {
		lines[i] = flowLine{"item" + actItoa(i), QuantityMax}
	}
	start := time.Now()
	got, _ = matchLineItems(lines, big)
	if got != int64(LineItemsMax*QuantityMax) {
		t.Fatalf("matched %d", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("largest match took %s", d)
	}
}
