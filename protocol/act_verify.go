package protocol

// Signing and verifying ACT objects.

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"
)

// Sign checks obj against every rule a verifier applies that does not
// depend on the clock or on keys (registered claims, the kind's lifetime
// limit, the object's own rules, constraint types and fields) and
// returns its compact JWS signed by s, with header {alg, kid, typ}. An
// empty VCT is set to the kind's. The payload is the JSON encoding of
// obj; Sign is deterministic for an Ed25519 signer, so fixed inputs give
// fixed bytes (the test vectors rely on it).
//
// Errors: a *Failure (CodeClaimsInvalid, CodeLifetimeTooLong,
// CodeConstraintInvalid, CodeJWSTooLarge, ...) for an object a verifier
// would refuse, or the signer's error.
func Sign(s Signer, obj Object) ([]byte, error) {
	if s == nil || obj == nil || reflect.ValueOf(obj).IsNil() {
		return nil, errors.New("protocol: sign: nil signer or object")
	}
	spec := kindSpecs[obj.Kind()]
	c := obj.claims()
	if c.VCT == "" {
		c.VCT = spec.vct
	}
	if err := c.check(spec); err != nil {
		return nil, fmt.Errorf("protocol: sign %s: %w", spec.kind, err)
	}
	if err := obj.validate(); err != nil {
		return nil, fmt.Errorf("protocol: sign %s: %w", spec.kind, err)
	}
	payload, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("protocol: sign %s: marshal: %w", spec.kind, err)
	}
	if err := checkJSONShape(payload); err != nil {
		return nil, fmt.Errorf("protocol: sign %s: %w", spec.kind, failWrap(CodeClaimsInvalid, "", err))
	}
	out, err := signCompact(s, spec.typ, payload)
	if err != nil {
		return nil, fmt.Errorf("protocol: sign %s: %w", spec.kind, err)
	}
	return out, nil
}

// PartyKey is a key as a KeyDirectory knows it: the key, the id of the
// party it belongs to (the iss of what it signs) and the party's role.
type PartyKey struct {
	Key   PublicKey
	Party string
	Role  PartyRole
}

// KeyDirectory is the verifier's key resolver: it finds the key a kid
// names. The platform's directory holds user keys, agent keys (from agent
// credentials), merchant, vendor and platform keys; an offline verifier
// uses a KeySet.
type KeyDirectory interface {
	// LookupKey returns the key whose RFC 7638 thumbprint is kid. It
	// returns an error wrapping ErrUnknownKey if there is none,
	// ErrRevokedKey if it was revoked, and any other error when it could
	// not tell (verification then fails with CodeVerifierUnavailable).
	LookupKey(ctx context.Context, kid string) (PartyKey, error)
}

// RevocationList tells whether an object was revoked by its issuer.
type RevocationList interface {
	// Revoked reports whether the object with iss issuer and jti id was
	// revoked. An error means it could not tell.
	Revoked(ctx context.Context, issuer, id string) (bool, error)
}

// VerifyContext is what a verification needs besides the object. Now,
// Audience and Keys are required.
type VerifyContext struct {
	// Now is the verifier's clock reading.
	Now time.Time
	// Audience is the party id the verifier requires in aud: its own id,
	// or the id of the party it verifies for.
	Audience string
	// Keys resolves kids to party keys.
	Keys KeyDirectory
	// ClockSkew is the tolerated clock difference for iat, nbf and exp:
	// ClockSkewMaxDefault if zero, none if negative, at most
	// ClockSkewLimit.
	ClockSkew time.Duration
	// Revocations, if set, is consulted for every object (CodeRevoked).
	Revocations RevocationList
	// Trace, if set, is called after each check with the check's name,
	// what was checked and its result (nil on success); agentpay verify
	// prints it.
	Trace func(check, detail string, err error)
}

// skew returns the effective clock skew.
func (vc *VerifyContext) skew() time.Duration {
	switch {
	case vc.ClockSkew == 0:
		return ClockSkewMaxDefault
	case vc.ClockSkew < 0:
		return 0
	}
	return vc.ClockSkew
}

// check validates the context itself (a programmer error: CodeInternal).
func (vc *VerifyContext) check() error {
	switch {
	case vc == nil:
		return fail(CodeInternal, "", "verify context is nil")
	case vc.Now.IsZero():
		return fail(CodeInternal, "", "verify context has no Now")
	case vc.Audience == "":
		return fail(CodeInternal, "", "verify context has no Audience")
	case vc.Keys == nil:
		return fail(CodeInternal, "", "verify context has no Keys")
	case vc.ClockSkew > ClockSkewLimit:
		return fail(CodeInternal, "", fmt.Sprintf("clock skew %s is above %s", vc.ClockSkew, ClockSkewLimit))
	}
	return nil
}

