package wallet

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
)

// PrefixCheckoutMandate prefixes the ids of open checkout mandates.
const PrefixCheckoutMandate = "cmt_"

// legCheckout names the leg of a purchase's chain that uses its open
// checkout mandate: a debit of 1 from the mandate's gate account whose
// transfer id derives from the checkout's hash, so a checkout is paid at
// most once and a revoked checkout mandate stops every purchase not yet
// committed.
const legCheckout = "checkout"

// CheckoutMandate is an open checkout mandate the owner issued to an
// agent (which checkouts it may choose while the owner is away: allowed
// merchants, line items, price conditions), kept verbatim (JWS).
type CheckoutMandate struct {
	ID        string     `json:"id"`
	Owner     string     `json:"owner"`
	Agent     string     `json:"agent"`
	JTI       string     `json:"jti"`
	Hash      string     `json:"hash"` // protocol.HashJWS of JWS
	JWS       string     `json:"jws"`
	NotBefore time.Time  `json:"not_before"`
	Expiry    time.Time  `json:"expiry"`
	IssuedAt  time.Time  `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`

	open *protocol.Verified[protocol.OpenCheckoutMandate]
}

// gateAccount is the account on the uses ledger every purchase under the
// mandate debits (1 each); revocation closes it.
func (cm *CheckoutMandate) gateAccount() ledger.ID { return id("limit", cm.ID, legCheckout) }

// IssueCheckoutMandate stores an open checkout mandate signed by owner
// for one of the owner's agents, and opens its gate account (on the uses
// ledger, funded with 2^62). The owner needs a wallet first.
func (s *Service) IssueCheckoutMandate(ctx context.Context, owner string, jws []byte) (*CheckoutMandate, error) {
	v, err := protocol.VerifyOpenCheckoutMandate(ctx, s.verifyContext(), jws)
	if err != nil {
		return nil, refusal(protocol.CodeOf(err), err.Error())
	}
	c := v.Claims
	if c.Issuer != owner {
		return nil, fmt.Errorf("%w: the mandate is signed by %s, not by the caller %s", ErrForbidden, c.Issuer, owner)
	}
	agent, err := s.Agent(c.Subject)
	if err != nil || agent.Owner != owner {
		return nil, fmt.Errorf("%w: sub %q is not an agent of %s", ErrInvalid, c.Subject, owner)
	}
	kid, err := c.Cnf.KeyID()
	if k, ok := agent.Active(); err != nil || !ok || k.KeyID != kid {
		return nil, fmt.Errorf("%w: cnf is not the active key of agent %s", ErrInvalid, agent.ID)
	}
	ws := s.Wallets(owner)
	if len(ws) == 0 {
		return nil, fmt.Errorf("%w: %s has no wallet", ErrInvalid, owner)
	}
	// The uses ledger and its limit source and sink exist once a currency
	// is set up (idempotent).
	if _, _, err := s.ensureCurrency(ctx, ws[0].Currency); err != nil {
		return nil, err
	}
	cm := &CheckoutMandate{ID: s.newID(PrefixCheckoutMandate), Owner: owner, Agent: agent.ID, JTI: c.ID, Hash: v.Hash,
		JWS: string(jws), IssuedAt: s.now().UTC(), Expiry: time.Unix(c.Expiry, 0).UTC(), open: v}
	cm.NotBefore = time.Unix(max(c.NotBefore, c.IssuedAt), 0).UTC()
	s.acts.mu.RLock()
	for _, o := range s.acts.checkouts {
		if o.Hash == cm.Hash || (o.Owner == owner && o.JTI == cm.JTI) {
			s.acts.mu.RUnlock()
			return nil, fmt.Errorf("%w: this checkout mandate (jti %s) is issued already as %s", ErrConflict, cm.JTI, o.ID)
		}
	}
	s.acts.mu.RUnlock()
	req := &ledger.Request{
		Accounts: []ledger.Account{limitAccount(cm.gateAccount(), UsesLedger)},
		Transfers: []ledger.Transfer{{ID: id("cap", cm.ID, legCheckout), DebitAccountID: limitSource(UsesLedger),
			CreditAccountID: cm.gateAccount(), Amount: gateCap, Ledger: UsesLedger, Code: TransferCap}},
		Docs: []ledger.Doc{doc(KindCheckoutMandateIssued, cm.ID, cm)},
	}
	if _, err := s.commit(ctx, req); err != nil {
		return nil, err
	}
	s.acts.mu.Lock()
	s.acts.init()
	s.acts.checkouts[cm.ID] = cm
	s.acts.checkoutHash[cm.Hash] = cm
	s.acts.mu.Unlock()
	return cm, nil
}

