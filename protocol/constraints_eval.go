package protocol

// Constraint evaluation: given an open mandate's constraints and the state
// they need (what was spent and how often the mandate was used, now, the
// checkout or payment at hand, an optional price attestation), decide
// each constraint and say what remains of each limit. Evaluation is pure:
// it reads no clock and no store. The platform enforces the same limits
// atomically in its ledger (DESIGN.md 2.1); this decision is what it
// explains and what an offline verifier can recompute.

import (
	"fmt"
	"strconv"
	"time"
	"unsafe"
)

// Outcome is the verdict of a Decision.
type Outcome string

// Outcomes.
const (
	// OutcomeAllow: every constraint passed.
	OutcomeAllow Outcome = "allow"
	// OutcomeDeny: at least one constraint failed.
	OutcomeDeny Outcome = "deny"
	// OutcomeApprovalRequired: none failed, but at least one could not be
	// decided without the user (an approval threshold, a missing price
	// attestation). AP2's unresolved_constraint: ask the user, and go on
	// human present.
	OutcomeApprovalRequired Outcome = "approval_required"
)

// CheckResult is the result of one constraint.
type CheckResult string

// Check results.
const (
	CheckPass       CheckResult = "pass"
	CheckFail       CheckResult = "fail"
	CheckUnresolved CheckResult = "unresolved"
)

// Decision is the result of evaluating a set of constraints.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Code is the code of the first failed check (or, when none failed,
	// of the first unresolved one); empty when Outcome is OutcomeAllow.
	Code   Code    `json:"code,omitempty"`
	Checks []Check `json:"checks"`
}

// Check is the evaluation of one constraint.
type Check struct {
	// Mandate says which open mandate the constraint is in: "checkout"
	// or "payment".
	Mandate string `json:"mandate,omitempty"`
	// Index is the constraint's position in the mandate's constraints.
	Index  int         `json:"index"`
	Type   string      `json:"type"`
	Result CheckResult `json:"result"`
	// Code is the failure (or unresolved) code; empty on pass.
	Code Code `json:"code,omitempty"`
	// Detail explains the result for a human.
	Detail string `json:"detail"`
	// Limits states each limit the constraint imposes and what remains of
	// it (several for checkout.line_items, none for list constraints).
	Limits []Limit `json:"limits,omitempty"`
}

// Limit is the state of one limit.
type Limit struct {
	// Name says which limit: "max", "min", "uses", "at_or_below", a budget
	// period, or a line-item rule id.
	Name string `json:"name"`
	// Unit is the currency code for money, or "uses" / "units".
	Unit string `json:"unit"`
	// Scale is the currency's scale (0 for counts).
	Scale uint8 `json:"scale"`
	// Max is the limit.
	Max int64 `json:"max"`
	// Used is what was consumed before this payment (spent in the
	// period, past uses, units already matched).
	Used int64 `json:"used"`
	// Requested is what this payment or checkout would consume.
	Requested int64 `json:"requested"`
	// Remaining is Max − Used − Requested when the check passed (what is
	// left after it), and max(0, Max − Used) when it failed (what is
	// left now).
	Remaining int64 `json:"remaining"`
}

// UsageState is the state stateful constraints need, for one open
// payment mandate, kept by the platform. Amounts are in the mandate's
// currency and scale and exclude the payment being evaluated.
type UsageState struct {
	// SpentTotal is everything paid under the mandate so far.
	SpentTotal int64
	// SpentDay, SpentWeek and SpentMonth are what was paid in the UTC
	// calendar day, ISO week and month containing EvalInput.Now (see
	// BudgetWindow).
	SpentDay, SpentWeek, SpentMonth int64
	// Uses is how many payments were made under the mandate.
	Uses int64
	// LastUseAt is when the last of them was made; zero if none.
	LastUseAt time.Time
}