// tracef notes a passed check whose detail is formatted only when
// tracing.
func (vc *VerifyContext) tracef(check, format string, args ...any) {
	if vc.Trace != nil {
		vc.Trace(check, fmt.Sprintf(format, args...), nil)
	}
}

// note reports a check to Trace and returns err.
func (vc *VerifyContext) note(check, detail string, err error) error {
	if vc.Trace != nil {
		vc.Trace(check, detail, err)
	}
	return err
}

// Verified is an object that passed verification: its claims, the exact
// bytes received, their HashJWS, the header and the key that signed it.
type Verified[T any] struct {
	Claims *T
	Raw    []byte // not to be modified: it may share memory with Parsed.Text
	Hash   string
	Header Header
	Signer PartyKey
}

// objectPtr is a pointer to an object type.
type objectPtr[T any] interface {
	*T
	Object
}

// lookupKey calls the directory and classifies its error.
func lookupKey(ctx context.Context, vc *VerifyContext, kid string) (PartyKey, error) {
	pk, err := vc.Keys.LookupKey(ctx, kid)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownKey):
		return PartyKey{}, failWrap(CodeKeyUnknown, "header.kid", err)
	case errors.Is(err, ErrRevokedKey):
		return PartyKey{}, failWrap(CodeKeyRevoked, "header.kid", err)
	default:
		return PartyKey{}, failWrap(CodeVerifierUnavailable, "header.kid", fmt.Errorf("key lookup: %w", err))
	}
	if pk.Key.IsZero() || pk.Key.KeyID() != kid {
		return PartyKey{}, fail(CodeInternal, "header.kid", "key directory returned a key whose thumbprint is not the kid")
	}
	if pk.Party == "" {
		return PartyKey{}, fail(CodeInternal, "header.kid", "key directory returned a key without a party")
	}
	return pk, nil
}

// verifyObject runs the checks every object gets, in this order: size
// and framing, header, typ, key lookup, alg against the key, signer
// role, signature over the exact bytes, then (only now) the payload as
// strict JSON, vct, issuer = key's party, audience, time window, the
// kind's rules, revocation.
func verifyObject[T any, P objectPtr[T]](ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[T], error) {
	return verifyParsed[T, P](ctx, vc, Parse[T, P](raw))
}

// Parsed is an ACT object read but not verified: its framing and header
// parsed and its payload decoded as strict JSON, each failure kept for
// verification to report at its place in the order of checks. It lets a
// verifier route on an unverified field (which open mandate a closed
// mandate names) without decoding the payload twice; nothing in it may be
// trusted before a Verify function given it succeeds.
type Parsed[T any] struct {
	raw    []byte
	cj     *compactJWS
	cjErr  error // framing and header
	obj    *T
	objErr error  // base64url or strict JSON of the payload, or its vct
	objAt  string // which of those failed, for the trace

	// cj and obj point here: a parse is one allocation for them (every
	// payment parses a closed mandate).
	cjv  compactJWS
	objv T

	copied bool // raw is the parse's own copy (Text shares it)
}

// Parse reads an ACT object of type T without verifying it. It never
// fails: what is wrong is reported by the Verify function given it.
func Parse[T any, P objectPtr[T]](raw []byte) *Parsed[T] {
	// A copy, so the bytes verified are the bytes decoded whatever the
	// caller does with raw meanwhile (Verified.Raw shares it).
	// (One too large is refused before anything is copied.)
	// The copy has room after it for the decoded payload (at most
	// three quarters of raw), so the two are one allocation.
	var spare []byte
	if len(raw) <= JWSBytesMax {
		buf := make([]byte, len(raw), len(raw)+jwsB64.DecodedLen(len(raw)))
		copy(buf, raw)
		raw, spare = buf[:len(raw):len(raw)], buf[len(raw):cap(buf)]
	}
	p := &Parsed[T]{raw: raw, copied: spare != nil}
	if p.cjErr = p.cjv.parse(raw); p.cjErr != nil {
		return p
	}
	p.cj = &p.cjv
	var obj P = &p.objv
	spec := kindSpecs[obj.Kind()]
	payload := spare[:jwsB64.DecodedLen(len(p.cj.payloadB64))]
	n, err := jwsB64.Decode(payload, p.cj.payloadB64)
	if err != nil {
		p.objErr, p.objAt = failWrap(CodeJWSMalformed, "payload", err), "base64url"
		return p
	}
	if err := decodeStrict(payload[:n], obj); err != nil {
		// A payload of another kind or version fails as such, not as
		// malformed JSON: look at its vct alone.
		var head struct {
			VCT string `json:"vct"`
		}
		if json.Unmarshal(payload[:n], &head) == nil && head.VCT != spec.vct {
			p.objErr, p.objAt = vctError(spec, head.VCT), "vct"
			return p
		}
		var f *Failure
		if !errors.As(err, &f) {
			err = failWrap(CodePayloadInvalid, "", err)
		}
		p.objErr, p.objAt = err, "strict JSON"
		return p
	}
	p.obj = (*T)(obj)
	return p
}

