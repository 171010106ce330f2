package protocol

// ACT v1: the signed objects of AgentPay's trust protocol. The
// specification for outside implementers is docs/protocol/act.md; this
// file holds the version, the object kinds, the limits and the claim
// types every object shares.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProtocolVersion is the version of the ACT protocol this package
// implements. Every object it signs carries the version as the suffix of
// its vct claim ("mandate.payment.open.1"), and a verifier refuses an
// object of another version with CodeVersionUnsupported. Any change to an
// object's claims, their rules, the JWS profile or a constraint's
// evaluation bumps the version; v1 objects stay verifiable as v1.
//
// Version history:
//
//   - 1 (2026-11-29): first version. JWS compact (EdDSA; ES256 verified),
//     agent credential, open and closed checkout and payment mandates
//     (AP2 v0.2 shapes, JWS instead of SD-JWT), merchant-signed checkout,
//     platform receipt and order attestation, refund, adjustment, price
//     attestation; eleven constraint types.
const ProtocolVersion = 1

// Limits, units last. Each bounds the work one object can cause a
// verifier; a larger object fails with the code named.
const (
	// JWSBytesMax bounds a compact JWS (CodeJWSTooLarge). A closed
	// checkout mandate embedding a checkout of LineItemsMax lines fits.
	JWSBytesMax = 256 << 10
	// HeaderBytesMax bounds the decoded protected header (CodeJWSTooLarge).
	HeaderBytesMax = 1024
	// JSONDepthMax bounds the nesting of a payload (CodeJWSTooLarge).
	JSONDepthMax = 12
	// IDBytesMax bounds every identifier: iss, sub, aud entries, jti,
	// merchant, item and order ids (CodeClaimsInvalid).
	IDBytesMax = 128
	// JTIBytesMin is the shortest jti accepted: a jti carries at least
	// 96 bits of randomness (NewJTI makes 128).
	JTIBytesMin = 16
	// CategoryBytesMax bounds a payee category (payment.allowed_categories).
	CategoryBytesMax = 64
	// TextBytesMax bounds names, titles, reasons and display texts.
	TextBytesMax = 200
	// LongTextBytesMax bounds prompt_summary, description and
	// error_description.
	LongTextBytesMax = 2000
	// AudiencesMax bounds the entries of aud.
	AudiencesMax = 8
	// ConstraintsMax bounds the constraints of one open mandate
	// (CodeConstraintInvalid).
	ConstraintsMax = 32
	// AllowedEntriesMax bounds allowed merchants or payees, attestors,
	// line-item rules, and acceptable items per rule.
	AllowedEntriesMax = 100
	// LineItemsMax bounds the lines of a checkout, refund or adjustment.
	LineItemsMax = 100
	// TotalsMax bounds the totals of a checkout.
	TotalsMax = 16
	// QuantityMax bounds a quantity.
	QuantityMax = 1_000_000
	// AmountMax is the largest amount in minor units: 2^53 − 1, the
	// largest integer every JSON implementation reads exactly.
	AmountMax = 1<<53 - 1
	// ScaleMax is the largest asset scale (decimal places of the minor unit).
	ScaleMax = 18
	// NumericDateMax is the latest time a claim may carry
	// (9999-12-31T23:59:59Z).
	NumericDateMax = 253402300799
	// ClockSkewLimit is the largest VerifyContext.ClockSkew accepted.
	ClockSkewLimit = 5 * time.Minute
)

// Lifetime limits: exp − iat of each kind that must expire
// (CodeLifetimeTooLong).
const (
	AgentCredentialLifetimeMax  = 400 * 24 * time.Hour
	OpenMandateLifetimeMax      = 400 * 24 * time.Hour
	ClosedMandateLifetimeMax    = time.Hour
	CheckoutLifetimeMax         = 7 * 24 * time.Hour
	PriceAttestationLifetimeMax = time.Hour
)

// Kind names one type of ACT object.
type Kind string