func (s *Service) applyCheckoutMandateIssued(d ledger.Doc) error {
	var cm CheckoutMandate
	if err := json.Unmarshal(d.Body, &cm); err != nil {
		return err
	}
	// Verify the stored bytes as of their issue (keys are loaded first).
	vc := s.verifyContextAt(cm.IssuedAt)
	vc.Revocations, vc.Keys = nil, asIssued{s}
	v, err := protocol.VerifyOpenCheckoutMandate(context.Background(), vc, []byte(cm.JWS))
	if err != nil {
		return fmt.Errorf("checkout mandate %s no longer verifies: %w", cm.ID, err)
	}
	cm.open = v
	s.acts.init()
	s.acts.checkouts[cm.ID] = &cm
	s.acts.checkoutHash[cm.Hash] = &cm
	return nil
}

func (s *Service) applyCheckoutMandateRevoked(d ledger.Doc) error {
	var r revocation
	if err := json.Unmarshal(d.Body, &r); err != nil {
		return err
	}
	if cm, ok := s.acts.checkouts[r.ID]; ok {
		cm.RevokedAt = &r.RevokedAt
	}
	return nil
}

// RevokeCheckoutMandate revokes an open checkout mandate at once: it
// closes the mandate's gate account, which every purchase under it
// debits, so every purchase not yet committed fails. Only the owner may.
func (s *Service) RevokeCheckoutMandate(ctx context.Context, owner, mandateID string) (*CheckoutMandate, error) {
	cm, err := s.CheckoutMandate(mandateID)
	if err != nil {
		return nil, err
	}
	if cm.Owner != owner {
		return nil, fmt.Errorf("%w: checkout mandate %s belongs to another owner", ErrForbidden, mandateID)
	}
	if cm.RevokedAt != nil {
		return cm, nil
	}
	now := s.now().UTC()
	if err := s.closeGate(ctx, cm.ID, cm.gateAccount(), UsesLedger, KindCheckoutMandateRevoked, now); err != nil {
		return nil, err
	}
	// Copy on write: readers holding the mandate keep an unchanged value.
	c := *cm
	c.RevokedAt = &now
	s.acts.mu.Lock()
	s.acts.checkouts[c.ID] = &c
	s.acts.checkoutHash[c.Hash] = &c
	s.acts.mu.Unlock()
	return &c, nil
}

// CheckoutMandate returns an open checkout mandate.
func (s *Service) CheckoutMandate(mandateID string) (*CheckoutMandate, error) {
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	cm, ok := s.acts.checkouts[mandateID]
	if !ok {
		return nil, fmt.Errorf("%w: checkout mandate %s", ErrNotFound, mandateID)
	}
	return cm, nil
}