// Text returns the bytes received as a string without copying them: it
// shares the parse's own copy (Verified.Raw), which nothing modifies. A
// payment keeps its closed mandate's text, so every payment saves a copy
// of about a kilobyte. Bytes too large to parse, which Parse does not
// copy, are copied when Text is called.
func (p *Parsed[T]) Text() string {
	if !p.copied || len(p.raw) == 0 {
		return string(p.raw)
	}
	return unsafe.String(unsafe.SliceData(p.raw), len(p.raw))
}

// Unverified returns the decoded payload, not verified: for routing only.
// ok is false when the object did not parse or its payload is not strict
// JSON of its kind.
func (p *Parsed[T]) Unverified() (obj *T, ok bool) {
	return p.obj, p.cjErr == nil && p.objErr == nil
}

// verifyParsed runs the checks every object gets, in this order: size
// and framing, header, typ, key lookup, alg against the key, signer
// role, signature over the exact bytes, then (only now) the payload as
// strict JSON, vct, issuer = key's party, audience, time window, the
// kind's rules, revocation.
func verifyParsed[T any, P objectPtr[T]](ctx context.Context, vc *VerifyContext, parsed *Parsed[T]) (*Verified[T], error) {
	if err := vc.check(); err != nil {
		return nil, err
	}
	raw := parsed.raw
	var obj P // Kind needs no object
	spec := kindSpecs[obj.Kind()]
	// The trace's details are built only for a Trace: the checks that pass
	// are on every payment's path.
	tracing := vc.Trace != nil
	cj, err := parsed.cj, parsed.cjErr
	if err != nil {
		return nil, vc.note("jws", "compact serialization and header", err)
	}
	if tracing {
		vc.tracef("jws", "%d bytes, header alg=%s kid=%s typ=%s", len(raw), cj.header.Alg, cj.header.Kid, cj.header.Typ)
	}
	if cj.header.Typ != spec.typ {
		return nil, vc.note("typ", "object type", fail(CodeTypMismatch, "header.typ",
			fmt.Sprintf("%q, want %q", cj.header.Typ, spec.typ)))
	}
	vc.note("typ", string(spec.kind), nil)
	pk, err := lookupKey(ctx, vc, cj.header.Kid)
	if err != nil {
		return nil, vc.note("key", "kid "+cj.header.Kid, err)
	}
	if tracing {
		vc.tracef("key", "%s key of %s %q", pk.Key.Algorithm(), pk.Role, pk.Party)
	}
	if pk.Key.Algorithm() != cj.header.Alg {
		return nil, vc.note("alg", "alg matches the key", fail(CodeAlgKeyMismatch, "header.alg",
			fmt.Sprintf("alg %s with a %s key", cj.header.Alg, pk.Key.Algorithm())))
	}
	allowed := false
	for _, r := range spec.signers {
		allowed = allowed || r == pk.Role
	}
	if !allowed {
		return nil, vc.note("signer", "role may sign "+string(spec.kind), fail(CodeSignerNotAllowed, "header.kid",
			fmt.Sprintf("a %s key may not sign a %s", pk.Role, spec.kind)))
	}
	if !pk.Key.Verify(cj.header.Alg, cj.signingInput, cj.sig) {
		return nil, vc.note("signature", "over the exact bytes received", fail(CodeSignatureInvalid, "signature", "does not verify"))
	}
	if tracing {
		vc.note("signature", cj.header.Alg+" over the exact bytes received", nil)
	}
	if parsed.objErr != nil {
		return nil, vc.note("payload", parsed.objAt, parsed.objErr)
	}
	obj = P(parsed.obj)
	vc.note("payload", "strict JSON", nil)
	c := obj.claims()
	if err := c.check(spec); err != nil {
		return nil, vc.note("claims", "registered claims", err)
	}
	if c.Issuer != pk.Party {
		return nil, vc.note("issuer", "iss is the key's party", fail(CodeIssuerMismatch, "iss",
			fmt.Sprintf("iss %q, but the key belongs to %q", c.Issuer, pk.Party)))
	}
	vc.note("issuer", c.Issuer, nil)
	if !c.Audience.Contains(vc.Audience) {
		return nil, vc.note("audience", "aud names the verifier", fail(CodeAudienceMismatch, "aud",
			fmt.Sprintf("%q is not in aud", vc.Audience)))
	}
	vc.note("audience", vc.Audience, nil)
	if err := c.checkTimes(vc.Now, vc.skew()); err != nil {
		return nil, vc.note("time", "iat, nbf, exp", err)
	}
	if tracing {
		vc.tracef("time", "iat %d, nbf %d, exp %d, now %d", c.IssuedAt, c.NotBefore, c.Expiry, vc.Now.Unix())
	}
	if err := obj.validate(); err != nil {
		return nil, vc.note("rules", string(spec.kind)+" rules", err)
	}
	if tracing {
		vc.note("rules", string(spec.kind)+" rules", nil)
	}
	if vc.Revocations != nil {
		revoked, err := vc.Revocations.Revoked(ctx, c.Issuer, c.ID)
		if err != nil {
			return nil, vc.note("revocation", "revocation list", failWrap(CodeVerifierUnavailable, "jti", err))
		}
		if revoked {
			return nil, vc.note("revocation", "revocation list", fail(CodeRevoked, "jti",
				fmt.Sprintf("%s %q of %q was revoked", spec.kind, c.ID, c.Issuer)))
		}
		vc.note("revocation", "not revoked", nil)
	}
	// The result and its hash's text are one allocation.
	r := &struct {
		v    Verified[T]
		hash [hashBytesB64]byte
	}{}
	hashJWSTo(&r.hash, raw)
	r.v = Verified[T]{
		Claims: (*T)(obj),
		Raw:    raw,
		Hash:   unsafe.String(&r.hash[0], len(r.hash)),
		Header: cj.header,
		Signer: pk,
	}
	return &r.v, nil
}

