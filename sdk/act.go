package sdk

// ACT protocol helpers: an agent that signs its requests and closed
// mandates, a merchant that signs checkouts and verifies mandates, and
// receipt verification. They build on package protocol's Sign and Verify
// functions.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/agentpay/agentpay/protocol"
)

// Defaults of the builders.
const (
	// ClosedMandateLifetimeDefault is exp − iat of the closed mandates an
	// Agent signs unless MandateParams.Lifetime says otherwise.
	ClosedMandateLifetimeDefault = 15 * time.Minute
	// CheckoutLifetimeDefault is exp − iat of the checkouts a Merchant
	// signs unless CheckoutParams.Lifetime says otherwise.
	CheckoutLifetimeDefault = time.Hour
)

// WithRequestSigner makes the client sign every request it sends with
// s as an RFC 9421 agent request signature (protocol.SignRequest):
// Content-Digest of the body, Signature-Input and Signature covering the
// method, target URI, content type, digest and idempotency key, a fresh
// random nonce, created now and expires five minutes later. An *Agent
// is a RequestSigner (Agent.RequestSigner).
func WithRequestSigner(s protocol.RequestSigner) Option {
	return func(c *Client) { c.signer = s }
}

// newJTI returns a fresh time-ordered jti made at now (protocol.NewJTI:
// the time in milliseconds, then 128 random bits), which the platform
// stores next to the other records of its moment.
func newJTI(now time.Time) string { return protocol.NewJTI(now, nil) }

// Agent is an AI agent's signer: its Ed25519 key and its agent id (the
// sub of the open mandates the user gives it, and the iss of what it
// signs while the user is away).
type Agent struct {
	key *protocol.Ed25519PrivateKey
	id  string
}

// NewAgent returns the agent with id agentID holding key. It returns
// an error for a nil key or an empty id.
func NewAgent(key *protocol.Ed25519PrivateKey, agentID string) (*Agent, error) {
	if key == nil || agentID == "" {
		return nil, errors.New("agentpay: new agent: nil key or empty agent id")
	}
	return &Agent{key: key, id: agentID}, nil
}

// ID returns the agent id.
func (a *Agent) ID() string { return a.id }

// KeyID returns the RFC 7638 thumbprint of the agent's key: the kid of
// what it signs and the keyid of its request signatures.
func (a *Agent) KeyID() string { return a.key.KeyID() }

// PublicKey returns the agent's public key.
func (a *Agent) PublicKey() protocol.PublicKey { return a.key.PublicKey() }

// Confirmation returns the cnf claim naming the agent's key, for the
// agent credential and open mandates the user signs.
func (a *Agent) Confirmation() protocol.Confirmation {
	c, _ := protocol.NewConfirmation(a.key.PublicKey()) // an Ed25519 key always has one
	return c
}

// RequestSigner returns the agent's key as a protocol.RequestSigner, for
// WithRequestSigner.
func (a *Agent) RequestSigner() protocol.RequestSigner { return a.key }

// SignRequest signs r, whose content is body, as an agent request
// (protocol.SignRequest with the profile's defaults).
func (a *Agent) SignRequest(r *http.Request, body []byte) error {
	return protocol.SignRequest(r, body, a.key, protocol.SignOptions{})
}

// MandateParams are the registered claims of a closed mandate an Agent
// signs. Audience is required.
type MandateParams struct {
	// Audience is the party the mandate is for (the platform's id).
	Audience string
	// Now is the issue time; time.Now() if zero.
	Now time.Time
	// Lifetime is exp − iat; ClosedMandateLifetimeDefault if zero, at
	// most protocol.ClosedMandateLifetimeMax.
	Lifetime time.Duration
	// ID is the jti; random if empty.
	ID string
}