// spent returns the amount spent in period.
func (s UsageState) spent(period string) int64 {
	switch period {
	case PeriodDay:
		return s.SpentDay
	case PeriodWeek:
		return s.SpentWeek
	case PeriodMonth:
		return s.SpentMonth
	}
	return s.SpentTotal
}

// PaymentFacts is the payment a payment mandate's constraints judge.
type PaymentFacts struct {
	Amount Money
	Payee  Merchant
	// ExecuteAt is when the payment executes; zero means EvalInput.Now.
	ExecuteAt time.Time
	// PayeeCategory is the payee's category as the platform knows it
	// (its merchant registry), never the agent's claim; empty when the
	// platform knows none, which leaves payment.allowed_categories
	// unresolved.
	PayeeCategory string
}

// EvalInput is everything constraint evaluation may need. Each
// constraint reads only its part; a constraint whose part is missing is
// unresolved (CodeUnresolvedConstraint), never passed.
type EvalInput struct {
	// Now is the evaluation time. Required.
	Now time.Time
	// Checkout is the verified checkout, for checkout.* constraints.
	Checkout *Checkout
	// Payment is the payment, for payment.* constraints.
	Payment *PaymentFacts
	// OpenCheckoutMandateHash is the HashJWS of the open checkout mandate
	// used in this purchase, for payment.reference.
	OpenCheckoutMandateHash string
	// Price is a verified price attestation, for checkout.price_condition
	// constraints that name attestors (and, without a checkout, to decide
	// a conditional order before one exists).
	Price *Verified[PriceAttestation]
	// State is the mandate's usage, for budget and recurrence.
	State UsageState
	// UserApproved says the user approved this purchase (approval
	// threshold).
	UserApproved bool
}

// evalEnv is one evaluation. It holds the room its checks, their limits
// and the details of passing checks are written to, so that evaluating
// a usual mandate (up to evalChecks constraints) allocates once; what
// does not fit is allocated apart.
type evalEnv struct {
	in     EvalInput
	limits []Limit // free room for limits
	text   []byte  // free room for details: bytes written are never changed
	room   struct {
		checks [evalChecks]Check
		limits [evalLimits]Limit
		text   [evalText]byte
	}
}

// How much an evaluation holds in its own room: checks, limits and bytes
// of detail.
const (
	evalChecks = 4
	evalLimits = 4
	evalText   = 256
)

// newEvalEnv returns an evaluation of in and the empty checks of n
// constraints, with room for them.
func newEvalEnv(in EvalInput, n int) (*evalEnv, []Check) {
	e := &evalEnv{in: in}
	e.limits, e.text = e.room.limits[:0], e.room.text[:0]
	if n > evalChecks {
		return e, make([]Check, 0, n)
	}
	return e, e.room.checks[:0:n]
}

// keep returns limits copied to the evaluation's room (a slice of its
// own: appending to it never writes over another check's).
func (e *evalEnv) keep(limits []Limit) []Limit {
	if len(limits) == 0 {
		if limits == nil {
			return nil
		}
		return []Limit{}
	}
	if cap(e.limits)-len(e.limits) < len(limits) {
		e.limits = make([]Limit, 0, max(len(limits), evalLimits))
	}
	n := len(e.limits)
	e.limits = append(e.limits, limits...)
	return e.limits[n:len(e.limits):len(e.limits)]
}

// Evaluate decides every constraint of cs against in and returns the
// decision, listing every constraint in order. It never stops at the
// first failure, never panics on a well-typed input and reads nothing
// but its arguments. mandate labels the checks ("checkout" or
// "payment"; may be empty).
func Evaluate(mandate string, cs Constraints, in EvalInput) Decision {
	env, checks := newEvalEnv(in, len(cs))
	d := Decision{Outcome: OutcomeAllow, Checks: checks}
	for i, c := range cs {
		var ch Check
		if c == nil {
			ch = Check{Result: CheckFail, Code: CodeConstraintInvalid, Detail: "missing constraint"}
		} else {
			ch = c.evaluate(env)
			ch.Type = c.ConstraintType()
		}
		if ch.Result != CheckPass {
			// Nothing is consumed: what remains is what is left now.
			for j := range ch.Limits {
				ch.Limits[j].Remaining = max(0, ch.Limits[j].Max-ch.Limits[j].Used)
			}
		}
		ch.Mandate = mandate
		ch.Index = i
		d.Checks = append(d.Checks, ch)
	}
	d.settle()
	env.in = EvalInput{} // the checks share env's room: it keeps no input alive
	return d
}

