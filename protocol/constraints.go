package protocol

// Typed constraints of open mandates. Each is a JSON object {type, ...};
// the type names follow AP2 v0.2 where AP2 has the constraint. The set is
// closed: a verifier refuses a mandate carrying a type it does not know
// (CodeConstraintUnknown) rather than ignore it.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Constraint type names.
const (
	// Open checkout mandate constraints.
	ConstraintAllowedMerchants = "checkout.allowed_merchants" // AP2
	ConstraintLineItems        = "checkout.line_items"        // AP2
	ConstraintPriceCondition   = "checkout.price_condition"   // ACT

	// Open payment mandate constraints.
	ConstraintAmountRange       = "payment.amount_range"       // AP2
	ConstraintBudget            = "payment.budget"             // AP2, plus period
	ConstraintAgentRecurrence   = "payment.agent_recurrence"   // AP2
	ConstraintAllowedPayees     = "payment.allowed_payees"     // AP2
	ConstraintExecutionDate     = "payment.execution_date"     // AP2
	ConstraintApprovalThreshold = "payment.approval_threshold" // ACT
	ConstraintPaymentReference  = "payment.reference"          // AP2
	ConstraintAllowedCategories = "payment.allowed_categories" // ACT
)

// Constraint is one typed constraint of an open mandate. The
// implementations are this package's *...Constraint types; the interface
// is sealed so that the set of types a verifier evaluates is exactly the
// set it can decode.
type Constraint interface {
	// ConstraintType is the type name, e.g. ConstraintAmountRange.
	ConstraintType() string
	// check validates the fields; param is the JSON path of the constraint.
	check(param string) error
	// money returns the currency and scale the constraint is expressed
	// in, and false when it has no money field.
	money() (currency string, scale uint8, ok bool)
	// evaluate decides the constraint.
	evaluate(env *evalEnv) Check
	// wire returns the value to marshal (the fields plus "type").
	wire() any
}

// Constraints is the constraints claim: a JSON array of typed objects.
// Unmarshalling fails closed on an unknown type with a *Failure of code
// CodeConstraintUnknown, and on a malformed entry with
// CodeConstraintInvalid.
type Constraints []Constraint

// MarshalJSON writes each constraint with its "type" member first.
func (cs Constraints) MarshalJSON() ([]byte, error) {
	if cs == nil {
		return []byte("[]"), nil
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, c := range cs {
		if c == nil {
			return nil, fmt.Errorf("protocol: constraints[%d] is nil", i)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		j, err := json.Marshal(c.wire())
		if err != nil {
			return nil, fmt.Errorf("protocol: constraints[%d]: %w", i, err)
		}
		b.Write(j)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes the array strictly (unknown members refused).
func (cs *Constraints) UnmarshalJSON(data []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return failWrap(CodeConstraintInvalid, "constraints", err)
	}
	if len(raws) > ConstraintsMax {
		return fail(CodeConstraintInvalid, "constraints", fmt.Sprintf("%d constraints, limit %d", len(raws), ConstraintsMax))
	}
	out := make(Constraints, 0, len(raws))
	for i, raw := range raws {
		param := fmt.Sprintf("constraints[%d]", i)
		c, err := decodeConstraint(raw)
		if err != nil {
			return withParamPrefix(err, param)
		}
		out = append(out, c)
	}
	*cs = out
	return nil
}

// decodeConstraint decodes one constraint object.
func decodeConstraint(raw []byte) (Constraint, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, failWrap(CodeConstraintInvalid, "", err)
	}
	if head.Type == nil {
		return nil, fail(CodeConstraintInvalid, "type", "missing")
	}
	strict := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return failWrap(CodeConstraintInvalid, "", err)
		}
		return nil
	}
	switch *head.Type {
	case ConstraintAllowedMerchants:
		var w struct {
			Type string `json:"type"`
			AllowedMerchantsConstraint
		}
		return &w.AllowedMerchantsConstraint, strict(&w)
	case ConstraintLineItems:
		var w struct {
			Type string `json:"type"`
			LineItemsConstraint
		}
		return &w.LineItemsConstraint, strict(&w)
	case ConstraintPriceCondition:
		var w struct {
			Type string `json:"type"`
			PriceConditionConstraint
		}
		return &w.PriceConditionConstraint, strict(&w)
	case ConstraintAmountRange:
		var w struct {
			Type string `json:"type"`
			AmountRangeConstraint
		}
		return &w.AmountRangeConstraint, strict(&w)
	case ConstraintBudget:
		var w struct {
			Type string `json:"type"`
			BudgetConstraint
		}
		return &w.BudgetConstraint, strict(&w)
	case ConstraintAgentRecurrence:
		var w struct {
			Type string `json:"type"`
			RecurrenceConstraint
		}
		return &w.RecurrenceConstraint, strict(&w)
	case ConstraintAllowedPayees:
		var w struct {
			Type string `json:"type"`
			AllowedPayeesConstraint
		}
		return &w.AllowedPayeesConstraint, strict(&w)
	case ConstraintExecutionDate:
		var w struct {
			Type string `json:"type"`
			ExecutionDateConstraint
		}
		return &w.ExecutionDateConstraint, strict(&w)
	case ConstraintApprovalThreshold:
		var w struct {
			Type string `json:"type"`
			ApprovalThresholdConstraint
		}
		return &w.ApprovalThresholdConstraint, strict(&w)
	case ConstraintPaymentReference:
		var w struct {
			Type string `json:"type"`
			PaymentReferenceConstraint
		}
		return &w.PaymentReferenceConstraint, strict(&w)
	case ConstraintAllowedCategories:
		var w struct {
			Type string `json:"type"`
			AllowedCategoriesConstraint
		}
		return &w.AllowedCategoriesConstraint, strict(&w)
	}
	t := *head.Type
	if len(t) > 64 {
		t = t[:64] + "…"
	}
	return nil, fail(CodeConstraintUnknown, "type", fmt.Sprintf("unknown constraint type %q (fails closed)", t))
}