// VerifyAgentCredential verifies an agent credential (signed by a user).
// Every error is a *Failure with a registered code.
func VerifyAgentCredential(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[AgentCredential], error) {
	return verifyObject[AgentCredential](ctx, vc, raw)
}

// VerifyOpenCheckoutMandate verifies an open checkout mandate (signed by
// a user), its constraints included; evaluate them with Evaluate.
func VerifyOpenCheckoutMandate(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[OpenCheckoutMandate], error) {
	return verifyObject[OpenCheckoutMandate](ctx, vc, raw)
}

// VerifyOpenPaymentMandate verifies an open payment mandate (signed by a
// user), its constraints included.
func VerifyOpenPaymentMandate(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[OpenPaymentMandate], error) {
	return verifyObject[OpenPaymentMandate](ctx, vc, raw)
}

// VerifyCheckout verifies a merchant-signed checkout, totals included.
func VerifyCheckout(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[Checkout], error) {
	return verifyObject[Checkout](ctx, vc, raw)
}

// VerifyReceipt verifies a platform receipt.
func VerifyReceipt(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[Receipt], error) {
	return verifyObject[Receipt](ctx, vc, raw)
}

// VerifyOrderAttestation verifies a platform order attestation.
func VerifyOrderAttestation(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[OrderAttestation], error) {
	return verifyObject[OrderAttestation](ctx, vc, raw)
}

// VerifyRefund verifies a merchant's refund instruction.
func VerifyRefund(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[Refund], error) {
	return verifyObject[Refund](ctx, vc, raw)
}

// VerifyAdjustment verifies a merchant's order adjustment.
func VerifyAdjustment(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[Adjustment], error) {
	return verifyObject[Adjustment](ctx, vc, raw)
}

// VerifyPriceAttestation verifies a price attestation.
func VerifyPriceAttestation(ctx context.Context, vc *VerifyContext, raw []byte) (*Verified[PriceAttestation], error) {
	return verifyObject[PriceAttestation](ctx, vc, raw)
}

// openRef is what a closed mandate is checked against: its open mandate.
type openRef struct {
	hash   string
	sub    string
	agent  string // cnf thumbprint
	issuer string
}