// settle derives Outcome and Code from the checks.
func (d *Decision) settle() {
	d.Outcome, d.Code = OutcomeAllow, ""
	for _, ch := range d.Checks {
		if ch.Result == CheckFail {
			d.Outcome, d.Code = OutcomeDeny, ch.Code
			return
		}
	}
	for _, ch := range d.Checks {
		if ch.Result == CheckUnresolved {
			d.Outcome, d.Code = OutcomeApprovalRequired, ch.Code
			return
		}
	}
}

// Merge returns the decision over the checks of d and then o.
func (d Decision) Merge(o Decision) Decision {
	out := Decision{Checks: append(append(make([]Check, 0, len(d.Checks)+len(o.Checks)), d.Checks...), o.Checks...)}
	out.settle()
	return out
}

// Evaluate decides the mandate's constraints (see the package function
// Evaluate).
func (m *OpenCheckoutMandate) Evaluate(in EvalInput) Decision {
	return Evaluate("checkout", m.Constraints, in)
}

// Evaluate decides the mandate's constraints (see the package function
// Evaluate).
func (m *OpenPaymentMandate) Evaluate(in EvalInput) Decision {
	return Evaluate("payment", m.Constraints, in)
}

// BudgetWindow returns the UTC calendar period containing now: the day
// [00:00, next 00:00), the ISO week from Monday 00:00, or the month from
// the 1st 00:00. For PeriodTotal (or "") it returns the zero time and
// the zero time: no window. A platform sums the payments in [start, end)
// to fill UsageState.
func BudgetWindow(period string, now time.Time) (start, end time.Time) {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case PeriodDay:
		return day, day.AddDate(0, 0, 1)
	case PeriodWeek:
		back := (int(now.Weekday()) + 6) % 7 // days since Monday
		s := day.AddDate(0, 0, -back)
		return s, s.AddDate(0, 0, 7)
	case PeriodMonth:
		s := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 1, 0)
	}
	return time.Time{}, time.Time{}
}

// ---- helpers ----

// pass returns a passing check; its limits are kept in e's room.
func (e *evalEnv) pass(detail string, limits ...Limit) Check {
	return Check{Result: CheckPass, Detail: detail, Limits: e.keep(limits)}
}

// failed returns a failed check; its limits are kept in e's room.
func (e *evalEnv) failed(code Code, detail string, limits ...Limit) Check {
	return Check{Result: CheckFail, Code: code, Detail: detail, Limits: e.keep(limits)}
}

func unresolved(code Code, detail string) Check {
	return Check{Result: CheckUnresolved, Code: code, Detail: detail}
}

// moneyLimit builds a limit and decides it: pass iff used+requested <=
// limit, computed without overflow (all three are non-negative).
func moneyLimit(name, unit string, scale uint8, limit, used, requested int64) (Limit, bool) {
	l := Limit{Name: name, Unit: unit, Scale: scale, Max: limit, Used: used, Requested: requested}
	left := limit - used // no overflow: limit >= 0, used >= 0
	if used > limit || requested > left {
		l.Remaining = max(0, left)
		return l, false
	}
	l.Remaining = left - requested
	return l, true
}

