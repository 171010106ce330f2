package risk

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Features describes one payment attempt as seen by the risk rules. The
// wallet service fills it after the hard limits (mandate budgets, amount
// ranges, allowed payees) have passed. Counters such as
// AgentPaymentsLastMinute are read before the attempt is counted, so they
// describe the history the attempt would add to; SlidingCounter and
// DailyCounter are small helpers to keep them.
//
// All amounts are in minor units of Currency (for example cents).
type Features struct {
	// Amount of this payment, in minor units. Variable payment.amount.
	Amount int64
	// Currency or asset code, e.g. "USD", "USDC". Variable payment.currency.
	Currency string
	// MandateID is the spending mandate the payment is made under, or "".
	// Variable payment.mandate_id.
	MandateID string
	// HourUTC is the hour of day (0-23, UTC) of the attempt. Variable
	// payment.hour_utc.
	HourUTC int
	// PriceCondition is the price condition of the mandate, if any.
	// Variables payment.has_price_condition, payment.price_at_or_below.
	PriceCondition *PriceCondition
	// Metadata is free-form string attributes of the payment. Variable
	// payment.metadata (map(string, string)). The static cost estimate
	// assumes at most MaxMetadataEntries entries of at most MaxStringLen
	// bytes; larger inputs are still bounded by MaxRuntimeCost.
	Metadata map[string]string

	// MerchantID is the payee. Variable merchant.id.
	MerchantID string
	// MerchantCategory, e.g. an MCC or a platform category. Variable
	// merchant.category.
	MerchantCategory string
	// MerchantCountry is the payee's ISO 3166-1 alpha-2 country code, or ""
	// when unknown. Variable merchant.country.
	MerchantCountry string
	// IsNewMerchant is true when this wallet has never paid this payee
	// before. Variable merchant.is_new.
	IsNewMerchant bool
	// MerchantAmountToday is the amount this wallet paid this payee during
	// the current UTC day, excluding this payment. Variable
	// merchant.amount_today.
	MerchantAmountToday int64

	// AgentID is the agent making the payment. Variable agent.id.
	AgentID string
	// AgentPaymentsLastMinute is the number of payments by this agent in the
	// last minute, excluding this one. Variable agent.payments_last_minute.
	AgentPaymentsLastMinute int64
	// AgentAmountLastHour is the amount paid by this agent in the last hour,
	// excluding this payment. Variable agent.amount_last_hour.
	AgentAmountLastHour int64

	// WalletID is the wallet (owner) paying. Variable wallet.id.
	WalletID string
	// WalletAmountToday is the amount paid from this wallet during the
	// current UTC day, excluding this payment. Variable wallet.amount_today.
	WalletAmountToday int64
}

// PriceCondition is the price condition a mandate put on the purchase
// (buy only at or below a price).
type PriceCondition struct {
	// AtOrBelow is the price limit in minor units of the payment currency.
	AtOrBelow int64
}

// withinEstimateBounds reports whether every string and the metadata map
// of f are within the sizes the static cost estimate assumes
// (MaxStringLen, MaxMetadataEntries). Then the estimate, at most
// MaxEstimatedCost = MaxRuntimeCost, already bounds the evaluation cost
// of every compiled rule and Evaluate can skip runtime cost tracking.
func (f *Features) withinEstimateBounds() bool {
	if len(f.Currency) > MaxStringLen || len(f.MandateID) > MaxStringLen ||
		len(f.MerchantID) > MaxStringLen || len(f.MerchantCategory) > MaxStringLen ||
		len(f.MerchantCountry) > MaxStringLen || len(f.AgentID) > MaxStringLen ||
		len(f.WalletID) > MaxStringLen || len(f.Metadata) > MaxMetadataEntries {
		return false
	}
	for k, v := range f.Metadata {
		if len(k) > MaxStringLen || len(v) > MaxStringLen {
			return false
		}
	}
	return true
}

// Variable indices; the order of variables below must match.
const (
	vPaymentAmount = iota
	vPaymentCurrency
	vPaymentMandateID
	vPaymentHourUTC
	vPaymentHasPriceCondition
	vPaymentPriceAtOrBelow
	vPaymentMetadata
	vMerchantID
	vMerchantCategory
	vMerchantCountry
	vMerchantIsNew
	vMerchantAmountToday
	vAgentID
	vAgentPaymentsLastMinute
	vAgentAmountLastHour
	vWalletID
	vWalletAmountToday
	numVars
)

// variable is one CEL variable exposed to rules.
type variable struct {
	name string
	typ  *cel.Type
}