// checkClosedSigner checks who signed a closed mandate for its modality:
// the user when present; when not, the agent with the open mandate's cnf
// key, the open mandate being the one open_mandate_hash names.
func checkClosedSigner(vc *VerifyContext, c *Claims, signer PartyKey, kid string, mod Modality, openHash string, open *openRef) error {
	if mod == HumanPresent {
		if open != nil {
			return vc.note("binding", "no open mandate when the user is present", fail(CodeMandateHashMismatch, "open_mandate_hash",
				"an open mandate was presented with a human-present closed mandate"))
		}
		if signer.Role != PartyUser {
			return vc.note("binding", "signed by the user", fail(CodeSignerNotAllowed, "header.kid",
				fmt.Sprintf("a human-present closed mandate is signed by the user, not a %s", signer.Role)))
		}
		return vc.note("binding", "human present: signed by the user", nil)
	}
	if open == nil {
		return vc.note("binding", "open mandate presented", fail(CodeMandateHashMismatch, "open_mandate_hash",
			"the open mandate it references was not presented"))
	}
	if open.hash != openHash {
		return vc.note("binding", "open_mandate_hash", fail(CodeMandateHashMismatch, "open_mandate_hash",
			"is not the hash of the open mandate presented"))
	}
	if signer.Role != PartyAgent {
		return vc.note("binding", "signed by the agent", fail(CodeSignerNotAllowed, "header.kid",
			fmt.Sprintf("a human-not-present closed mandate is signed by the agent, not a %s", signer.Role)))
	}
	if kid != open.agent || c.Issuer != open.sub {
		return vc.note("binding", "agent of the open mandate", fail(CodeAgentKeyMismatch, "header.kid",
			"not signed by the agent key (cnf) and agent (sub) of the open mandate"))
	}
	return vc.note("binding", "human not present: signed by the open mandate's agent", nil)
}

// openRefOf returns what a closed mandate is checked against, of the open
// mandate whose hash, claims and cnf are given.
func openRefOf(hash string, c *Claims, cnf Confirmation) (openRef, error) {
	kid, err := cnf.KeyID()
	if err != nil {
		return openRef{}, failWrap(CodeClaimsInvalid, "cnf", err)
	}
	return openRef{hash: hash, sub: c.Subject, agent: kid, issuer: c.Issuer}, nil
}

// VerifyClosedCheckoutMandate verifies a closed checkout mandate and the
// checkout it embeds (checkout_hash over the exact checkout_jwt bytes,
// the merchant's signature, the checkout's expiry). open is the verified
// open checkout mandate when the user is not present, nil when present;
// the mandate must be signed accordingly (checkClosedSigner). Failures of
// the checkout have Param prefixed "checkout_jwt".
func VerifyClosedCheckoutMandate(ctx context.Context, vc *VerifyContext, raw []byte, open *Verified[OpenCheckoutMandate]) (*Verified[ClosedCheckoutMandate], *Verified[Checkout], error) {
	m, err := verifyObject[ClosedCheckoutMandate](ctx, vc, raw)
	if err != nil {
		return nil, nil, err
	}
	var ref *openRef
	if open != nil {
		r, err := openRefOf(open.Hash, &open.Claims.Claims, open.Claims.Cnf)
		if err != nil {
			return nil, nil, err
		}
		ref = &r
	}
	c := m.Claims
	if err := checkClosedSigner(vc, &c.Claims, m.Signer, m.Header.Kid, c.Modality, c.OpenMandateHash, ref); err != nil {
		return nil, nil, err
	}
	co, err := verifyObject[Checkout](ctx, vc, []byte(c.CheckoutJWT))
	if err != nil {
		return nil, nil, withParamPrefix(err, "checkout_jwt")
	}
	return m, co, nil
}

// VerifyClosedPaymentMandate verifies a closed payment mandate. open is
// the verified open payment mandate when the user is not present (the
// payment instrument must be the open mandate's), nil when present. Bind
// it to its checkout with CheckPaymentMatchesCheckout.
func VerifyClosedPaymentMandate(ctx context.Context, vc *VerifyContext, raw []byte, open *Verified[OpenPaymentMandate]) (*Verified[ClosedPaymentMandate], error) {
	return VerifyParsedClosedPaymentMandate(ctx, vc, Parse[ClosedPaymentMandate](raw), open)
}

// VerifyParsedClosedPaymentMandate is VerifyClosedPaymentMandate of a
// closed payment mandate already parsed (to find its open mandate).
func VerifyParsedClosedPaymentMandate(ctx context.Context, vc *VerifyContext, parsed *Parsed[ClosedPaymentMandate], open *Verified[OpenPaymentMandate]) (*Verified[ClosedPaymentMandate], error) {
	m, err := verifyParsed(ctx, vc, parsed)
	if err != nil {
		return nil, err
	}
	var ref *openRef
	if open != nil {
		r, err := openRefOf(open.Hash, &open.Claims.Claims, open.Claims.Cnf)
		if err != nil {
			return nil, err
		}
		ref = &r
	}
	c := m.Claims
	if err := checkClosedSigner(vc, &c.Claims, m.Signer, m.Header.Kid, c.Modality, c.OpenMandateHash, ref); err != nil {
		return nil, err
	}
	if open != nil {
		oi := open.Claims.PaymentInstrument
		if c.PaymentInstrument.ID != oi.ID || c.PaymentInstrument.Type != oi.Type {
			return nil, vc.note("binding", "payment instrument", fail(CodeInstrumentMismatch, "payment_instrument",
				fmt.Sprintf("%s %q, the open mandate names %s %q", c.PaymentInstrument.Type, c.PaymentInstrument.ID, oi.Type, oi.ID)))
		}
	}
	return m, nil
}

