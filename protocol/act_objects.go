package protocol

// The ACT v1 objects: the claims of each signed object and its rules.
// Field names follow AP2 v0.2 where AP2 has the field, ACP where ACP has
// it, and are ACT's own otherwise (docs/protocol/act.md has the mapping).

import (
	"fmt"
)

// Object is an ACT object: one of this package's object types, by
// pointer (*AgentCredential, *OpenPaymentMandate, ...). Sign signs one;
// the Verify functions return one inside a Verified.
type Object interface {
	// Kind is the object's kind.
	Kind() Kind
	// claims returns the registered claims.
	claims() *Claims
	// validate checks the object's own rules (the registered claims are
	// checked separately).
	validate() error
}

// AgentCredential binds an agent's Ed25519 key to a wallet owner. Signed
// by the owner (iss, PartyUser); sub is the agent's id; aud is the
// platform. The platform registers the agent key from it; revoking the
// credential (or the key) ends everything the agent signs.
type AgentCredential struct {
	Claims
	// Cnf is the agent's public key (Ed25519).
	Cnf Confirmation `json:"cnf"`
	// Name is a display name for the agent (optional).
	Name string `json:"name,omitempty"`
}

// OpenCheckoutMandate (AP2 vct mandate.checkout.open.1) lets the agent
// named by sub and cnf choose checkouts within Constraints (checkout.*
// types) while the user is away. Signed by the user.
type OpenCheckoutMandate struct {
	Claims
	Cnf         Confirmation `json:"cnf"`
	Constraints Constraints  `json:"constraints"`
	// PromptSummary is the user's request in their words (optional).
	PromptSummary string `json:"prompt_summary,omitempty"`
}

// OpenPaymentMandate (AP2 vct mandate.payment.open.1) lets the agent
// named by sub and cnf pay from PaymentInstrument within Constraints
// (payment.* types) while the user is away. Signed by the user. It must
// carry a payment.amount_range or a payment.budget: an open payment
// mandate without a money ceiling is refused.
type OpenPaymentMandate struct {
	Claims
	Cnf               Confirmation      `json:"cnf"`
	PaymentInstrument PaymentInstrument `json:"payment_instrument"`
	Constraints       Constraints       `json:"constraints"`
}

// ClosedCheckoutMandate (AP2 vct mandate.checkout.1) accepts one
// merchant-signed checkout, bound by its hash. Human present: signed by
// the user, no open_mandate_hash. Human not present: signed by the agent
// with the key of the open checkout mandate whose hash is
// OpenMandateHash. Single use (Issuer, ID).
type ClosedCheckoutMandate struct {
	Claims
	// CheckoutJWT is the merchant's checkout, the exact compact JWS bytes.
	CheckoutJWT string `json:"checkout_jwt"`
	// CheckoutHash is HashJWS(CheckoutJWT).
	CheckoutHash string `json:"checkout_hash"`
	// OpenMandateHash is HashJWS of the open checkout mandate (human not
	// present only).
	OpenMandateHash string   `json:"open_mandate_hash,omitempty"`
	Modality        Modality `json:"modality"`
}

// ClosedPaymentMandate (AP2 vct mandate.payment.1) authorizes one
// payment of PaymentAmount to Payee for the checkout whose hash is
// TransactionID. Signed like a ClosedCheckoutMandate. Single use.
type ClosedPaymentMandate struct {
	Claims
	// TransactionID is the HashJWS of the checkout paid for (AP2).
	TransactionID     string            `json:"transaction_id"`
	Payee             Merchant          `json:"payee"`
	PaymentAmount     Money             `json:"payment_amount"`
	PaymentInstrument PaymentInstrument `json:"payment_instrument"`
	// ExecutionDate is when the payment is to execute (NumericDate); 0
	// means at once.
	ExecutionDate int64 `json:"execution_date,omitempty"`
	// OpenMandateHash is HashJWS of the open payment mandate (human not
	// present only).
	OpenMandateHash string   `json:"open_mandate_hash,omitempty"`
	Modality        Modality `json:"modality"`
}