// CheckoutMandates returns an owner's open checkout mandates (of one
// agent, if agent is not empty), oldest first.
func (s *Service) CheckoutMandates(owner, agent string) []*CheckoutMandate {
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	var out []*CheckoutMandate
	for _, cm := range s.acts.checkouts {
		if cm.Owner == owner && (agent == "" || cm.Agent == agent) {
			out = append(out, cm)
		}
	}
	slices.SortFunc(out, func(a, b *CheckoutMandate) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// checkoutMandateByHash returns the open checkout mandate whose JWS has
// hash h, and whether it is revoked.
func (s *Service) checkoutMandateByHash(h string) (*CheckoutMandate, bool, bool) {
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	cm, ok := s.acts.checkoutHash[h]
	if !ok {
		return nil, false, false
	}
	return cm, cm.RevokedAt != nil, true
}

// PurchaseRequest is an agent's checkout purchase, made while its owner
// is away: the closed checkout mandate (signed by the agent, embedding
// the merchant-signed checkout, naming its open checkout mandate by
// hash), the closed payment mandate paying for that checkout (naming its
// open payment mandate by hash), an optional price attestation (compact
// JWS) for a price condition that names attestors, and the risk features
// the agent may add.
type PurchaseRequest struct {
	CheckoutMandate []byte
	PaymentMandate  []byte
	Price           []byte
	Category        string
	Metadata        map[string]string
}

// CheckoutRef is what a purchase paid for; its payment doc records it.
type CheckoutRef struct {
	Hash            string `json:"hash"`                        // protocol.HashJWS of the checkout
	ID              string `json:"id"`                          // the merchant's checkout id
	Merchant        string `json:"merchant"`                    // the merchant that signed it
	MandateHash     string `json:"mandate_hash"`                // HashJWS of the closed checkout mandate
	OpenMandate     string `json:"open_mandate"`                // the open checkout mandate's id
	PriceAttestedBy string `json:"price_attested_by,omitempty"` // issuer of the price attestation used
}

// Purchase is a checkout purchase: the payment it made (a Payment like a
// direct payment's, listed and answered the same way) and the checkout
// it paid for. Its JSON is the payment doc's body.
type Purchase struct {
	*Payment
	Checkout CheckoutRef `json:"checkout"`
}

// Purchase pays for a checkout for agent (authenticated by its request
// signature). It verifies the purchase with protocol.VerifyPurchase
// against the stored open checkout and open payment mandates its closed
// mandates name, evaluates both mandates' constraints (allowed
// merchants, line items, the price condition with the price attestation
// when given; the payment constraints as for Pay), the risk rules, and
// moves the money through the same linked limit chain as Pay, plus the
// checkout leg (legCheckout). A purchase the constraints leave
// unresolved (a price attestation required, an approval threshold) or a
// rule holds is held for the owner like a payment. The same closed
// payment mandate again is the same purchase.
func (s *Service) Purchase(ctx context.Context, agentID string, req PurchaseRequest) (*Purchase, error) {
	p, err := s.purchase(ctx, agentID, req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			s.stats.refused.Add(1)
		}
		return nil, err
	}
	s.stats.payments.Add(1)
	return p, nil
}

// peekJWS decodes the payload of a compact JWS into v before it is
// verified (to find the objects it is verified against).
func peekJWS(name string, jws []byte, v any) error {
	d1 := bytes.IndexByte(jws, '.')
	d2 := -1
	if d1 >= 0 {
		if d2 = bytes.IndexByte(jws[d1+1:], '.'); d2 >= 0 {
			d2 += d1 + 1
		}
	}
	if d2 < 0 || bytes.IndexByte(jws[d2+1:], '.') >= 0 || len(jws) > protocol.JWSBytesMax {
		return fmt.Errorf("%s is not a compact JWS", name)
	}
	b64 := jws[d1+1 : d2]
	payload := make([]byte, base64.RawURLEncoding.DecodedLen(len(b64)))
	n, err := base64.RawURLEncoding.Decode(payload, b64)
	payload = payload[:n]
	if err != nil {
		return fmt.Errorf("%s payload: %w", name, err)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%s payload: %w", name, err)
	}
	return nil
}

func (s *Service) purchase(ctx context.Context, agentID string, req PurchaseRequest) (*Purchase, error) {
	now := s.now()
	tm := s.timer()
	agent, err := s.Agent(agentID)
	if err != nil {
		return nil, err
	}
	var peekPM protocol.ClosedPaymentMandate
	if err := peekJWS("payment_mandate", req.PaymentMandate, &peekPM); err != nil {
		return nil, refusal(protocol.CodePayloadInvalid, err.Error())
	}
	var peekCM protocol.ClosedCheckoutMandate
	if err := peekJWS("checkout_mandate", req.CheckoutMandate, &peekCM); err != nil {
		return nil, refusal(protocol.CodePayloadInvalid, err.Error())
	}
	// The same closed payment mandate again (a retry): the same purchase.
	// Purchases and direct payments share payment ids (by the closed
	// payment mandate), so one closed payment mandate pays once.
	pid := paymentID(agent.ID, peekPM.ID, peekPM.IssuedAt)
	prev, ok, err := s.payment(ctx, pid)
	if err != nil {
		return nil, err
	}
	if ok {
		if prev.Closed != string(req.PaymentMandate) {
			return nil, refusal(protocol.CodeReplayed, "this closed mandate id was used for payment "+prev.ID)
		}
		ref, err := s.checkoutOf(ctx, prev.ID)
		if err != nil {
			return nil, refusal(protocol.CodeReplayed, "this closed mandate was used for direct payment "+prev.ID)
		}
		return &Purchase{Payment: s.withStatus(prev), Checkout: *ref}, nil
	}
	if err := s.unusedJTI(pid); err != nil {
		return nil, err
	}
	m, ok := s.mandateByHash(peekPM.OpenMandateHash)
	if !ok {
		return nil, refusal(protocol.CodeMandateHashMismatch, "payment_mandate.open_mandate_hash names no mandate issued on this platform")
	}
	cmo, cmoRevoked, ok := s.checkoutMandateByHash(peekCM.OpenMandateHash)
	if !ok {
		return nil, refusal(protocol.CodeMandateHashMismatch, "checkout_mandate.open_mandate_hash names no checkout mandate issued on this platform")
	}
	if m.Agent != agent.ID || cmo.Agent != agent.ID {
		return nil, refusal(protocol.CodeSignerNotAllowed, "a mandate was issued to another agent")
	}
	if m.RevokedAt != nil {
		return nil, refusal(protocol.CodeRevoked, "the payment mandate was revoked at "+m.RevokedAt.Format(time.RFC3339))
	}
	if cmoRevoked {
		return nil, refusal(protocol.CodeRevoked, "the checkout mandate was revoked")
	}
	for _, w := range []struct {
		what              string
		notBefore, expiry time.Time
	}{{"payment mandate", m.NotBefore, m.Expiry}, {"checkout mandate", cmo.NotBefore, cmo.Expiry}} {
		switch {
		case !now.Before(w.expiry):
			return nil, refusal(protocol.CodeExpired, "the "+w.what+" expired at "+w.expiry.Format(time.RFC3339))
		case now.Before(w.notBefore):
			return nil, refusal(protocol.CodeNotYetValid, "the "+w.what+" is valid from "+w.notBefore.Format(time.RFC3339))
		}
	}
	vc := s.verifyContextAt(now)
	vp, err := protocol.VerifyPurchase(ctx, vc, protocol.Purchase{
		CheckoutMandate: req.CheckoutMandate, PaymentMandate: req.PaymentMandate,
		OpenCheckoutMandate: []byte(cmo.JWS), OpenPaymentMandate: []byte(m.JWS)})
	if err != nil {
		return nil, refusal(protocol.CodeOf(err), err.Error())
	}
	pm, co := vp.PaymentMandate.Claims, vp.Checkout
	if pm.Issuer != agent.ID {
		return nil, refusal(protocol.CodeIssuerMismatch, "the closed mandates are not the calling agent's")
	}
	amt := pm.PaymentAmount
	w, err := s.payingWallet(m, amt)
	if err != nil {
		return nil, err
	}
	var price *protocol.Verified[protocol.PriceAttestation]
	if len(req.Price) > 0 {
		if price, err = protocol.VerifyPriceAttestation(ctx, vc, req.Price); err != nil {
			return nil, refusal(protocol.CodeOf(err), "price attestation: "+err.Error())
		}
	}
	p := &Payment{ID: pid, Mandate: m.ID, Agent: agent.ID, Owner: m.Owner,
		Wallet: w.ID, Payee: pm.Payee.ID, Amount: amt.Amount, Currency: amt.Currency, Scale: amt.Scale,
		Closed: string(req.PaymentMandate), CreatedAt: now.UTC()}
	ref := CheckoutRef{Hash: co.Hash, ID: co.Claims.ID, Merchant: co.Claims.Issuer,
		MandateHash: vp.CheckoutMandate.Hash, OpenMandate: cmo.ID}
	if price != nil {
		ref.PriceAttestedBy = price.Claims.Issuer
	}
	tm.done(StageVerify)

	// Both mandates' constraints, with the usage the payment mandate's
	// limit accounts hold (from memory; a refusal for a limit is
	// rechecked against the store).
	// The payee's category is the checkout merchant's, as registered.
	category := s.merchantCategory(co.Claims.Issuer)
	evaluate := func(fresh bool) protocol.Decision {
		return vp.Evaluate(protocol.PurchaseState{Now: now, Usage: s.usageOf(ctx, m, now, fresh), Price: price, PayeeCategory: category})
	}
	p.Decision = evaluate(false)
	if p.Decision.Outcome == protocol.OutcomeDeny &&
		(p.Decision.Code == protocol.CodeBudgetExceeded || p.Decision.Code == protocol.CodeRecurrenceExceeded) {
		p.Decision = evaluate(true)
	}
	tm.done(StageMandate)
	if p.Decision.Outcome == protocol.OutcomeDeny {
		return nil, &Refusal{Code: p.Decision.Code, Detail: failedDetail(p.Decision), Decision: &p.Decision, Limits: limitsOf(p.Decision)}
	}

	// Risk rules: they may hold or decline, never loosen a constraint.
	p.Risk = s.assess(agent, w, m, p.Payee, amt.Amount,
		PayRequest{ClosedMandate: req.PaymentMandate, Category: req.Category, Metadata: req.Metadata}, now)
	tm.done(StageRisk)
	if p.Risk.Outcome == risk.OutcomeDecline {
		return nil, &Refusal{Code: "risk_declined", Detail: "declined by risk rules: " + strings.Join(p.Risk.Reasons(), ", "), Decision: &p.Decision, Risk: &p.Risk}
	}
	if err := s.ensurePeriods(ctx, m, now); err != nil {
		return nil, err
	}
	// The chain: the checkout leg first, then Pay's legs (every limit of
	// the payment mandate, then the money).
	p.Legs = append([]Leg{{Name: legCheckout, Account: cmo.gateAccount(), Transfer: id("checkout", co.Hash)}}, s.legs(m, w, p, pm.ID, now)...)
	out := &Purchase{Payment: p, Checkout: ref}
	err = s.commitPayment(ctx, agent, w, m, p, out, now, &tm, func(res []ledger.Result) error {
		if len(res) > 0 {
			switch res[0] {
			case ledger.ResultExists, ledger.ResultExistsWithDifferentFields:
				return refusal(protocol.CodeReplayed, "checkout "+co.Claims.ID+" ("+co.Hash+") was paid for already")
			case ledger.ResultDebitAccountAlreadyClosed:
				return refusal(protocol.CodeRevoked, "the checkout mandate was revoked")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkoutOf returns what the purchase with payment id pid paid for, from
// its payment doc (ErrNotFound for a direct payment).
func (s *Service) checkoutOf(ctx context.Context, pid string) (*CheckoutRef, error) {
	docs, err := s.store.DocHistory(ctx, KindPayment, pid)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: payment %s", ErrNotFound, pid)
	}
	var body struct {
		Checkout *CheckoutRef `json:"checkout"`
	}
	if err := json.Unmarshal(docs[0].Body, &body); err != nil {
		return nil, err
	}
	if body.Checkout == nil {
		return nil, fmt.Errorf("%w: payment %s is not a checkout purchase", ErrNotFound, pid)
	}
	return body.Checkout, nil
}

// PurchaseOf returns the purchase that payment pid made, with the
// payment's status now; ErrNotFound when it is a direct payment.
func (s *Service) PurchaseOf(ctx context.Context, pid string) (*Purchase, error) {
	p, err := s.Payment(pid)
	if err != nil {
		return nil, err
	}
	ref, err := s.checkoutOf(ctx, pid)
	if err != nil {
		return nil, err
	}
	return &Purchase{Payment: p, Checkout: *ref}, nil
}