func (p MandateParams) claims(iss string) (protocol.Claims, error) {
	if p.Audience == "" {
		return protocol.Claims{}, errors.New("agentpay: mandate: no audience")
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	life := p.Lifetime
	if life == 0 {
		life = ClosedMandateLifetimeDefault
	}
	id := p.ID
	if id == "" {
		id = newJTI(now)
	}
	return protocol.Claims{Issuer: iss, Audience: protocol.Audience{p.Audience},
		IssuedAt: now.Unix(), Expiry: now.Add(life).Unix(), ID: id}, nil
}

// SignCheckoutMandate signs, while the user is away, a closed checkout
// mandate accepting the merchant's checkout (its exact compact JWS bytes)
// under the verified open checkout mandate open. The open mandate must
// name this agent (sub and cnf).
func (a *Agent) SignCheckoutMandate(checkoutJWS []byte, open *protocol.Verified[protocol.OpenCheckoutMandate], p MandateParams) ([]byte, error) {
	if open == nil {
		return nil, errors.New("agentpay: checkout mandate: no open checkout mandate")
	}
	if err := a.checkOpen(open.Claims.Subject, open.Claims.Cnf); err != nil {
		return nil, err
	}
	c, err := p.claims(a.id)
	if err != nil {
		return nil, err
	}
	return protocol.Sign(a.key, &protocol.ClosedCheckoutMandate{
		Claims: c, CheckoutJWT: string(checkoutJWS), CheckoutHash: protocol.HashJWS(checkoutJWS),
		OpenMandateHash: open.Hash, Modality: protocol.HumanNotPresent,
	})
}

// SignPaymentMandate signs, while the user is away, a closed payment
// mandate paying exactly the verified checkout co (its total, to its
// merchant, transaction_id its hash) from the payment instrument of the
// verified open payment mandate open.
func (a *Agent) SignPaymentMandate(co *protocol.Verified[protocol.Checkout], open *protocol.Verified[protocol.OpenPaymentMandate], p MandateParams) ([]byte, error) {
	if co == nil || open == nil {
		return nil, errors.New("agentpay: payment mandate: no checkout or no open payment mandate")
	}
	if err := a.checkOpen(open.Claims.Subject, open.Claims.Cnf); err != nil {
		return nil, err
	}
	c, err := p.claims(a.id)
	if err != nil {
		return nil, err
	}
	return protocol.Sign(a.key, &protocol.ClosedPaymentMandate{
		Claims: c, TransactionID: co.Hash, Payee: co.Claims.Merchant, PaymentAmount: co.Claims.Money(),
		PaymentInstrument: open.Claims.PaymentInstrument, OpenMandateHash: open.Hash, Modality: protocol.HumanNotPresent,
	})
}

// Purchase signs both closed mandates for the checkout co under the two
// verified open mandates and returns the purchase to present to the
// platform (protocol.VerifyPurchase verifies it).
func (a *Agent) Purchase(co *protocol.Verified[protocol.Checkout], openCheckout *protocol.Verified[protocol.OpenCheckoutMandate],
	openPayment *protocol.Verified[protocol.OpenPaymentMandate], p MandateParams) (protocol.Purchase, error) {
	if co == nil || openCheckout == nil || openPayment == nil {
		return protocol.Purchase{}, errors.New("agentpay: purchase: missing checkout or open mandate")
	}
	pc, pp := p, p
	if p.ID != "" {
		pc.ID, pp.ID = p.ID+"-checkout", p.ID+"-payment"
	}
	cm, err := a.SignCheckoutMandate(co.Raw, openCheckout, pc)
	if err != nil {
		return protocol.Purchase{}, err
	}
	pm, err := a.SignPaymentMandate(co, openPayment, pp)
	if err != nil {
		return protocol.Purchase{}, err
	}
	return protocol.Purchase{CheckoutMandate: cm, PaymentMandate: pm,
		OpenCheckoutMandate: openCheckout.Raw, OpenPaymentMandate: openPayment.Raw}, nil
}

func (a *Agent) checkOpen(sub string, cnf protocol.Confirmation) error {
	kid, err := cnf.KeyID()
	if err != nil || kid != a.KeyID() || sub != a.id {
		return fmt.Errorf("agentpay: the open mandate names agent %q with another key, not this agent %q", sub, a.id)
	}
	return nil
}

// Merchant is a merchant's (or vendor's) signer: it signs checkouts and
// verifies the mandates that pay for them.
type Merchant struct {
	key      protocol.Signer
	merchant protocol.Merchant
}

// NewMerchant returns the merchant m (its ID is the iss of what it
// signs) holding key.
func NewMerchant(key protocol.Signer, m protocol.Merchant) (*Merchant, error) {
	if key == nil || m.ID == "" {
		return nil, errors.New("agentpay: new merchant: nil key or empty merchant id")
	}
	return &Merchant{key: key, merchant: m}, nil
}

// CheckoutParams are the registered claims of a checkout a Merchant
// signs. Audience is required.
type CheckoutParams struct {
	// Audience is the party the checkout is for (the platform's id).
	Audience string
	// Now is the issue time; time.Now() if zero.
	Now time.Time
	// Lifetime is exp − iat; CheckoutLifetimeDefault if zero.
	Lifetime time.Duration
	// ID is the jti; random if empty.
	ID string
}

// SignCheckout signs co (its id, currency, lines and totals; the
// registered claims and merchant are filled in) and returns the compact
// JWS. co is modified: its claims and merchant are set.
func (m *Merchant) SignCheckout(co *protocol.Checkout, p CheckoutParams) ([]byte, error) {
	if co == nil {
		return nil, errors.New("agentpay: sign checkout: nil checkout")
	}
	life := p.Lifetime
	if life == 0 {
		life = CheckoutLifetimeDefault
	}
	c, err := MandateParams{Audience: p.Audience, Now: p.Now, Lifetime: life, ID: p.ID}.claims(m.merchant.ID)
	if err != nil {
		return nil, err
	}
	co.Claims = c
	co.Merchant = m.merchant
	return protocol.Sign(m.key, co)
}

// VerifyPurchase verifies a purchase presented to the merchant
// (protocol.VerifyPurchase) and that its checkout is this merchant's.
// Every error carries a registered code (protocol.CodeOf).
func (m *Merchant) VerifyPurchase(ctx context.Context, vc *protocol.VerifyContext, p protocol.Purchase) (*protocol.VerifiedPurchase, error) {
	vp, err := protocol.VerifyPurchase(ctx, vc, p)
	if err != nil {
		return nil, err
	}
	if vp.Checkout.Claims.Issuer != m.merchant.ID {
		return nil, &protocol.Failure{Code: protocol.CodeMerchantMismatch, Param: "checkout_mandate.checkout_jwt.iss",
			Err: fmt.Errorf("the checkout is %q's, not this merchant's (%q)", vp.Checkout.Claims.Issuer, m.merchant.ID)}
	}
	return vp, nil
}

// ErrReceiptReference is returned (wrapped) by VerifyReceipt when the
// receipt does not acknowledge the object given.
var ErrReceiptReference = errors.New("agentpay: receipt does not reference the object")

// VerifyReceipt verifies a platform receipt (protocol.VerifyReceipt)
// and, when acknowledged is not empty, that the receipt's reference is
// the hash of those exact bytes. A receipt whose result is error
// verifies: read Claims.Result and Claims.Error.
func VerifyReceipt(ctx context.Context, vc *protocol.VerifyContext, receipt, acknowledged []byte) (*protocol.Verified[protocol.Receipt], error) {
	r, err := protocol.VerifyReceipt(ctx, vc, receipt)
	if err != nil {
		return nil, err
	}
	if len(acknowledged) > 0 && r.Claims.Reference != protocol.HashJWS(acknowledged) {
		return nil, fmt.Errorf("%w: reference %s, the object's hash is %s", ErrReceiptReference, r.Claims.Reference, protocol.HashJWS(acknowledged))
	}
	return r, nil
}