// Checkout is a merchant's signed offer of one cart (ACP checkout shape):
// what is sold, for how much, until exp. Signed by the merchant (iss),
// whose id Merchant.ID must be. All amounts are integer minor units of
// Currency at Scale.
type Checkout struct {
	Claims
	// ID is the merchant's checkout (order) id.
	ID        string     `json:"id"`
	Merchant  Merchant   `json:"merchant"`
	Currency  string     `json:"currency"`
	Scale     uint8      `json:"scale"`
	LineItems []LineItem `json:"line_items"`
	Totals    []Total    `json:"totals"`
}

// LineItem is one checkout line (ACP LineItem). Rules: BaseAmount =
// UnitAmount × Item.Quantity; Subtotal = BaseAmount − Discount; Total =
// Subtotal + Tax.
type LineItem struct {
	ID         string `json:"id"`
	Item       Item   `json:"item"`
	UnitAmount int64  `json:"unit_amount"`
	BaseAmount int64  `json:"base_amount"`
	Discount   int64  `json:"discount,omitempty"`
	Subtotal   int64  `json:"subtotal"`
	Tax        int64  `json:"tax,omitempty"`
	Total      int64  `json:"total"`
}

// Item is what a line sells: the item (SKU) id, a title, and how many.
type Item struct {
	ID       string `json:"id"`
	Title    string `json:"title,omitempty"`
	Quantity int64  `json:"quantity"`
}

// Total types (ACP).
const (
	TotalItemsBaseAmount = "items_base_amount"
	TotalItemsDiscount   = "items_discount"
	TotalSubtotal        = "subtotal"
	TotalDiscount        = "discount"
	TotalFulfillment     = "fulfillment"
	TotalTax             = "tax"
	TotalFee             = "fee"
	TotalTotal           = "total"
)

// Total is one line of a checkout's totals (ACP Total). Each type appears
// at most once; subtotal and total are required. Rules: items_base_amount
// and items_discount, when present, are the sums over the lines;
// subtotal is the sum of line subtotals; tax is at least the sum of line
// taxes (absent: that sum is 0); total = subtotal − discount + fulfillment
// + tax + fee.
type Total struct {
	Type        string `json:"type"`
	Amount      int64  `json:"amount"`
	DisplayText string `json:"display_text,omitempty"`
}