// The ACT v1 object kinds.
const (
	KindAgentCredential       Kind = "agent_credential"
	KindOpenCheckoutMandate   Kind = "open_checkout_mandate"
	KindOpenPaymentMandate    Kind = "open_payment_mandate"
	KindClosedCheckoutMandate Kind = "closed_checkout_mandate"
	KindClosedPaymentMandate  Kind = "closed_payment_mandate"
	KindCheckout              Kind = "checkout"
	KindReceipt               Kind = "receipt"
	KindOrderAttestation      Kind = "order_attestation"
	KindRefund                Kind = "refund"
	KindAdjustment            Kind = "adjustment"
	KindPriceAttestation      Kind = "price_attestation"
)

// PartyRole is the role of the party a key belongs to. A KeyDirectory
// reports it with the key, and each kind of object may be signed only by
// some roles (CodeSignerNotAllowed).
type PartyRole string

// The parties of the protocol.
const (
	// PartyUser is a wallet owner: signs agent credentials and open
	// mandates, and closed mandates while present.
	PartyUser PartyRole = "user"
	// PartyAgent acts for a user: signs closed mandates while the user is
	// away, and its HTTP requests.
	PartyAgent PartyRole = "agent"
	// PartyMerchant sells: signs checkouts, refunds, adjustments and
	// price attestations.
	PartyMerchant PartyRole = "merchant"
	// PartyVendor sells metered model tokens; it signs what a merchant
	// signs.
	PartyVendor PartyRole = "vendor"
	// PartyPlatform is the AgentPay platform: verifies, enforces budgets,
	// holds funds and signs receipts, order and price attestations.
	PartyPlatform PartyRole = "platform"
)

// kindSpec is the fixed profile of one kind.
type kindSpec struct {
	kind        Kind
	typ         string      // JWS header typ
	vct         string      // vct claim, with the version suffix
	signers     []PartyRole // roles that may sign it
	expRequired bool
	lifetimeMax time.Duration // 0: no limit (exp optional)
	subRequired bool          // sub is required (else forbidden)
}

// kindSpecs is every kind's profile.
var kindSpecs = map[Kind]*kindSpec{
	KindAgentCredential: {KindAgentCredential, "act-agent-credential+jwt", "act.agent_credential.1",
		[]PartyRole{PartyUser}, true, AgentCredentialLifetimeMax, true},
	KindOpenCheckoutMandate: {KindOpenCheckoutMandate, "act-open-checkout-mandate+jwt", "mandate.checkout.open.1",
		[]PartyRole{PartyUser}, true, OpenMandateLifetimeMax, true},
	KindOpenPaymentMandate: {KindOpenPaymentMandate, "act-open-payment-mandate+jwt", "mandate.payment.open.1",
		[]PartyRole{PartyUser}, true, OpenMandateLifetimeMax, true},
	KindClosedCheckoutMandate: {KindClosedCheckoutMandate, "act-checkout-mandate+jwt", "mandate.checkout.1",
		[]PartyRole{PartyUser, PartyAgent}, true, ClosedMandateLifetimeMax, false},
	KindClosedPaymentMandate: {KindClosedPaymentMandate, "act-payment-mandate+jwt", "mandate.payment.1",
		[]PartyRole{PartyUser, PartyAgent}, true, ClosedMandateLifetimeMax, false},
	KindCheckout: {KindCheckout, "act-checkout+jwt", "act.checkout.1",
		[]PartyRole{PartyMerchant, PartyVendor}, true, CheckoutLifetimeMax, false},
	KindReceipt: {KindReceipt, "act-receipt+jwt", "act.receipt.1",
		[]PartyRole{PartyPlatform}, false, 0, false},
	KindOrderAttestation: {KindOrderAttestation, "act-order-attestation+jwt", "act.order_attestation.1",
		[]PartyRole{PartyPlatform}, false, 0, false},
	KindRefund: {KindRefund, "act-refund+jwt", "act.refund.1",
		[]PartyRole{PartyMerchant, PartyVendor}, false, 0, false},
	KindAdjustment: {KindAdjustment, "act-adjustment+jwt", "act.adjustment.1",
		[]PartyRole{PartyMerchant, PartyVendor}, false, 0, false},
	KindPriceAttestation: {KindPriceAttestation, "act-price-attestation+jwt", "act.price_attestation.1",
		[]PartyRole{PartyMerchant, PartyVendor, PartyPlatform}, true, PriceAttestationLifetimeMax, false},
}