// AllowedMerchantsConstraint (checkout.allowed_merchants, AP2): the
// checkout's merchant must be one of Allowed (compared by id).
type AllowedMerchantsConstraint struct {
	Allowed []Merchant `json:"allowed"`
}

// LineItemsConstraint (checkout.line_items, AP2): every unit of every
// checkout line must be matched to one rule that accepts its item id,
// each rule taking at most its Quantity units in total. The match is a
// maximum flow, so a line may be split across rules and rules may share
// acceptable items.
type LineItemsConstraint struct {
	Items []LineItemRule `json:"items"`
}

// LineItemRule is one entry of checkout.line_items: up to Quantity units
// of any of AcceptableItems. ID names the rule.
type LineItemRule struct {
	ID              string           `json:"id"`
	AcceptableItems []AcceptableItem `json:"acceptable_items"`
	Quantity        int64            `json:"quantity"`
}

// AcceptableItem is an item a LineItemRule accepts, by item id; Title is
// for display.
type AcceptableItem struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
}

// PriceConditionConstraint (checkout.price_condition, ACT): buy only at
// or below a price. With ItemID set, every checkout line of that item
// must have a unit_amount of at most AtOrBelow; without it, the
// checkout's total must be at most AtOrBelow. When Attestors is not
// empty, a price attestation signed by one of them, for the checkout's
// merchant and ItemID, at most AttestationMaxAgeSeconds old, must also
// show the item available at or below AtOrBelow; a missing or stale
// attestation leaves the constraint unresolved (the user is asked).
type PriceConditionConstraint struct {
	ItemID                   string   `json:"item_id,omitempty"`
	Currency                 string   `json:"currency"`
	Scale                    uint8    `json:"scale"`
	AtOrBelow                int64    `json:"at_or_below"`
	Attestors                []string `json:"attestors,omitempty"`
	AttestationMaxAgeSeconds int64    `json:"attestation_max_age_seconds,omitempty"`
}

// AmountRangeConstraint (payment.amount_range, AP2): each payment's
// amount must be within [Min, Max], in Currency at Scale.
type AmountRangeConstraint struct {
	Currency string `json:"currency"`
	Scale    uint8  `json:"scale"`
	Min      int64  `json:"min,omitempty"`
	Max      int64  `json:"max"`
}

// Budget periods. Periods are UTC calendar periods: the day from 00:00,
// the ISO week from Monday 00:00, the month from the 1st 00:00.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
	PeriodTotal = "total"
)