// Receipt results (AP2).
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// Receipt is the platform's signed answer to an object it received (AP2
// mandate/payment receipt): Reference is the HashJWS of the exact bytes
// it acknowledges, Result success or error, Error a registered code.
// Signed by the platform; aud is whoever the receipt is for.
type Receipt struct {
	Claims
	Result    string `json:"result"`
	Reference string `json:"reference"`
	// ReferenceVCT is the vct of the acknowledged object.
	ReferenceVCT     string `json:"reference_vct"`
	Error            Code   `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
	// PaymentID is the platform's payment (transfer or hold) id, on
	// success of a payment.
	PaymentID string `json:"payment_id,omitempty"`
	// OrderID is the platform's order id, on success of a checkout.
	OrderID string `json:"order_id,omitempty"`
	// Amount is what moved or was held, on success of a payment.
	Amount *Money `json:"amount,omitempty"`
}

// Order attestation statuses.
const (
	OrderAuthorized = "authorized" // funds held in escrow for the merchant until capture_deadline
	OrderCaptured   = "captured"   // funds paid to the merchant
	OrderVoided     = "voided"     // hold released; the order will not be paid
)

// OrderAttestation is the platform's signed statement to a merchant that
// a machine order is genuine and funded: the checkout (by hash) was
// accepted under the payment mandate (by hash), and Amount is held for
// the merchant (authorized) or paid (captured). aud must include
// Payee.ID.
type OrderAttestation struct {
	Claims
	OrderID            string   `json:"order_id"`
	CheckoutID         string   `json:"checkout_id"`
	CheckoutHash       string   `json:"checkout_hash"`
	PaymentMandateHash string   `json:"payment_mandate_hash"`
	Payee              Merchant `json:"payee"`
	Amount             Money    `json:"amount"`
	Status             string   `json:"status"`
	Modality           Modality `json:"modality"`
	// HoldID is the escrow hold (authorized) or transfer (captured) id.
	HoldID string `json:"hold_id,omitempty"`
	// CaptureDeadline is when an authorized hold expires if not captured.
	CaptureDeadline int64 `json:"capture_deadline,omitempty"`
}

// Refund reasons.
const (
	RefundRequestedByCustomer = "requested_by_customer"
	RefundDuplicate           = "duplicate"
	RefundFraudulent          = "fraudulent"
	RefundNotDelivered        = "not_delivered"
	RefundDefective           = "defective"
	RefundPriceAdjustment     = "price_adjustment"
	RefundOther               = "other"
)

// Refund is a merchant's signed instruction to return Amount of an order
// to the payer. The platform refuses it beyond what was captured (net of
// earlier refunds) and answers with a Receipt. Single use (Issuer, ID).
type Refund struct {
	Claims
	// RefundID is the merchant's id of this refund.
	RefundID     string       `json:"refund_id"`
	OrderID      string       `json:"order_id"`
	CheckoutHash string       `json:"checkout_hash"`
	Amount       Money        `json:"amount"`
	Reason       string       `json:"reason"`
	Description  string       `json:"description,omitempty"`
	LineItems    []RefundLine `json:"line_items,omitempty"`
}

// RefundLine names a checkout line (by its id) and a quantity.
type RefundLine struct {
	ID       string `json:"id"`
	Quantity int64  `json:"quantity"`
}

// Adjustment types (ACP).
const (
	AdjustmentRefund          = "refund"
	AdjustmentCredit          = "credit"
	AdjustmentReturn          = "return"
	AdjustmentExchange        = "exchange"
	AdjustmentPriceAdjustment = "price_adjustment"
	AdjustmentCancellation    = "cancellation"
	AdjustmentDispute         = "dispute"
)

// Adjustment statuses (ACP).
const (
	AdjustmentPending   = "pending"
	AdjustmentCompleted = "completed"
	AdjustmentFailed    = "failed"
)

// Adjustment is a merchant's signed, append-only record of a change to
// an order (ACP Order.adjustments[]). It moves no money by itself; a
// money-moving adjustment links the Refund that does (RefundHash).
type Adjustment struct {
	Claims
	AdjustmentID string       `json:"adjustment_id"`
	OrderID      string       `json:"order_id"`
	Type         string       `json:"type"`
	Status       string       `json:"status"`
	OccurredAt   int64        `json:"occurred_at"`
	Amount       *Money       `json:"amount,omitempty"`
	LineItems    []RefundLine `json:"line_items,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Description  string       `json:"description,omitempty"`
	RefundHash   string       `json:"refund_hash,omitempty"`
}

// PriceAttestation is a signed observation of an item's unit price at a
// merchant (iat is the observation time; exp at most an hour later), the
// evidence a conditional order ("buy when at or below N") waits for.
// Signed by the merchant itself, a vendor, or the platform.
type PriceAttestation struct {
	Claims
	Merchant  Merchant     `json:"merchant"`
	ItemID    string       `json:"item_id"`
	Price     Money        `json:"price"`
	Available bool         `json:"available"`
	Source    *PriceSource `json:"source,omitempty"`
}

// PriceSource is the provenance of a price (ACP PriceSource).
type PriceSource struct {
	FeedID       string `json:"feed_id"`
	FeedUpdateID string `json:"feed_update_id,omitempty"`
}

// Kind implementations.

// Kind returns KindAgentCredential.
func (*AgentCredential) Kind() Kind { return KindAgentCredential }