// paymentInCurrency returns the payment if it is present and in
// currency/scale, or the check that explains why not.
func (e *evalEnv) paymentIn(currency string, scale uint8) (*PaymentFacts, *Check) {
	p := e.in.Payment
	if p == nil {
		ch := unresolved(CodeUnresolvedConstraint, "no payment to evaluate")
		return nil, &ch
	}
	if p.Amount.Currency != currency || p.Amount.Scale != scale {
		ch := e.failed(CodeCurrencyMismatch, fmt.Sprintf("payment is in %s/%d, the constraint in %s/%d",
			p.Amount.Currency, p.Amount.Scale, currency, scale))
		return nil, &ch
	}
	if p.Amount.Amount < 0 || p.Amount.Amount > AmountMax {
		ch := e.failed(CodeClaimsInvalid, "payment amount out of range")
		return nil, &ch
	}
	return p, nil
}

func (e *evalEnv) fmtMoney(a int64, currency string, scale uint8) string {
	return Money{Amount: a, Currency: currency, Scale: scale}.String()
}

// detail joins a passing check's detail: strings, integers (int64) in
// decimal, and amounts (Money) written as Money.String writes them. It is
// written to e's room (to a new buffer when it does not fit), whose bytes
// are never written again, and shared by the string.
func (e *evalEnv) detail(parts ...any) string {
	var buf [160]byte
	b := buf[:0]
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case Money:
			b = append(appendMinor(b, v.Amount, v.Scale), ' ')
			b = append(b, v.Currency...)
		}
	}
	if len(b) == 0 {
		return ""
	}
	if cap(e.text)-len(e.text) < len(b) {
		e.text = make([]byte, 0, max(len(b), evalText))
	}
	n := len(e.text)
	e.text = append(e.text, b...)
	return unsafe.String(&e.text[n], len(b))
}

// ---- evaluate implementations ----

func (c *AmountRangeConstraint) evaluate(e *evalEnv) Check {
	p, bad := e.paymentIn(c.Currency, c.Scale)
	if bad != nil {
		return *bad
	}
	a := p.Amount.Amount
	hi, okHi := moneyLimit("max", c.Currency, c.Scale, c.Max, 0, a)
	lo := Limit{Name: "min", Unit: c.Currency, Scale: c.Scale, Max: c.Min, Requested: a}
	if a < c.Min {
		return e.failed(CodeAmountOutOfRange, fmt.Sprintf("%s is below the minimum %s",
			p.Amount, e.fmtMoney(c.Min, c.Currency, c.Scale)), hi, lo)
	}
	if !okHi {
		return e.failed(CodeAmountOutOfRange, fmt.Sprintf("%s is above the maximum %s",
			p.Amount, e.fmtMoney(c.Max, c.Currency, c.Scale)), hi)
	}
	return e.pass(e.detail(p.Amount, " is within [", Money{Amount: c.Min, Currency: c.Currency, Scale: c.Scale}, ", ",
		Money{Amount: c.Max, Currency: c.Currency, Scale: c.Scale}, "]"), hi)
}

func (c *BudgetConstraint) evaluate(e *evalEnv) Check {
	p, bad := e.paymentIn(c.Currency, c.Scale)
	if bad != nil {
		return *bad
	}
	period := c.period()
	used := e.in.State.spent(period)
	if used < 0 {
		return unresolved(CodeUnresolvedConstraint, "usage state has a negative amount spent")
	}
	l, ok := moneyLimit(period, c.Currency, c.Scale, c.Max, used, p.Amount.Amount)
	if !ok {
		what := "in total"
		if period != PeriodTotal {
			what = "this " + period
		}
		return e.failed(CodeBudgetExceeded, fmt.Sprintf("%s spent %s plus %s is above the budget %s",
			e.fmtMoney(used, c.Currency, c.Scale), what, p.Amount, e.fmtMoney(c.Max, c.Currency, c.Scale)), l)
	}
	return e.pass(e.detail(Money{Amount: l.Remaining, Currency: c.Currency, Scale: c.Scale}, " of the ", period, " budget ",
		Money{Amount: c.Max, Currency: c.Currency, Scale: c.Scale}, " left after this payment"), l)
}