// BudgetConstraint (payment.budget, AP2 with an ACT period): what was
// spent under the mandate in the current Period (or in total), plus this
// payment, must be at most Max. A mandate may carry one budget per
// period. Unlike AP2's number-typed max, Max is integer minor units.
type BudgetConstraint struct {
	Currency string `json:"currency"`
	Scale    uint8  `json:"scale"`
	Max      int64  `json:"max"`
	// Period is PeriodDay, PeriodWeek, PeriodMonth or PeriodTotal; empty
	// means PeriodTotal.
	Period string `json:"period,omitempty"`
}

// Recurrence frequencies (AP2's enumeration).
const (
	FrequencyOnDemand  = "ON_DEMAND"
	FrequencyDaily     = "DAILY"
	FrequencyWeekly    = "WEEKLY"
	FrequencyBiweekly  = "BIWEEKLY"
	FrequencyMonthly   = "MONTHLY"
	FrequencyQuarterly = "QUARTERLY"
	FrequencyAnnually  = "ANNUALLY"
)

// RecurrenceConstraint (payment.agent_recurrence, AP2): the mandate may
// be used at most MaxOccurrences times (0: no count limit), and, unless
// Frequency is ON_DEMAND, not again before one Frequency interval passed
// since its last use (DAILY 24 h, WEEKLY 7 days, BIWEEKLY 14 days,
// MONTHLY, QUARTERLY and ANNUALLY calendar months and years in UTC).
type RecurrenceConstraint struct {
	Frequency      string `json:"frequency"`
	MaxOccurrences int64  `json:"max_occurrences,omitempty"`
}

// AllowedPayeesConstraint (payment.allowed_payees, AP2): the payee must
// be one of Allowed (compared by id).
type AllowedPayeesConstraint struct {
	Allowed []Merchant `json:"allowed"`
}

// ExecutionDateConstraint (payment.execution_date, AP2): the payment
// must execute at or after NotBefore and at or before NotAfter
// (NumericDate; 0 is no bound; at least one is set).
type ExecutionDateConstraint struct {
	NotBefore int64 `json:"not_before,omitempty"`
	NotAfter  int64 `json:"not_after,omitempty"`
}

// ApprovalThresholdConstraint (payment.approval_threshold, ACT): a
// payment above Amount needs the user's approval of this purchase; until
// then the decision is OutcomeApprovalRequired (AP2's
// unresolved_constraint: the purchase continues human present).
type ApprovalThresholdConstraint struct {
	Currency string `json:"currency"`
	Scale    uint8  `json:"scale"`
	Amount   int64  `json:"amount"`
}

// PaymentReferenceConstraint (payment.reference, AP2): the purchase must
// use the open checkout mandate whose HashJWS is
// ConditionalTransactionID.
type PaymentReferenceConstraint struct {
	ConditionalTransactionID string `json:"conditional_transaction_id"`
}

// AllowedCategoriesConstraint (payment.allowed_categories, ACT): the
// payee's category must be one of Categories. The category is the one
// the platform knows for the payee (its merchant registry), never one the
// agent claims; a payee the platform knows no category for leaves the
// constraint unresolved (the user is asked). Each category is a short
// lowercase token: 1..CategoryBytesMax bytes of [a-z0-9_-], starting
// with a letter or digit.
type AllowedCategoriesConstraint struct {
	Categories []string `json:"categories"`
}

// ConstraintType implementations.

// ConstraintType returns ConstraintAllowedMerchants.
func (*AllowedMerchantsConstraint) ConstraintType() string { return ConstraintAllowedMerchants }

// ConstraintType returns ConstraintLineItems.
func (*LineItemsConstraint) ConstraintType() string { return ConstraintLineItems }

// ConstraintType returns ConstraintPriceCondition.
func (*PriceConditionConstraint) ConstraintType() string { return ConstraintPriceCondition }

// ConstraintType returns ConstraintAmountRange.
func (*AmountRangeConstraint) ConstraintType() string { return ConstraintAmountRange }

// ConstraintType returns ConstraintBudget.
func (*BudgetConstraint) ConstraintType() string { return ConstraintBudget }

// ConstraintType returns ConstraintAgentRecurrence.
func (*RecurrenceConstraint) ConstraintType() string { return ConstraintAgentRecurrence }

// ConstraintType returns ConstraintAllowedPayees.
func (*AllowedPayeesConstraint) ConstraintType() string { return ConstraintAllowedPayees }

// ConstraintType returns ConstraintExecutionDate.
func (*ExecutionDateConstraint) ConstraintType() string { return ConstraintExecutionDate }