// Kind returns KindOpenCheckoutMandate.
func (*OpenCheckoutMandate) Kind() Kind { return KindOpenCheckoutMandate }

// Kind returns KindOpenPaymentMandate.
func (*OpenPaymentMandate) Kind() Kind { return KindOpenPaymentMandate }

// Kind returns KindClosedCheckoutMandate.
func (*ClosedCheckoutMandate) Kind() Kind { return KindClosedCheckoutMandate }

// Kind returns KindClosedPaymentMandate.
func (*ClosedPaymentMandate) Kind() Kind { return KindClosedPaymentMandate }

// Kind returns KindCheckout.
func (*Checkout) Kind() Kind { return KindCheckout }

// Kind returns KindReceipt.
func (*Receipt) Kind() Kind { return KindReceipt }

// Kind returns KindOrderAttestation.
func (*OrderAttestation) Kind() Kind { return KindOrderAttestation }

// Kind returns KindRefund.
func (*Refund) Kind() Kind { return KindRefund }

// Kind returns KindAdjustment.
func (*Adjustment) Kind() Kind { return KindAdjustment }

// Kind returns KindPriceAttestation.
func (*PriceAttestation) Kind() Kind { return KindPriceAttestation }

// ---- validation ----

func (o *AgentCredential) validate() error {
	if err := o.Cnf.check("cnf"); err != nil {
		return err
	}
	return checkText("name", o.Name, TextBytesMax)
}

func (o *OpenCheckoutMandate) validate() error {
	if err := o.Cnf.check("cnf"); err != nil {
		return err
	}
	if err := checkText("prompt_summary", o.PromptSummary, LongTextBytesMax); err != nil {
		return err
	}
	_, _, err := checkConstraints(o.Constraints, "checkout.")
	return err
}

func (o *OpenPaymentMandate) validate() error {
	if err := o.Cnf.check("cnf"); err != nil {
		return err
	}
	if err := o.PaymentInstrument.check("payment_instrument"); err != nil {
		return err
	}
	if _, _, err := checkConstraints(o.Constraints, "payment."); err != nil {
		return err
	}
	for _, c := range o.Constraints {
		switch c.(type) {
		case *AmountRangeConstraint, *BudgetConstraint:
			return nil
		}
	}
	return fail(CodeConstraintInvalid, "constraints", "an open payment mandate needs a payment.amount_range or a payment.budget")
}

// Currency returns the currency and scale of the mandate's money
// constraints.
func (o *OpenPaymentMandate) Currency() (string, uint8) {
	c, s, _ := checkConstraints(o.Constraints, "payment.")
	return c, s
}

// checkModality checks the modality and its open mandate hash.
func checkModality(m Modality, openHash string) error {
	switch m {
	case HumanPresent:
		if openHash != "" {
			return fail(CodeClaimsInvalid, "open_mandate_hash", "not allowed when the user is present")
		}
	case HumanNotPresent:
		return checkHash("open_mandate_hash", openHash)
	default:
		return fail(CodeClaimsInvalid, "modality", fmt.Sprintf("%q; want human_present or human_not_present", m))
	}
	return nil
}

func (o *ClosedCheckoutMandate) validate() error {
	if o.CheckoutJWT == "" {
		return fail(CodeClaimsInvalid, "checkout_jwt", "missing")
	}
	if err := checkHash("checkout_hash", o.CheckoutHash); err != nil {
		return err
	}
	if HashJWS([]byte(o.CheckoutJWT)) != o.CheckoutHash {
		return fail(CodeCheckoutHashMismatch, "checkout_hash", "is not the hash of checkout_jwt")
	}
	return checkModality(o.Modality, o.OpenMandateHash)
}