// Kinds returns every ACT v1 kind.
func Kinds() []Kind {
	return []Kind{KindAgentCredential, KindOpenCheckoutMandate, KindOpenPaymentMandate,
		KindClosedCheckoutMandate, KindClosedPaymentMandate, KindCheckout, KindReceipt,
		KindOrderAttestation, KindRefund, KindAdjustment, KindPriceAttestation}
}

// Typ returns the JWS header typ of kind k ("" for an unknown kind).
func (k Kind) Typ() string {
	if s, ok := kindSpecs[k]; ok {
		return s.typ
	}
	return ""
}

// VCT returns the vct claim of kind k, version suffix included ("" for
// an unknown kind).
func (k Kind) VCT() string {
	if s, ok := kindSpecs[k]; ok {
		return s.vct
	}
	return ""
}

// KindOfTyp returns the kind whose header typ is typ, and false if none is.
func KindOfTyp(typ string) (Kind, bool) {
	for k, s := range kindSpecs {
		if s.typ == typ {
			return k, true
		}
	}
	return "", false
}

// Modality says whether the user confirmed this purchase (AP2 "human
// present") or pre-set conditions let the agent pay alone ("human not
// present").
type Modality string

// The two modes.
const (
	HumanPresent    Modality = "human_present"
	HumanNotPresent Modality = "human_not_present"
)

// Claims are the registered JWT claims every ACT object carries, plus
// AP2's vct. Times are NumericDate: seconds since the Unix epoch, UTC.
type Claims struct {
	// VCT is the object type and version ("mandate.payment.open.1"). Sign
	// fills it in when empty; a verifier requires it to match the kind.
	VCT string `json:"vct"`
	// Issuer is the party id of the signer; a verifier requires it to be
	// the party its KeyDirectory reports for the signing key.
	Issuer string `json:"iss"`
	// Subject is the agent id, in agent credentials and open mandates
	// only (absent elsewhere).
	Subject string `json:"sub,omitempty"`
	// Audience lists the party ids the object is for; a verifier requires
	// its own id among them.
	Audience Audience `json:"aud"`
	// IssuedAt is when the object was signed.
	IssuedAt int64 `json:"iat"`
	// NotBefore is when the object starts being valid; 0 means at iat.
	NotBefore int64 `json:"nbf,omitempty"`
	// Expiry is when the object stops being valid (exclusive); required
	// for credentials, mandates, checkouts and price attestations, 0
	// (never) allowed for receipts, attestations, refunds, adjustments.
	Expiry int64 `json:"exp,omitempty"`
	// ID is the object's unique id (jti): at least JTIBytesMin characters
	// with 96 bits or more of randomness. Issuer and ID name the object
	// for revocation and replay detection.
	ID string `json:"jti"`
}

// claims returns c, so every object exposes its registered claims to the
// generic sign and verify code.
func (c *Claims) claims() *Claims { return c }

// Audience is the aud claim: one or more party ids. It is written as a
// JSON string when it has one entry and as an array otherwise, and read
// from either form (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON writes one entry as a string, several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings.
func (a *Audience) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// Contains reports whether id is one of the entries.
func (a Audience) Contains(id string) bool {
	for _, x := range a {
		if x == id {
			return true
		}
	}
	return false
}

// Money is an amount of one asset: an integer count of minor units
// (Amount), the asset's code (Currency: an ISO 4217 code such as "USD",
// or an AgentPay asset code such as "USDC") and its Scale (the number of
// decimal places of the minor unit: 2 for USD cents). Two Money values
// compare only when Currency and Scale are equal. There are no floats
// anywhere in the protocol.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Scale    uint8  `json:"scale"`
}

// SameAsset reports whether m and o are in the same currency and scale.
func (m Money) SameAsset(o Money) bool { return m.Currency == o.Currency && m.Scale == o.Scale }