// ConstraintType returns ConstraintApprovalThreshold.
func (*ApprovalThresholdConstraint) ConstraintType() string { return ConstraintApprovalThreshold }

// ConstraintType returns ConstraintPaymentReference.
func (*PaymentReferenceConstraint) ConstraintType() string { return ConstraintPaymentReference }

// ConstraintType returns ConstraintAllowedCategories.
func (*AllowedCategoriesConstraint) ConstraintType() string { return ConstraintAllowedCategories }

// wire implementations: the fields with "type" first.

func (c *AllowedMerchantsConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		AllowedMerchantsConstraint
	}{ConstraintAllowedMerchants, *c}
}

func (c *LineItemsConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		LineItemsConstraint
	}{ConstraintLineItems, *c}
}

func (c *PriceConditionConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		PriceConditionConstraint
	}{ConstraintPriceCondition, *c}
}

func (c *AmountRangeConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		AmountRangeConstraint
	}{ConstraintAmountRange, *c}
}

func (c *BudgetConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		BudgetConstraint
	}{ConstraintBudget, *c}
}

func (c *RecurrenceConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		RecurrenceConstraint
	}{ConstraintAgentRecurrence, *c}
}

func (c *AllowedPayeesConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		AllowedPayeesConstraint
	}{ConstraintAllowedPayees, *c}
}

func (c *ExecutionDateConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		ExecutionDateConstraint
	}{ConstraintExecutionDate, *c}
}

func (c *ApprovalThresholdConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		ApprovalThresholdConstraint
	}{ConstraintApprovalThreshold, *c}
}

func (c *PaymentReferenceConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		PaymentReferenceConstraint
	}{ConstraintPaymentReference, *c}
}

func (c *AllowedCategoriesConstraint) wire() any {
	return struct {
		Type string `json:"type"`
		AllowedCategoriesConstraint
	}{ConstraintAllowedCategories, *c}
}

// money implementations.

func (*AllowedMerchantsConstraint) money() (string, uint8, bool) { return "", 0, false }
func (*LineItemsConstraint) money() (string, uint8, bool)        { return "", 0, false }
func (c *PriceConditionConstraint) money() (string, uint8, bool) { return c.Currency, c.Scale, true }
func (c *AmountRangeConstraint) money() (string, uint8, bool)    { return c.Currency, c.Scale, true }
func (c *BudgetConstraint) money() (string, uint8, bool)         { return c.Currency, c.Scale, true }
func (*RecurrenceConstraint) money() (string, uint8, bool)       { return "", 0, false }
func (*AllowedPayeesConstraint) money() (string, uint8, bool)    { return "", 0, false }
func (*ExecutionDateConstraint) money() (string, uint8, bool)    { return "", 0, false }
func (c *ApprovalThresholdConstraint) money() (string, uint8, bool) {
	return c.Currency, c.Scale, true
}
func (*PaymentReferenceConstraint) money() (string, uint8, bool)  { return "", 0, false }
func (*AllowedCategoriesConstraint) money() (string, uint8, bool) { return "", 0, false }

// ---- field rules ----

// cfail is a CodeConstraintInvalid failure at param.
func cfail(param, msg string) error { return fail(CodeConstraintInvalid, param, msg) }

// asConstraintInvalid turns a claims failure into a constraint one.
func asConstraintInvalid(err error) error {
	var f *Failure
	if errors.As(err, &f) && f.Code == CodeClaimsInvalid {
		return &Failure{Code: CodeConstraintInvalid, Param: f.Param, Err: f.Err}
	}
	return err
}

func checkMerchantList(param string, l []Merchant) error {
	if len(l) == 0 || len(l) > AllowedEntriesMax {
		return cfail(param+".allowed", fmt.Sprintf("must have 1..%d entries", AllowedEntriesMax))
	}
	for i, m := range l {
		if err := m.check(fmt.Sprintf("%s.allowed[%d]", param, i)); err != nil {
			return asConstraintInvalid(err)
		}
	}
	return nil
}

func (c *AllowedMerchantsConstraint) check(param string) error {
	return checkMerchantList(param, c.Allowed)
}

func (c *AllowedPayeesConstraint) check(param string) error {
	return checkMerchantList(param, c.Allowed)
}