func (o *ClosedPaymentMandate) validate() error {
	if err := checkHash("transaction_id", o.TransactionID); err != nil {
		return err
	}
	if err := o.Payee.check("payee"); err != nil {
		return err
	}
	if err := o.PaymentAmount.check("payment_amount"); err != nil {
		return err
	}
	if err := o.PaymentInstrument.check("payment_instrument"); err != nil {
		return err
	}
	if err := checkOptDate("execution_date", o.ExecutionDate); err != nil {
		return err
	}
	return checkModality(o.Modality, o.OpenMandateHash)
}

// Total returns the amount of the checkout's "total" entry (0 if absent;
// a verified checkout always has one).
func (o *Checkout) Total() int64 {
	for _, t := range o.Totals {
		if t.Type == TotalTotal {
			return t.Amount
		}
	}
	return 0
}

// Money returns the checkout's total as Money.
func (o *Checkout) Money() Money {
	return Money{Amount: o.Total(), Currency: o.Currency, Scale: o.Scale}
}

func (o *Checkout) validate() error {
	if err := checkID("id", o.ID); err != nil {
		return err
	}
	if err := o.Merchant.check("merchant"); err != nil {
		return err
	}
	if o.Merchant.ID != o.Issuer {
		return fail(CodeClaimsInvalid, "merchant.id", "must be the issuer (iss)")
	}
	if err := checkCurrency("", o.Currency, o.Scale); err != nil {
		return err
	}
	if len(o.LineItems) == 0 || len(o.LineItems) > LineItemsMax {
		return fail(CodeClaimsInvalid, "line_items", fmt.Sprintf("must have 1..%d lines", LineItemsMax))
	}
	var sumBase, sumDiscount, sumSubtotal, sumTax int64
	lineIDs := map[string]bool{}
	for i, li := range o.LineItems {
		p := fmt.Sprintf("line_items[%d]", i)
		if err := checkID(p+".id", li.ID); err != nil {
			return err
		}
		if lineIDs[li.ID] {
			return fail(CodeClaimsInvalid, p+".id", "repeated")
		}
		lineIDs[li.ID] = true
		if err := checkID(p+".item.id", li.Item.ID); err != nil {
			return err
		}
		if err := checkText(p+".item.title", li.Item.Title, TextBytesMax); err != nil {
			return err
		}
		if li.Item.Quantity < 1 || li.Item.Quantity > QuantityMax {
			return fail(CodeClaimsInvalid, p+".item.quantity", fmt.Sprintf("must be 1..%d", QuantityMax))
		}
		for _, f := range []struct {
			name string
			v    int64
		}{{"unit_amount", li.UnitAmount}, {"base_amount", li.BaseAmount}, {"discount", li.Discount},
			{"subtotal", li.Subtotal}, {"tax", li.Tax}, {"total", li.Total}} {
			if err := checkAmount(p+"."+f.name, f.v); err != nil {
				return err
			}
		}
		if li.UnitAmount != 0 && li.Item.Quantity > AmountMax/li.UnitAmount {
			return fail(CodeClaimsInvalid, p+".base_amount", "unit_amount × quantity is above AmountMax")
		}
		if li.BaseAmount != li.UnitAmount*li.Item.Quantity {
			return fail(CodeClaimsInvalid, p+".base_amount", "is not unit_amount × quantity")
		}
		if li.Subtotal != li.BaseAmount-li.Discount {
			return fail(CodeClaimsInvalid, p+".subtotal", "is not base_amount − discount")
		}
		if li.Total != li.Subtotal+li.Tax {
			return fail(CodeClaimsInvalid, p+".total", "is not subtotal + tax")
		}
		sumBase += li.BaseAmount
		sumDiscount += li.Discount
		sumSubtotal += li.Subtotal
		sumTax += li.Tax
	}
	if len(o.Totals) == 0 || len(o.Totals) > TotalsMax {
		return fail(CodeClaimsInvalid, "totals", fmt.Sprintf("must have 1..%d entries", TotalsMax))
	}
	totals := map[string]int64{}
	for i, t := range o.Totals {
		p := fmt.Sprintf("totals[%d]", i)
		switch t.Type {
		case TotalItemsBaseAmount, TotalItemsDiscount, TotalSubtotal, TotalDiscount,
			TotalFulfillment, TotalTax, TotalFee, TotalTotal:
		default:
			return fail(CodeClaimsInvalid, p+".type", fmt.Sprintf("unknown total type %q", t.Type))
		}
		if _, dup := totals[t.Type]; dup {
			return fail(CodeClaimsInvalid, p+".type", "repeated")
		}
		if err := checkAmount(p+".amount", t.Amount); err != nil {
			return err
		}
		if err := checkText(p+".display_text", t.DisplayText, TextBytesMax); err != nil {
			return err
		}
		totals[t.Type] = t.Amount
	}
	sub, okSub := totals[TotalSubtotal]
	total, okTotal := totals[TotalTotal]
	if !okSub || !okTotal {
		return fail(CodeClaimsInvalid, "totals", "subtotal and total are required")
	}
	if v, ok := totals[TotalItemsBaseAmount]; ok && v != sumBase {
		return fail(CodeClaimsInvalid, "totals", "items_base_amount is not the sum of line base amounts")
	}
	if v, ok := totals[TotalItemsDiscount]; ok && v != sumDiscount {
		return fail(CodeClaimsInvalid, "totals", "items_discount is not the sum of line discounts")
	}
	if sub != sumSubtotal {
		return fail(CodeClaimsInvalid, "totals", "subtotal is not the sum of line subtotals")
	}
	tax, okTax := totals[TotalTax]
	if (okTax && tax < sumTax) || (!okTax && sumTax != 0) {
		return fail(CodeClaimsInvalid, "totals", "tax is less than the sum of line taxes")
	}
	if total != sub-totals[TotalDiscount]+totals[TotalFulfillment]+tax+totals[TotalFee] {
		return fail(CodeClaimsInvalid, "totals", "total is not subtotal − discount + fulfillment + tax + fee")
	}
	return nil
}