// variables lists every variable a rule can use, indexed by the v*
// constants. doc.go documents them.
var variables = [numVars]variable{
	vPaymentAmount:            {"payment.amount", cel.IntType},
	vPaymentCurrency:          {"payment.currency", cel.StringType},
	vPaymentMandateID:         {"payment.mandate_id", cel.StringType},
	vPaymentHourUTC:           {"payment.hour_utc", cel.IntType},
	vPaymentHasPriceCondition: {"payment.has_price_condition", cel.BoolType},
	vPaymentPriceAtOrBelow:    {"payment.price_at_or_below", cel.IntType},
	vPaymentMetadata:          {"payment.metadata", cel.MapType(cel.StringType, cel.StringType)},
	vMerchantID:               {"merchant.id", cel.StringType},
	vMerchantCategory:         {"merchant.category", cel.StringType},
	vMerchantCountry:          {"merchant.country", cel.StringType},
	vMerchantIsNew:            {"merchant.is_new", cel.BoolType},
	vMerchantAmountToday:      {"merchant.amount_today", cel.IntType},
	vAgentID:                  {"agent.id", cel.StringType},
	vAgentPaymentsLastMinute:  {"agent.payments_last_minute", cel.IntType},
	vAgentAmountLastHour:      {"agent.amount_last_hour", cel.IntType},
	vWalletID:                 {"wallet.id", cel.StringType},
	vWalletAmountToday:        {"wallet.amount_today", cel.IntType},
}

// activation resolves rule variables from one Features value. It is built
// once per Evaluate call and shared by all rules; each variable is
// converted to a CEL value at most once, on first use. It holds a copy of
// the Features, so the caller's need not outlive the call.
type activation struct {
	f    Features
	vals [numVars]ref.Val
	// tracked: evaluate with runtime cost tracking (inputs exceed the
	// estimate's bounds).
	tracked bool
}

var _ interpreter.Activation = (*activation)(nil)

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i := varIndex(name)
	if i < 0 {
		return nil, false
	}
	if v := a.vals[i]; v != nil {
		return v, true
	}
	v := a.value(i)
	a.vals[i] = v
	return v, true
}

func (a *activation) value(i int) ref.Val {
	f := &a.f
	switch i {
	case vPaymentAmount:
		return types.Int(f.Amount)
	case vPaymentCurrency:
		return types.String(f.Currency)
	case vPaymentMandateID:
		return types.String(f.MandateID)
	case vPaymentHourUTC:
		return types.Int(f.HourUTC)
	case vPaymentHasPriceCondition:
		return types.Bool(f.PriceCondition != nil)
	case vPaymentPriceAtOrBelow:
		if f.PriceCondition == nil {
			return types.IntZero
		}
		return types.Int(f.PriceCondition.AtOrBelow)
	case vPaymentMetadata:
		return types.NewStringStringMap(types.DefaultTypeAdapter, f.Metadata)
	case vMerchantID:
		return types.String(f.MerchantID)
	case vMerchantCategory:
		return types.String(f.MerchantCategory)
	case vMerchantCountry:
		return types.String(f.MerchantCountry)
	case vMerchantIsNew:
		return types.Bool(f.IsNewMerchant)
	case vMerchantAmountToday:
		return types.Int(f.MerchantAmountToday)
	case vAgentID:
		return types.String(f.AgentID)
	case vAgentPaymentsLastMinute:
		return types.Int(f.AgentPaymentsLastMinute)
	case vAgentAmountLastHour:
		return types.Int(f.AgentAmountLastHour)
	case vWalletID:
		return types.String(f.WalletID)
	case vWalletAmountToday:
		return types.Int(f.WalletAmountToday)
	}
	return types.NewErr("risk: unknown variable")
}

// varIndex maps a variable name to its index, or -1.
func varIndex(name string) int {
	switch name {
	case "payment.amount":
		return vPaymentAmount
	case "payment.currency":
		return vPaymentCurrency
	case "payment.mandate_id":
		return vPaymentMandateID
	case "payment.hour_utc":
		return vPaymentHourUTC
	case "payment.has_price_condition":
		return vPaymentHasPriceCondition
	case "payment.price_at_or_below":
		return vPaymentPriceAtOrBelow
	case "payment.metadata":
		return vPaymentMetadata
	case "merchant.id":
		return vMerchantID
	case "merchant.category":
		return vMerchantCategory
	case "merchant.country":
		return vMerchantCountry
	case "merchant.is_new":
		return vMerchantIsNew
	case "merchant.amount_today":
		return vMerchantAmountToday
	case "agent.id":
		return vAgentID
	case "agent.payments_last_minute":
		return vAgentPaymentsLastMinute
	case "agent.amount_last_hour":
		return vAgentAmountLastHour
	case "wallet.id":
		return vWalletID
	case "wallet.amount_today":
		return vWalletAmountToday
	}
	return -1
}