// CheckPaymentMatchesCheckout checks that a closed payment mandate pays
// for exactly this checkout: transaction_id is the checkout's hash
// (CodeCheckoutHashMismatch), the payee is the merchant that signed it
// (CodeMerchantMismatch: merchant changed), the amount is its total in
// its currency (CodeCurrencyMismatch, CodeAmountMismatch: amount
// changed).
func CheckPaymentMatchesCheckout(pm *ClosedPaymentMandate, co *Verified[Checkout]) error {
	if pm.TransactionID != co.Hash {
		return fail(CodeCheckoutHashMismatch, "transaction_id", "is not the hash of the checkout presented")
	}
	if pm.Payee.ID != co.Claims.Issuer || pm.Payee.ID != co.Claims.Merchant.ID {
		return fail(CodeMerchantMismatch, "payee.id", fmt.Sprintf("payee %q, the checkout is signed by %q",
			pm.Payee.ID, co.Claims.Issuer))
	}
	want := co.Claims.Money()
	if !pm.PaymentAmount.SameAsset(want) {
		return fail(CodeCurrencyMismatch, "payment_amount", fmt.Sprintf("%s/%d, the checkout is in %s/%d",
			pm.PaymentAmount.Currency, pm.PaymentAmount.Scale, want.Currency, want.Scale))
	}
	if pm.PaymentAmount.Amount != want.Amount {
		return fail(CodeAmountMismatch, "payment_amount.amount", fmt.Sprintf("%s, the checkout's total is %s",
			pm.PaymentAmount, want))
	}
	return nil
}

// Purchase is what an agent (or the user's trusted surface) presents to
// pay for a checkout: the two closed mandates, and, when the user is not
// present, the two open mandates they were made under.
type Purchase struct {
	CheckoutMandate     []byte // closed checkout mandate (embeds the checkout)
	PaymentMandate      []byte // closed payment mandate
	OpenCheckoutMandate []byte // human not present only
	OpenPaymentMandate  []byte // human not present only
}

// VerifiedPurchase is a purchase whose every signature and binding
// verified. Its constraints are decided by Evaluate.
type VerifiedPurchase struct {
	Modality            Modality
	CheckoutMandate     *Verified[ClosedCheckoutMandate]
	Checkout            *Verified[Checkout]
	PaymentMandate      *Verified[ClosedPaymentMandate]
	OpenCheckoutMandate *Verified[OpenCheckoutMandate] // nil when the user is present
	OpenPaymentMandate  *Verified[OpenPaymentMandate]  // nil when the user is present
}

// VerifyPurchase verifies a purchase end to end: each object (the open
// mandates first when present), the embedded checkout, who signed the
// closed mandates for their modality, that both closed mandates have the
// same issuer and modality, that both open mandates come from the same
// user for the same agent, the payment instrument, and that the payment
// matches the checkout (hash, merchant, currency, amount). Param of a
// failure starts with the object's field name in Purchase
// ("payment_mandate.payee.id").
func VerifyPurchase(ctx context.Context, vc *VerifyContext, p Purchase) (*VerifiedPurchase, error) {
	if err := vc.check(); err != nil {
		return nil, err
	}
	out := &VerifiedPurchase{}
	var err error
	switch {
	case len(p.OpenCheckoutMandate) > 0 && len(p.OpenPaymentMandate) > 0:
		if out.OpenCheckoutMandate, err = VerifyOpenCheckoutMandate(ctx, vc, p.OpenCheckoutMandate); err != nil {
			return nil, withParamPrefix(err, "open_checkout_mandate")
		}
		if out.OpenPaymentMandate, err = VerifyOpenPaymentMandate(ctx, vc, p.OpenPaymentMandate); err != nil {
			return nil, withParamPrefix(err, "open_payment_mandate")
		}
		oc, op := out.OpenCheckoutMandate.Claims, out.OpenPaymentMandate.Claims
		if oc.Issuer != op.Issuer {
			return nil, vc.note("binding", "open mandates from one user", fail(CodeIssuerMismatch, "open_payment_mandate.iss",
				"the open mandates are from different users"))
		}
		kc, _ := oc.Cnf.KeyID()
		kp, _ := op.Cnf.KeyID()
		if oc.Subject != op.Subject || kc != kp {
			return nil, vc.note("binding", "open mandates for one agent", fail(CodeAgentKeyMismatch, "open_payment_mandate.cnf",
				"the open mandates name different agents"))
		}
	case len(p.OpenCheckoutMandate) > 0 || len(p.OpenPaymentMandate) > 0:
		return nil, fail(CodeClaimsInvalid, "open_payment_mandate", "both open mandates, or neither, are presented")
	}
	out.CheckoutMandate, out.Checkout, err = VerifyClosedCheckoutMandate(ctx, vc, p.CheckoutMandate, out.OpenCheckoutMandate)
	if err != nil {
		return nil, withParamPrefix(err, "checkout_mandate")
	}
	if out.PaymentMandate, err = VerifyClosedPaymentMandate(ctx, vc, p.PaymentMandate, out.OpenPaymentMandate); err != nil {
		return nil, withParamPrefix(err, "payment_mandate")
	}
	cm, pm := out.CheckoutMandate.Claims, out.PaymentMandate.Claims
	if cm.Modality != pm.Modality {
		return nil, fail(CodeClaimsInvalid, "payment_mandate.modality", "the closed mandates disagree on the modality")
	}
	if cm.Issuer != pm.Issuer {
		return nil, fail(CodeIssuerMismatch, "payment_mandate.iss", "the closed mandates have different issuers")
	}
	if err := CheckPaymentMatchesCheckout(pm, out.Checkout); err != nil {
		return nil, vc.note("binding", "payment matches checkout", withParamPrefix(err, "payment_mandate"))
	}
	vc.tracef("binding", "payment of %s to %q for checkout %s", pm.PaymentAmount, pm.Payee.ID, out.Checkout.Hash)
	out.Modality = cm.Modality
	return out, nil
}