// nextAllowed returns the earliest time the mandate may be used again
// after last, under frequency f.
func nextAllowed(f string, last time.Time) time.Time {
	last = last.UTC()
	switch f {
	case FrequencyDaily:
		return last.Add(24 * time.Hour)
	case FrequencyWeekly:
		return last.Add(7 * 24 * time.Hour)
	case FrequencyBiweekly:
		return last.Add(14 * 24 * time.Hour)
	case FrequencyMonthly:
		return last.AddDate(0, 1, 0)
	case FrequencyQuarterly:
		return last.AddDate(0, 3, 0)
	case FrequencyAnnually:
		return last.AddDate(1, 0, 0)
	}
	return last
}

func (c *RecurrenceConstraint) evaluate(e *evalEnv) Check {
	uses := e.in.State.Uses
	if uses < 0 {
		return unresolved(CodeUnresolvedConstraint, "usage state has a negative use count")
	}
	var limits []Limit
	if c.MaxOccurrences > 0 {
		l, ok := moneyLimit("uses", "uses", 0, c.MaxOccurrences, uses, 1)
		limits = append(limits, l)
		if !ok {
			return e.failed(CodeRecurrenceExceeded, fmt.Sprintf("used %d of %d times", uses, c.MaxOccurrences), limits...)
		}
	}
	if c.Frequency != FrequencyOnDemand && !e.in.State.LastUseAt.IsZero() {
		next := nextAllowed(c.Frequency, e.in.State.LastUseAt)
		if e.in.Now.Before(next) {
			return e.failed(CodeRecurrenceTooSoon, fmt.Sprintf("%s: last used %s, next use allowed from %s",
				c.Frequency, e.in.State.LastUseAt.UTC().Format(time.RFC3339), next.Format(time.RFC3339)), limits...)
		}
	}
	return e.pass(e.detail(c.Frequency, ", used ", uses, " times before"), limits...)
}