func (o *Receipt) validate() error {
	switch o.Result {
	case ResultSuccess:
		if o.Error != "" || o.ErrorDescription != "" {
			return fail(CodeClaimsInvalid, "error", "not allowed on success")
		}
	case ResultError:
		if _, ok := o.Error.Info(); !ok {
			return fail(CodeClaimsInvalid, "error", fmt.Sprintf("%q is not a registered code", o.Error))
		}
	default:
		return fail(CodeClaimsInvalid, "result", fmt.Sprintf("%q; want success or error", o.Result))
	}
	if err := checkHash("reference", o.Reference); err != nil {
		return err
	}
	if err := checkID("reference_vct", o.ReferenceVCT); err != nil {
		return err
	}
	if err := checkText("error_description", o.ErrorDescription, LongTextBytesMax); err != nil {
		return err
	}
	if err := checkOptID("payment_id", o.PaymentID); err != nil {
		return err
	}
	if err := checkOptID("order_id", o.OrderID); err != nil {
		return err
	}
	if o.Amount != nil {
		return o.Amount.check("amount")
	}
	return nil
}

func (o *OrderAttestation) validate() error {
	for _, f := range []struct{ name, v string }{{"order_id", o.OrderID}, {"checkout_id", o.CheckoutID}} {
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkHash("checkout_hash", o.CheckoutHash); err != nil {
		return err
	}
	if err := checkHash("payment_mandate_hash", o.PaymentMandateHash); err != nil {
		return err
	}
	if err := o.Payee.check("payee"); err != nil {
		return err
	}
	if !o.Audience.Contains(o.Payee.ID) {
		return fail(CodeClaimsInvalid, "aud", "must include the payee")
	}
	if err := o.Amount.check("amount"); err != nil {
		return err
	}
	switch o.Status {
	case OrderAuthorized, OrderCaptured, OrderVoided:
	default:
		return fail(CodeClaimsInvalid, "status", fmt.Sprintf("%q; want authorized, captured or voided", o.Status))
	}
	if o.Modality != HumanPresent && o.Modality != HumanNotPresent {
		return fail(CodeClaimsInvalid, "modality", fmt.Sprintf("%q; want human_present or human_not_present", o.Modality))
	}
	if err := checkOptID("hold_id", o.HoldID); err != nil {
		return err
	}
	return checkOptDate("capture_deadline", o.CaptureDeadline)
}

func checkRefundLines(lines []RefundLine) error {
	if len(lines) > LineItemsMax {
		return fail(CodeClaimsInvalid, "line_items", fmt.Sprintf("more than %d lines", LineItemsMax))
	}
	for i, l := range lines {
		p := fmt.Sprintf("line_items[%d]", i)
		if err := checkID(p+".id", l.ID); err != nil {
			return err
		}
		if l.Quantity < 1 || l.Quantity > QuantityMax {
			return fail(CodeClaimsInvalid, p+".quantity", fmt.Sprintf("must be 1..%d", QuantityMax))
		}
	}
	return nil
}

func (o *Refund) validate() error {
	for _, f := range []struct{ name, v string }{{"refund_id", o.RefundID}, {"order_id", o.OrderID}} {
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkHash("checkout_hash", o.CheckoutHash); err != nil {
		return err
	}
	if err := o.Amount.check("amount"); err != nil {
		return err
	}
	if o.Amount.Amount < 1 {
		return fail(CodeClaimsInvalid, "amount.amount", "must be at least 1")
	}
	switch o.Reason {
	case RefundRequestedByCustomer, RefundDuplicate, RefundFraudulent, RefundNotDelivered,
		RefundDefective, RefundPriceAdjustment, RefundOther:
	default:
		return fail(CodeClaimsInvalid, "reason", fmt.Sprintf("unknown reason %q", o.Reason))
	}
	if err := checkText("description", o.Description, LongTextBytesMax); err != nil {
		return err
	}
	return checkRefundLines(o.LineItems)
}

func (o *Adjustment) validate() error {
	for _, f := range []struct{ name, v string }{{"adjustment_id", o.AdjustmentID}, {"order_id", o.OrderID}} {
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	switch o.Type {
	case AdjustmentRefund, AdjustmentCredit, AdjustmentReturn, AdjustmentExchange,
		AdjustmentPriceAdjustment, AdjustmentCancellation, AdjustmentDispute:
	default:
		return fail(CodeClaimsInvalid, "type", fmt.Sprintf("unknown adjustment type %q", o.Type))
	}
	switch o.Status {
	case AdjustmentPending, AdjustmentCompleted, AdjustmentFailed:
	default:
		return fail(CodeClaimsInvalid, "status", fmt.Sprintf("unknown adjustment status %q", o.Status))
	}
	if err := checkDate("occurred_at", o.OccurredAt); err != nil {
		return err
	}
	if o.Amount != nil {
		if err := o.Amount.check("amount"); err != nil {
			return err
		}
	}
	if err := checkRefundLines(o.LineItems); err != nil {
		return err
	}
	if err := checkText("reason", o.Reason, TextBytesMax); err != nil {
		return err
	}
	if err := checkText("description", o.Description, LongTextBytesMax); err != nil {
		return err
	}
	if o.RefundHash != "" {
		return checkHash("refund_hash", o.RefundHash)
	}
	return nil
}

func (o *PriceAttestation) validate() error {
	if err := o.Merchant.check("merchant"); err != nil {
		return err
	}
	if err := checkID("item_id", o.ItemID); err != nil {
		return err
	}
	if err := o.Price.check("price"); err != nil {
		return err
	}
	if o.Source != nil {
		if err := checkID("source.feed_id", o.Source.FeedID); err != nil {
			return err
		}
		return checkOptID("source.feed_update_id", o.Source.FeedUpdateID)
	}
	return nil
}