// PurchaseState is the state a purchase's constraints are decided with.
type PurchaseState struct {
	Now          time.Time
	Usage        UsageState // of the open payment mandate
	UserApproved bool
	Price        *Verified[PriceAttestation]
	// PayeeCategory is the category the platform knows for the
	// checkout's merchant (the payee), for payment.allowed_categories;
	// empty when it knows none.
	PayeeCategory string
}

// Evaluate decides the open mandates' constraints for this purchase:
// the checkout constraints against the checkout, the payment constraints
// against the closed payment mandate, st.Usage and the open checkout
// mandate's hash. A purchase the user made while present has no open
// mandates, and is allowed with no checks.
func (p *VerifiedPurchase) Evaluate(st PurchaseState) Decision {
	if p.Modality == HumanPresent || p.OpenCheckoutMandate == nil || p.OpenPaymentMandate == nil {
		return Decision{Outcome: OutcomeAllow, Checks: []Check{}}
	}
	pm := p.PaymentMandate.Claims
	facts := &PaymentFacts{Amount: pm.PaymentAmount, Payee: pm.Payee, PayeeCategory: st.PayeeCategory}
	if pm.ExecutionDate != 0 {
		facts.ExecuteAt = time.Unix(pm.ExecutionDate, 0).UTC()
	}
	dc := p.OpenCheckoutMandate.Claims.Evaluate(EvalInput{Now: st.Now, Checkout: p.Checkout.Claims, Price: st.Price})
	dp := p.OpenPaymentMandate.Claims.Evaluate(EvalInput{
		Now: st.Now, Payment: facts, OpenCheckoutMandateHash: p.OpenCheckoutMandate.Hash,
		State: st.Usage, UserApproved: st.UserApproved,
	})
	return dc.Merge(dp)
}

// VerifiedObject is any verified object, as VerifyObject returns it.
type VerifiedObject struct {
	Kind   Kind
	Object Object // *AgentCredential, *OpenPaymentMandate, ...
	Raw    []byte
	Hash   string
	Header Header
	Signer PartyKey
	// Checkout is the verified embedded checkout of a closed checkout
	// mandate.
	Checkout *Verified[Checkout]
}

func wrapVerified[T any, P objectPtr[T]](v *Verified[T], err error) (*VerifiedObject, error) {
	if err != nil {
		return nil, err
	}
	return &VerifiedObject{Kind: P(v.Claims).Kind(), Object: P(v.Claims), Raw: v.Raw, Hash: v.Hash, Header: v.Header, Signer: v.Signer}, nil
}