func merchantIn(l []Merchant, id string) bool {
	for _, m := range l {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (c *AllowedPayeesConstraint) evaluate(e *evalEnv) Check {
	if e.in.Payment == nil {
		return unresolved(CodeUnresolvedConstraint, "no payment to evaluate")
	}
	id := e.in.Payment.Payee.ID
	if !merchantIn(c.Allowed, id) {
		return e.failed(CodePayeeNotAllowed, fmt.Sprintf("payee %q is not among the %d allowed", id, len(c.Allowed)))
	}
	return e.pass(fmt.Sprintf("payee %q is allowed", id))
}

func (c *AllowedCategoriesConstraint) evaluate(e *evalEnv) Check {
	if e.in.Payment == nil {
		return unresolved(CodeUnresolvedConstraint, "no payment to evaluate")
	}
	cat := e.in.Payment.PayeeCategory
	if cat == "" {
		return unresolved(CodeUnresolvedConstraint, fmt.Sprintf("the category of payee %q is not known", e.in.Payment.Payee.ID))
	}
	for _, a := range c.Categories {
		if a == cat {
			return e.pass(fmt.Sprintf("payee category %q is allowed", cat))
		}
	}
	return e.failed(CodeCategoryNotAllowed, fmt.Sprintf("payee category %q is not among the %d allowed", cat, len(c.Categories)))
}

func (c *AllowedMerchantsConstraint) evaluate(e *evalEnv) Check {
	if e.in.Checkout == nil {
		return unresolved(CodeUnresolvedConstraint, "no checkout to evaluate")
	}
	id := e.in.Checkout.Merchant.ID
	if !merchantIn(c.Allowed, id) {
		return e.failed(CodeMerchantNotAllowed, fmt.Sprintf("merchant %q is not among the %d allowed", id, len(c.Allowed)))
	}
	return e.pass(fmt.Sprintf("merchant %q is allowed", id))
}

func (c *ExecutionDateConstraint) evaluate(e *evalEnv) Check {
	at := e.in.Now
	if e.in.Payment != nil && !e.in.Payment.ExecuteAt.IsZero() {
		at = e.in.Payment.ExecuteAt
	}
	if at.IsZero() {
		return unresolved(CodeUnresolvedConstraint, "no execution time")
	}
	t := at.Unix()
	if c.NotBefore != 0 && t < c.NotBefore {
		return e.failed(CodeOutsideExecutionWindow, fmt.Sprintf("executes at %d, before not_before %d", t, c.NotBefore))
	}
	if c.NotAfter != 0 && t > c.NotAfter {
		return e.failed(CodeOutsideExecutionWindow, fmt.Sprintf("executes at %d, after not_after %d", t, c.NotAfter))
	}
	return e.pass(fmt.Sprintf("executes at %d, inside the window", t))
}

func (c *ApprovalThresholdConstraint) evaluate(e *evalEnv) Check {
	p, bad := e.paymentIn(c.Currency, c.Scale)
	if bad != nil {
		return *bad
	}
	l := Limit{Name: "approval_threshold", Unit: c.Currency, Scale: c.Scale, Max: c.Amount,
		Requested: p.Amount.Amount, Remaining: max(0, c.Amount-p.Amount.Amount)}
	if p.Amount.Amount <= c.Amount {
		return e.pass(fmt.Sprintf("%s is at or below the approval threshold %s", p.Amount,
			e.fmtMoney(c.Amount, c.Currency, c.Scale)), l)
	}
	if e.in.UserApproved {
		return e.pass(fmt.Sprintf("%s is above the approval threshold %s and the user approved it", p.Amount,
			e.fmtMoney(c.Amount, c.Currency, c.Scale)), l)
	}
	ch := unresolved(CodeApprovalRequired, fmt.Sprintf("%s is above the approval threshold %s: the user must approve",
		p.Amount, e.fmtMoney(c.Amount, c.Currency, c.Scale)))
	ch.Limits = e.keep([]Limit{l})
	return ch
}

func (c *PaymentReferenceConstraint) evaluate(e *evalEnv) Check {
	h := e.in.OpenCheckoutMandateHash
	if h == "" {
		return unresolved(CodeUnresolvedConstraint, "no open checkout mandate in this purchase")
	}
	if h != c.ConditionalTransactionID {
		return e.failed(CodeMandateHashMismatch, "the open checkout mandate used is not the one this mandate references")
	}
	return e.pass("the open checkout mandate used is the referenced one")
}

func (c *LineItemsConstraint) evaluate(e *evalEnv) Check {
	co := e.in.Checkout
	if co == nil {
		return unresolved(CodeUnresolvedConstraint, "no checkout to evaluate")
	}
	lines := make([]flowLine, len(co.LineItems))
	var want int64
	for i, li := range co.LineItems {
		lines[i] = flowLine{itemID: li.Item.ID, quantity: li.Item.Quantity}
		if li.Item.Quantity < 0 {
			return unresolved(CodeUnresolvedConstraint, "checkout has a negative quantity")
		}
		want += li.Item.Quantity
	}
	got, perRule := matchLineItems(lines, c.Items)
	limits := make([]Limit, len(c.Items))
	for j, r := range c.Items {
		limits[j] = Limit{Name: r.ID, Unit: "units", Max: r.Quantity, Requested: perRule[j], Remaining: r.Quantity - perRule[j]}
	}
	if got != want {
		return e.failed(CodeLineItemsNotAllowed, fmt.Sprintf("only %d of the checkout's %d units match an acceptable item within its quantity",
			got, want), limits...)
	}
	return e.pass(fmt.Sprintf("all %d units match acceptable items", want), limits...)
}

func (c *PriceConditionConstraint) evaluate(e *evalEnv) Check {
	co := e.in.Checkout
	var price int64 = -1
	what := "the checkout total"
	if co != nil {
		if co.Currency != c.Currency || co.Scale != c.Scale {
			return e.failed(CodeCurrencyMismatch, fmt.Sprintf("checkout is in %s/%d, the condition in %s/%d",
				co.Currency, co.Scale, c.Currency, c.Scale))
		}
		if c.ItemID == "" {
			price = co.Total()
		} else {
			what = fmt.Sprintf("the unit price of %q", c.ItemID)
			for _, li := range co.LineItems {
				if li.Item.ID == c.ItemID && li.UnitAmount > price {
					price = li.UnitAmount
				}
			}
			if price < 0 {
				return e.failed(CodePriceConditionNotMet, fmt.Sprintf("item %q is not in the checkout", c.ItemID))
			}
		}
	}
	var limits []Limit
	if price >= 0 {
		l, ok := moneyLimit("at_or_below", c.Currency, c.Scale, c.AtOrBelow, 0, price)
		limits = append(limits, l)
		if !ok {
			return e.failed(CodePriceConditionNotMet, fmt.Sprintf("%s is %s, above %s (the price moved)", what,
				e.fmtMoney(price, c.Currency, c.Scale), e.fmtMoney(c.AtOrBelow, c.Currency, c.Scale)), limits...)
		}
	}
	if len(c.Attestors) == 0 {
		if price < 0 {
			return unresolved(CodeUnresolvedConstraint, "no checkout to evaluate")
		}
		return e.pass(fmt.Sprintf("%s is %s, at or below %s", what, e.fmtMoney(price, c.Currency, c.Scale),
			e.fmtMoney(c.AtOrBelow, c.Currency, c.Scale)), limits...)
	}
	// An attested price is required.
	pa := e.in.Price
	if pa == nil || pa.Claims == nil {
		return unresolved(CodePriceAttestationRequired, "no price attestation")
	}
	a := pa.Claims
	trusted := false
	for _, id := range c.Attestors {
		if a.Issuer == id {
			trusted = true
		}
	}
	switch {
	case !trusted:
		return unresolved(CodePriceAttestationRequired, fmt.Sprintf("price attested by %q, not a named attestor", a.Issuer))
	case a.ItemID != c.ItemID:
		return unresolved(CodePriceAttestationRequired, fmt.Sprintf("attestation is for item %q, not %q", a.ItemID, c.ItemID))
	case co != nil && a.Merchant.ID != co.Merchant.ID:
		return unresolved(CodePriceAttestationRequired, fmt.Sprintf("attestation is for merchant %q, the checkout is from %q",
			a.Merchant.ID, co.Merchant.ID))
	case a.Price.Currency != c.Currency || a.Price.Scale != c.Scale:
		return e.failed(CodeCurrencyMismatch, fmt.Sprintf("attested price is in %s/%d, the condition in %s/%d",
			a.Price.Currency, a.Price.Scale, c.Currency, c.Scale))
	}
	age := e.in.Now.Unix() - a.IssuedAt
	if age > c.AttestationMaxAgeSeconds {
		return unresolved(CodePriceAttestationStale, fmt.Sprintf("attestation is %ds old, limit %ds", age, c.AttestationMaxAgeSeconds))
	}
	if !a.Available {
		return e.failed(CodePriceConditionNotMet, fmt.Sprintf("item %q is attested unavailable", c.ItemID))
	}
	l, ok := moneyLimit("attested_at_or_below", c.Currency, c.Scale, c.AtOrBelow, 0, a.Price.Amount)
	limits = append(limits, l)
	if !ok {
		return e.failed(CodePriceConditionNotMet, fmt.Sprintf("attested price %s is above %s", a.Price,
			e.fmtMoney(c.AtOrBelow, c.Currency, c.Scale)), limits...)
	}
	return e.pass(fmt.Sprintf("attested price %s (by %s, %ds old) is at or below %s", a.Price, a.Issuer, age,
		e.fmtMoney(c.AtOrBelow, c.Currency, c.Scale)), limits...)
}