func (c *LineItemsConstraint) check(param string) error {
	if len(c.Items) == 0 || len(c.Items) > AllowedEntriesMax {
		return cfail(param+".items", fmt.Sprintf("must have 1..%d rules", AllowedEntriesMax))
	}
	ids := map[string]bool{}
	for i, r := range c.Items {
		p := fmt.Sprintf("%s.items[%d]", param, i)
		if err := checkID(p+".id", r.ID); err != nil {
			return asConstraintInvalid(err)
		}
		if ids[r.ID] {
			return cfail(p+".id", "repeated")
		}
		ids[r.ID] = true
		if r.Quantity < 1 || r.Quantity > QuantityMax {
			return cfail(p+".quantity", fmt.Sprintf("must be 1..%d", QuantityMax))
		}
		if len(r.AcceptableItems) == 0 || len(r.AcceptableItems) > AllowedEntriesMax {
			return cfail(p+".acceptable_items", fmt.Sprintf("must have 1..%d entries", AllowedEntriesMax))
		}
		for j, a := range r.AcceptableItems {
			q := fmt.Sprintf("%s.acceptable_items[%d]", p, j)
			if err := checkID(q+".id", a.ID); err != nil {
				return asConstraintInvalid(err)
			}
			if err := checkText(q+".title", a.Title, TextBytesMax); err != nil {
				return asConstraintInvalid(err)
			}
		}
	}
	return nil
}

func checkMoneyFields(param, currency string, scale uint8) error {
	return asConstraintInvalid(checkCurrency(param, currency, scale))
}

func checkMoneyAmount(param string, a int64) error {
	return asConstraintInvalid(checkAmount(param, a))
}

func (c *PriceConditionConstraint) check(param string) error {
	if err := checkMoneyFields(param, c.Currency, c.Scale); err != nil {
		return err
	}
	if err := checkMoneyAmount(param+".at_or_below", c.AtOrBelow); err != nil {
		return err
	}
	if err := asConstraintInvalid(checkOptID(param+".item_id", c.ItemID)); err != nil {
		return err
	}
	if len(c.Attestors) > AllowedEntriesMax {
		return cfail(param+".attestors", fmt.Sprintf("more than %d entries", AllowedEntriesMax))
	}
	for i, a := range c.Attestors {
		if err := asConstraintInvalid(checkID(fmt.Sprintf("%s.attestors[%d]", param, i), a)); err != nil {
			return err
		}
	}
	maxAge := int64(PriceAttestationLifetimeMax.Seconds())
	if len(c.Attestors) > 0 {
		if c.ItemID == "" {
			return cfail(param+".item_id", "required when attestors are named")
		}
		if c.AttestationMaxAgeSeconds < 1 || c.AttestationMaxAgeSeconds > maxAge {
			return cfail(param+".attestation_max_age_seconds", fmt.Sprintf("must be 1..%d when attestors are named", maxAge))
		}
	} else if c.AttestationMaxAgeSeconds != 0 {
		return cfail(param+".attestation_max_age_seconds", "only with attestors")
	}
	return nil
}

func (c *AmountRangeConstraint) check(param string) error {
	if err := checkMoneyFields(param, c.Currency, c.Scale); err != nil {
		return err
	}
	if err := checkMoneyAmount(param+".min", c.Min); err != nil {
		return err
	}
	if err := checkMoneyAmount(param+".max", c.Max); err != nil {
		return err
	}
	if c.Max < 1 || c.Min > c.Max {
		return cfail(param+".max", "max must be at least 1 and not below min")
	}
	return nil
}

func (c *BudgetConstraint) check(param string) error {
	if err := checkMoneyFields(param, c.Currency, c.Scale); err != nil {
		return err
	}
	if err := checkMoneyAmount(param+".max", c.Max); err != nil {
		return err
	}
	if c.Max < 1 {
		return cfail(param+".max", "must be at least 1")
	}
	switch c.Period {
	case "", PeriodDay, PeriodWeek, PeriodMonth, PeriodTotal:
	default:
		return cfail(param+".period", fmt.Sprintf("%q; want day, week, month or total", c.Period))
	}
	return nil
}

// period is the budget's period with the default applied.
func (c *BudgetConstraint) period() string {
	if c.Period == "" {
		return PeriodTotal
	}
	return c.Period
}