// VerifyObject verifies any ACT object, choosing its kind by the header
// typ. It checks everything one object carries on its own, including a
// closed checkout mandate's embedded checkout; it cannot check a closed
// mandate made while the user was away against its open mandate, nor a
// payment against its checkout: use VerifyPurchase for those.
func VerifyObject(ctx context.Context, vc *VerifyContext, raw []byte) (*VerifiedObject, error) {
	if err := vc.check(); err != nil {
		return nil, err
	}
	h, err := ParseHeader(raw)
	if err != nil {
		return nil, vc.note("jws", "compact serialization and header", err)
	}
	kind, ok := KindOfTyp(h.Typ)
	if !ok {
		return nil, vc.note("typ", "object type", fail(CodeTypMismatch, "header.typ", fmt.Sprintf("%q is not an ACT v%d object", h.Typ, ProtocolVersion)))
	}
	switch kind {
	case KindAgentCredential:
		return wrapVerified(VerifyAgentCredential(ctx, vc, raw))
	case KindOpenCheckoutMandate:
		return wrapVerified(VerifyOpenCheckoutMandate(ctx, vc, raw))
	case KindOpenPaymentMandate:
		return wrapVerified(VerifyOpenPaymentMandate(ctx, vc, raw))
	case KindCheckout:
		return wrapVerified(VerifyCheckout(ctx, vc, raw))
	case KindReceipt:
		return wrapVerified(VerifyReceipt(ctx, vc, raw))
	case KindOrderAttestation:
		return wrapVerified(VerifyOrderAttestation(ctx, vc, raw))
	case KindRefund:
		return wrapVerified(VerifyRefund(ctx, vc, raw))
	case KindAdjustment:
		return wrapVerified(VerifyAdjustment(ctx, vc, raw))
	case KindPriceAttestation:
		return wrapVerified(VerifyPriceAttestation(ctx, vc, raw))
	case KindClosedPaymentMandate:
		return wrapVerified(verifyObject[ClosedPaymentMandate](ctx, vc, raw))
	case KindClosedCheckoutMandate:
		m, err := verifyObject[ClosedCheckoutMandate](ctx, vc, raw)
		if err != nil {
			return nil, err
		}
		co, err := verifyObject[Checkout](ctx, vc, []byte(m.Claims.CheckoutJWT))
		if err != nil {
			return nil, withParamPrefix(err, "checkout_jwt")
		}
		v, _ := wrapVerified(m, nil)
		v.Checkout = co
		return v, nil
	}
	return nil, fail(CodeInternal, "", "kind without a verifier")
}

// KeySet is an in-memory KeyDirectory, for tests, offline verification
// (agentpay verify) and small deployments. It also implements the
// request-signature KeyResolver. It is safe for concurrent use.
type KeySet struct {
	mu      sync.RWMutex
	keys    map[string]PartyKey
	revoked map[string]bool
}

// NewKeySet returns an empty KeySet.
func NewKeySet() *KeySet {
	return &KeySet{keys: map[string]PartyKey{}, revoked: map[string]bool{}}
}

// Add registers key as belonging to party in role. Adding a kid again
// replaces its entry (and does not un-revoke it).
func (s *KeySet) Add(party string, role PartyRole, key PublicKey) error {
	if key.IsZero() {
		return errors.New("protocol: key set: zero key")
	}
	if err := checkID("party", party); err != nil {
		return fmt.Errorf("protocol: key set: %w", err)
	}
	switch role {
	case PartyUser, PartyAgent, PartyMerchant, PartyVendor, PartyPlatform:
	default:
		return fmt.Errorf("protocol: key set: unknown role %q", role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key.KeyID()] = PartyKey{Key: key, Party: party, Role: role}
	return nil
}

// Revoke marks kid revoked: LookupKey then returns ErrRevokedKey.
func (s *KeySet) Revoke(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[kid] = true
}

// LookupKey implements KeyDirectory.
func (s *KeySet) LookupKey(ctx context.Context, kid string) (PartyKey, error) {
	if err := ctx.Err(); err != nil {
		return PartyKey{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.revoked[kid] {
		return PartyKey{}, fmt.Errorf("key %s: %w", kid, ErrRevokedKey)
	}
	pk, ok := s.keys[kid]
	if !ok {
		return PartyKey{}, fmt.Errorf("key %s: %w", kid, ErrUnknownKey)
	}
	return pk, nil
}

// ResolveKey implements KeyResolver (agent request signatures): the
// crypto key of an agent's kid. Keys of other roles are unknown to it.
func (s *KeySet) ResolveKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	pk, err := s.LookupKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	if pk.Role != PartyAgent {
		return nil, fmt.Errorf("key %s is a %s key: %w", kid, pk.Role, ErrUnknownKey)
	}
	return pk.Key.CryptoPublicKey(), nil
}

// RevocationSet is an in-memory RevocationList. It is safe for
// concurrent use.
type RevocationSet struct {
	mu sync.RWMutex
	m  map[[2]string]bool
}

// NewRevocationSet returns an empty RevocationSet.
func NewRevocationSet() *RevocationSet { return &RevocationSet{m: map[[2]string]bool{}} }

// Revoke records that issuer revoked its object id.
func (r *RevocationSet) Revoke(issuer, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[[2]string{issuer, id}] = true
}

// Revoked implements RevocationList.
func (r *RevocationSet) Revoked(ctx context.Context, issuer, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[[2]string{issuer, id}], nil
}