// String renders "12.34 USD" (the amount at its scale).
func (m Money) String() string {
	var buf [48]byte
	b := appendMinor(buf[:0], m.Amount, m.Scale)
	b = append(b, ' ')
	return string(append(b, m.Currency...))
}

// formatMinor renders an amount of minor units at scale as a decimal.
func formatMinor(amount int64, scale uint8) string {
	var buf [48]byte
	return string(appendMinor(buf[:0], amount, scale))
}

// appendMinor appends amount of minor units at scale as a decimal: the
// digits of |amount|, zero-padded to scale+1, a point before the last
// scale of them, a minus sign first when negative.
func appendMinor(b []byte, amount int64, scale uint8) []byte {
	u := uint64(amount)
	if amount < 0 {
		b = append(b, '-')
		u = -u
	}
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	pad := max(int(scale)+1-len(d), 0)
	total := pad + len(d)
	point := total - int(scale) // digits before the point: at least 1
	for i := range total {
		if i == point {
			b = append(b, '.')
		}
		if i < pad {
			b = append(b, '0')
		} else {
			b = append(b, d[i-pad])
		}
	}
	return b
}

// Merchant identifies a payee (AP2 Merchant). Only ID is compared; Name
// and Website are for display.
type Merchant struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Website string `json:"website,omitempty"`
}

// PaymentInstrument names what pays (AP2 PaymentInstrument). On AgentPay
// it is a wallet: Type "agentpay_wallet", ID the wallet's id.
type PaymentInstrument struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// PaymentInstrumentWallet is the Type of an AgentPay wallet.
const PaymentInstrumentWallet = "agentpay_wallet"

// Confirmation is the cnf claim (RFC 7800): the agent's public key,
// which must be Ed25519.
type Confirmation struct {
	JWK JWK `json:"jwk"`
}

// KeyID returns the RFC 7638 thumbprint of the confirmed key.
func (c Confirmation) KeyID() (string, error) { return Thumbprint(c.JWK.Key) }

// NewConfirmation returns the cnf claim for pub, which must be an
// Ed25519 key.
func NewConfirmation(pub PublicKey) (Confirmation, error) {
	if pub.Algorithm() != AlgEdDSA {
		return Confirmation{}, fmt.Errorf("protocol: cnf: agent keys are Ed25519, got %q", pub.Algorithm())
	}
	return Confirmation{JWK: JWK{Key: pub.CryptoPublicKey()}}, nil
}

// HashJWS returns the hash ACT uses to reference an object: the unpadded
// base64url SHA-256 of the exact compact JWS bytes as received (never of
// re-serialized JSON). checkout_hash, transaction_id, open_mandate_hash
// and a receipt's reference are HashJWS values.
func HashJWS(compact []byte) string {
	var b [hashBytesB64]byte
	hashJWSTo(&b, compact)
	return string(b[:])
}

// hashJWSTo writes the HashJWS of compact to b.
func hashJWSTo(b *[hashBytesB64]byte, compact []byte) {
	sum := sha256.Sum256(compact)
	jwsB64.Encode(b[:], sum[:])
}

// hashBytesB64 is the length of a HashJWS value.
const hashBytesB64 = 43

// ---- claim rules shared by the object validators ----

// checkID checks an identifier: 1..IDBytesMax bytes of printable ASCII
// without space.
func checkID(param, s string) error {
	if s == "" {
		return fail(CodeClaimsInvalid, param, "missing")
	}
	if len(s) > IDBytesMax {
		return fail(CodeClaimsInvalid, param, fmt.Sprintf("%d bytes, limit %d", len(s), IDBytesMax))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fail(CodeClaimsInvalid, param, "not printable ASCII without spaces")
		}
	}
	return nil
}

// checkOptID checks an optional identifier.
func checkOptID(param, s string) error {
	if s == "" {
		return nil
	}
	return checkID(param, s)
}