func (c *RecurrenceConstraint) check(param string) error {
	switch c.Frequency {
	case FrequencyOnDemand, FrequencyDaily, FrequencyWeekly, FrequencyBiweekly,
		FrequencyMonthly, FrequencyQuarterly, FrequencyAnnually:
	default:
		return cfail(param+".frequency", fmt.Sprintf("%q is not an AP2 frequency", c.Frequency))
	}
	if c.MaxOccurrences < 0 || c.MaxOccurrences > QuantityMax {
		return cfail(param+".max_occurrences", fmt.Sprintf("must be 0..%d", QuantityMax))
	}
	if c.Frequency == FrequencyOnDemand && c.MaxOccurrences == 0 {
		return cfail(param, "ON_DEMAND without max_occurrences limits nothing")
	}
	return nil
}

func (c *ExecutionDateConstraint) check(param string) error {
	if c.NotBefore == 0 && c.NotAfter == 0 {
		return cfail(param, "not_before or not_after is required")
	}
	if err := asConstraintInvalid(checkOptDate(param+".not_before", c.NotBefore)); err != nil {
		return err
	}
	if err := asConstraintInvalid(checkOptDate(param+".not_after", c.NotAfter)); err != nil {
		return err
	}
	if c.NotBefore != 0 && c.NotAfter != 0 && c.NotAfter < c.NotBefore {
		return cfail(param+".not_after", "before not_before")
	}
	return nil
}

func (c *ApprovalThresholdConstraint) check(param string) error {
	if err := checkMoneyFields(param, c.Currency, c.Scale); err != nil {
		return err
	}
	return checkMoneyAmount(param+".amount", c.Amount)
}

func (c *PaymentReferenceConstraint) check(param string) error {
	err := checkHash(param+".conditional_transaction_id", c.ConditionalTransactionID)
	return asConstraintInvalid(err)
}

// ValidCategory reports whether s is a well-formed payee category: 1..
// CategoryBytesMax bytes of [a-z0-9_-], starting with a letter or digit.
func ValidCategory(s string) bool {
	if len(s) == 0 || len(s) > CategoryBytesMax {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func (c *AllowedCategoriesConstraint) check(param string) error {
	if len(c.Categories) == 0 || len(c.Categories) > AllowedEntriesMax {
		return cfail(param+".categories", fmt.Sprintf("must have 1..%d entries", AllowedEntriesMax))
	}
	seen := make(map[string]bool, len(c.Categories))
	for i, cat := range c.Categories {
		p := fmt.Sprintf("%s.categories[%d]", param, i)
		if !ValidCategory(cat) {
			return cfail(p, fmt.Sprintf("must be 1..%d bytes of [a-z0-9_-], starting with a letter or digit", CategoryBytesMax))
		}
		if seen[cat] {
			return cfail(p, "repeated")
		}
		seen[cat] = true
	}
	return nil
}

// checkConstraints validates a mandate's constraints: each one's fields;
// only types of the mandate's namespace (checkout.* or payment.*); at most
// one of each type (one budget per period, one price condition per
// item); every money constraint in one currency and scale. It returns
// that currency and scale (empty when none has money).
func checkConstraints(cs Constraints, namespace string) (currency string, scale uint8, err error) {
	if len(cs) > ConstraintsMax {
		return "", 0, cfail("constraints", fmt.Sprintf("%d constraints, limit %d", len(cs), ConstraintsMax))
	}
	seen := map[string]bool{}
	for i, c := range cs {
		param := fmt.Sprintf("constraints[%d]", i)
		if c == nil {
			return "", 0, cfail(param, "missing")
		}
		t := c.ConstraintType()
		if len(t) <= len(namespace) || t[:len(namespace)] != namespace {
			return "", 0, cfail(param+".type", fmt.Sprintf("%s is not allowed in this mandate (want %s*)", t, namespace))
		}
		if err := c.check(param); err != nil {
			return "", 0, err
		}
		key := t
		switch c := c.(type) {
		case *BudgetConstraint:
			key += "/" + c.period()
		case *PriceConditionConstraint:
			key += "/" + c.ItemID
		}
		if seen[key] {
			return "", 0, cfail(param+".type", fmt.Sprintf("a second %s", key))
		}
		seen[key] = true
		if cur, sc, ok := c.money(); ok {
			if currency == "" {
				currency, scale = cur, sc
			} else if cur != currency || sc != scale {
				return "", 0, cfail(param+".currency", fmt.Sprintf("%s/%d, but the mandate's money constraints are in %s/%d",
					cur, sc, currency, scale))
			}
		}
	}
	return currency, scale, nil
}