// checkText checks free text: valid UTF-8, at most limit bytes, no
// control characters.
func checkText(param, s string, limit int) error {
	if len(s) > limit {
		return fail(CodeClaimsInvalid, param, fmt.Sprintf("%d bytes, limit %d", len(s), limit))
	}
	if !utf8.ValidString(s) {
		return fail(CodeClaimsInvalid, param, "not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fail(CodeClaimsInvalid, param, "contains a control character")
		}
	}
	return nil
}

// checkHash checks a HashJWS value.
func checkHash(param, s string) error {
	if !isHashB64(s) {
		return fail(CodeClaimsInvalid, param, "not a base64url SHA-256 hash")
	}
	return nil
}

// isHashB64 reports whether s is what jwsB64 encodes 32 bytes as: 43
// characters of the base64url alphabet, the last one's two low bits zero
// (the strict decoder refuses any other). Every payment checks a few, so
// it decodes nothing (TestIsHashB64, FuzzIsHashB64 hold it to the
// decoder).
func isHashB64(s string) bool {
	if len(s) != hashBytesB64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b64urlValue[s[i]] < 0 {
			return false
		}
	}
	return b64urlValue[s[len(s)-1]]&3 == 0
}

// b64urlValue is each byte's value in the base64url alphabet, -1 if none.
var b64urlValue = func() (t [256]int8) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// checkCurrency checks an asset code and scale.
func checkCurrency(param, currency string, scale uint8) error {
	if currency == "" || len(currency) > 16 {
		return fail(CodeClaimsInvalid, param+".currency", "must be 1..16 characters")
	}
	for i := 0; i < len(currency); i++ {
		c := currency[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fail(CodeClaimsInvalid, param+".currency", "must be upper-case letters and digits")
		}
	}
	if scale > ScaleMax {
		return fail(CodeClaimsInvalid, param+".scale", fmt.Sprintf("above %d", ScaleMax))
	}
	return nil
}

// checkAmount checks an amount of minor units: 0..AmountMax.
func checkAmount(param string, a int64) error {
	if a < 0 || a > AmountMax {
		return fail(CodeClaimsInvalid, param, fmt.Sprintf("%d is outside 0..%d", a, int64(AmountMax)))
	}
	return nil
}

// check checks a Money value.
func (m Money) check(param string) error {
	if checkAmount("", m.Amount) == nil && checkCurrency(param, m.Currency, m.Scale) == nil {
		return nil // the members' names are built only for an error
	}
	if err := checkCurrency(param, m.Currency, m.Scale); err != nil {
		return err
	}
	return checkAmount(param+".amount", m.Amount)
}

func (m Merchant) check(param string) error {
	if checkID("", m.ID) == nil && checkText("", m.Name, TextBytesMax) == nil && checkText("", m.Website, TextBytesMax) == nil {
		return nil // the members' names are built only for an error
	}
	if err := checkID(param+".id", m.ID); err != nil {
		return err
	}
	if err := checkText(param+".name", m.Name, TextBytesMax); err != nil {
		return err
	}
	return checkText(param+".website", m.Website, TextBytesMax)
}

func (p PaymentInstrument) check(param string) error {
	if checkID("", p.ID) == nil && checkID("", p.Type) == nil && checkText("", p.Description, LongTextBytesMax) == nil {
		return nil // the members' names are built only for an error
	}
	if err := checkID(param+".id", p.ID); err != nil {
		return err
	}
	if err := checkID(param+".type", p.Type); err != nil {
		return err
	}
	return checkText(param+".description", p.Description, LongTextBytesMax)
}

func (c Confirmation) check(param string) error {
	if c.JWK.Key == nil {
		return fail(CodeClaimsInvalid, param+".jwk", "missing")
	}
	pk, err := NewPublicKey(c.JWK.Key)
	if err != nil {
		return failWrap(CodeClaimsInvalid, param+".jwk", err)
	}
	if pk.Algorithm() != AlgEdDSA {
		return fail(CodeClaimsInvalid, param+".jwk", "agent keys are Ed25519")
	}
	return nil
}

// checkDate checks a NumericDate that must be set.
func checkDate(param string, t int64) error {
	if t <= 0 || t > NumericDateMax {
		return fail(CodeClaimsInvalid, param, "missing or out of range")
	}
	return nil
}

// checkOptDate checks a NumericDate that may be 0 (absent).
func checkOptDate(param string, t int64) error {
	if t == 0 {
		return nil
	}
	return checkDate(param, t)
}

// checkClaims checks the registered claims against the kind's profile
// (everything but time, which verifyTimes checks against a clock).
func (c *Claims) check(spec *kindSpec) error {
	if c.VCT != spec.vct {
		return vctError(spec, c.VCT)
	}
	if err := checkID("iss", c.Issuer); err != nil {
		return err
	}
	if spec.subRequired {
		if err := checkID("sub", c.Subject); err != nil {
			return err
		}
	} else if c.Subject != "" {
		return fail(CodeClaimsInvalid, "sub", "not allowed in this object")
	}
	if len(c.Audience) == 0 || len(c.Audience) > AudiencesMax {
		return fail(CodeClaimsInvalid, "aud", fmt.Sprintf("must have 1..%d entries", AudiencesMax))
	}
	for i, a := range c.Audience {
		if checkID("aud", a) != nil { // the entry is named only when it fails
			return checkID(fmt.Sprintf("aud[%d]", i), a)
		}
	}
	if err := checkDate("iat", c.IssuedAt); err != nil {
		return err
	}
	if err := checkOptDate("nbf", c.NotBefore); err != nil {
		return err
	}
	if spec.expRequired {
		if err := checkDate("exp", c.Expiry); err != nil {
			return err
		}
	} else if err := checkOptDate("exp", c.Expiry); err != nil {
		return err
	}
	if c.Expiry != 0 {
		if c.Expiry <= c.IssuedAt {
			return fail(CodeLifetimeTooLong, "exp", "not after iat")
		}
		if spec.lifetimeMax > 0 && c.Expiry-c.IssuedAt > int64(spec.lifetimeMax/time.Second) {
			return fail(CodeLifetimeTooLong, "exp", fmt.Sprintf("exp − iat is %ds, limit %s for %s",
				c.Expiry-c.IssuedAt, spec.lifetimeMax, spec.kind))
		}
		if c.NotBefore != 0 && c.NotBefore >= c.Expiry {
			return fail(CodeClaimsInvalid, "nbf", "not before exp")
		}
	}
	if err := checkID("jti", c.ID); err != nil {
		return err
	}
	if len(c.ID) < JTIBytesMin {
		return fail(CodeClaimsInvalid, "jti", fmt.Sprintf("%d bytes, at least %d", len(c.ID), JTIBytesMin))
	}
	return nil
}

// vctError classifies a vct that is not the kind's: another version of
// the same type is CodeVersionUnsupported, anything else CodeTypMismatch.
func vctError(spec *kindSpec, got string) error {
	base := spec.vct[:strings.LastIndexByte(spec.vct, '.')+1]
	if got != "" && strings.HasPrefix(got, base) {
		return fail(CodeVersionUnsupported, "vct", fmt.Sprintf("%q, this verifier implements %q", got, spec.vct))
	}
	return fail(CodeTypMismatch, "vct", fmt.Sprintf("%q, want %q", got, spec.vct))
}

// checkTimes checks the validity window against now with skew.
func (c *Claims) checkTimes(now time.Time, skew time.Duration) error {
	n := now.Unix()
	s := int64(skew / time.Second)
	if c.IssuedAt > n+s {
		return fail(CodeIssuedInFuture, "iat", fmt.Sprintf("iat %d is after now %d (skew %ds)", c.IssuedAt, n, s))
	}
	if c.NotBefore != 0 && n+s < c.NotBefore {
		return fail(CodeNotYetValid, "nbf", fmt.Sprintf("valid from %d, now %d (skew %ds)", c.NotBefore, n, s))
	}
	if c.Expiry != 0 && n >= c.Expiry+s {
		return fail(CodeExpired, "exp", fmt.Sprintf("expired at %d, now %d (skew %ds)", c.Expiry, n, s))
	}
	return nil
}
