package wallet

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
)

// Payment statuses.
const (
	StatusCompleted = "completed" // the money moved
	StatusHeld      = "held"      // the funds are held, waiting for the owner
	StatusApproved  = "approved"  // held, then approved by the owner: the money moved
	StatusDeclined  = "declined"  // held, then declined by the owner: released
	StatusExpired   = "expired"   // held, never answered: released
)

// Payment is a payment an agent made under a mandate.
type Payment struct {
	ID        string            `json:"id"`
	Mandate   string            `json:"mandate"`
	Agent     string            `json:"agent"`
	Owner     string            `json:"owner"`
	Wallet    string            `json:"wallet"`
	Payee     string            `json:"payee"`
	Amount    int64             `json:"amount"`
	Currency  string            `json:"currency"`
	Scale     uint8             `json:"scale"`
	Status    string            `json:"status"`
	Closed    string            `json:"closed_mandate"`        // the agent's closed mandate, compact JWS
	Hold      string            `json:"hold_reason,omitempty"` // why it is held: a constraint code or risk reasons
	Decision  protocol.Decision `json:"decision"`
	Risk      risk.Decision     `json:"risk"`
	Legs      []Leg             `json:"legs"`
	Limits    []protocol.Limit  `json:"limits,omitempty"` // what remains of each limit after it
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	Answer    *Answer           `json:"answer,omitempty"`

	// committed is what the last change of the payment committed: its
	// request (its transfers as the engine filled them in, its doc) and
	// the transfers' fingerprints as submitted, for receipts (Evidence
	// builds the records).
	committed *submitted
	// replayed: Pay answered a retry of a payment made before.
	replayed bool
	// evaluated, for a direct payment, is what its doc records of its
	// decision instead of the checks (evaluated.go); nil for others. It
	// is shared by the copies of a Payment, and never modified.
	evaluated *evaluated
}

// Replayed reports whether Pay answered with a payment made before (the
// same closed mandate again) instead of making one.
func (p *Payment) Replayed() bool { return p.replayed }

// submitted is a request to the engine of transfers and one doc, with the
// transfers' fingerprints as submitted: one allocation for the three,
// fingerprints included for a chain of up to seven transfers (total, the
// three periods, uses, a purchase's checkout, the money).
type submitted struct {
	req ledger.Request
	fps []uint64
	doc [1]ledger.Doc // req.Docs
	few [7]uint64     // fps, when they fit
}

// submission returns the request of transfers ts and doc d.
func submission(ts []ledger.Transfer, d ledger.Doc) *submitted {
	sub := &submitted{doc: [1]ledger.Doc{d}}
	sub.req = ledger.Request{Transfers: ts, Docs: sub.doc[:]}
	if n := len(ts); n <= len(sub.few) {
		sub.fps = sub.few[:n:n]
	} else {
		sub.fps = make([]uint64, n)
	}
	for i := range ts {
		sub.fps[i] = ledger.Fingerprint(&ts[i])
	}
	return sub
}

// Committed is what one change committed: transfer records and docs, as
// the store holds them (a receipt names their leaves).
type Committed struct {
	Transfers []ledger.TransferRecord
	Docs      []ledger.Doc
}

// committedOf builds the records of a committed request from its
// transfers (filled in by the engine), their fingerprints as submitted and
// its docs (timestamped by the engine).
func committedOf(ts []ledger.Transfer, fps []uint64, docs []ledger.Doc) *Committed {
	c := &Committed{Docs: docs, Transfers: make([]ledger.TransferRecord, len(ts))}
	for i := range ts {
		c.Transfers[i] = ledger.TransferRecord{Transfer: ts[i], Fingerprint: fps[i]}
	}
	return c
}

// Evidence returns the records the payment's latest change committed (the
// payment, or the owner's answer): what a receipt for it names.
func (s *Service) Evidence(ctx context.Context, p *Payment) (*Committed, error) {
	if c := p.committed; c != nil {
		return committedOf(c.req.Transfers, c.fps, c.req.Docs), nil
	}
	kind := KindPayment
	ids := make([]ledger.ID, len(p.Legs))
	for i, l := range p.Legs {
		ids[i] = l.Transfer
	}
	if p.Answer != nil {
		kind = KindApproval
		for i, l := range p.Legs {
			ids[i] = id("answer", p.ID, l.Name)
		}
	}
	c := &Committed{}
	for _, tid := range ids {
		r, err := s.store.GetTransfer(ctx, tid)
		if err != nil {
			return nil, fmt.Errorf("wallet: evidence of %s: transfer %s: %w", p.ID, tid, err)
		}
		c.Transfers = append(c.Transfers, r)
	}
	docs, err := s.store.DocHistory(ctx, kind, p.ID)
	if err != nil || len(docs) == 0 {
		return nil, fmt.Errorf("wallet: evidence of %s: %s doc: %v", p.ID, kind, err)
	}
	c.Docs = docs[len(docs)-1:]
	return c, nil
}

// Leg is one transfer of a payment's chain.
type Leg struct {
	Name     string    `json:"name"` // "total", "day", "week", "month", "uses", "payment"
	Transfer ledger.ID `json:"transfer"`
	Account  ledger.ID `json:"account"`
}

// Answer is the owner's answer to a held payment.
type Answer struct {
	Approved bool      `json:"approved"`
	At       time.Time `json:"at"`
}

// Refusal is a payment or mandate refused with a registered code; it
// carries the decision and what remains of each limit.
type Refusal struct {
	Code     protocol.Code
	Detail   string
	Decision *protocol.Decision
	Risk     *risk.Decision
	Limits   []protocol.Limit
}

func (r *Refusal) Error() string { return "wallet: refused: " + string(r.Code) + ": " + r.Detail }

// Unwrap makes a Refusal match ErrRefused.
func (r *Refusal) Unwrap() error { return ErrRefused }

func refusal(code protocol.Code, detail string) *Refusal { return &Refusal{Code: code, Detail: detail} }

// PayRequest is an agent's payment: its closed payment mandate (signed
// by the agent, naming the open mandate by hash, the payee and the
// amount) and the payment's risk features the agent may add.
type PayRequest struct {
	ClosedMandate []byte
	Category      string
	Metadata      map[string]string
}

// Pay makes a payment for agent (authenticated by its request signature):
// it verifies the closed mandate against its open mandate, evaluates
// every constraint and the risk rules, and moves the money and consumes
// the limits in one linked chain. A payment over the approval threshold,
// or one a rule holds, holds the funds (pending transfers) until the
// owner answers or ApprovalTTL passes.
func (s *Service) Pay(ctx context.Context, agentID string, req PayRequest) (*Payment, error) {
	p, err := s.pay(ctx, agentID, req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			s.stats.refused.Add(1)
		}
		return nil, err
	}
	s.stats.payments.Add(1)
	return p, nil
}

func (s *Service) pay(ctx context.Context, agentID string, req PayRequest) (*Payment, error) {
	now := s.now()
	tm := s.timer()
	agent, err := s.Agent(agentID)
	if err != nil {
		return nil, err
	}
	// The closed mandate is parsed once: its unverified payload names the
	// open mandate to verify it against (a payload that is not strict
	// JSON is peeked at loosely, so it fails verification in order).
	parsed := protocol.Parse[protocol.ClosedPaymentMandate](req.ClosedMandate)
	var peek closedRef
	if c, ok := parsed.Unverified(); ok {
		peek = closedRef{ID: c.ID, IssuedAt: c.IssuedAt, OpenMandateHash: c.OpenMandateHash}
	} else {
		var loose closedRef // decoded through an interface: allocated only here
		if err := peekJWS("closed_mandate", req.ClosedMandate, &loose); err != nil {
			return nil, refusal(protocol.CodePayloadInvalid, err.Error())
		}
		peek = loose
	}
	// The same closed mandate again (a retry): the same payment, whatever
	// happened since. Only the exact bytes the payment was made with match.
	pid := paymentID(agent.ID, peek.ID, peek.IssuedAt)
	prev, made, err := s.payment(ctx, pid)
	if err != nil {
		return nil, err
	}
	if made && prev.Closed == string(req.ClosedMandate) {
		prev = s.withLimits(ctx, s.withStatus(prev))
		prev.replayed = true
		return prev, nil
	}
	m, ok := s.mandateByHash(peek.OpenMandateHash)
	if !ok {
		return nil, refusal(protocol.CodeMandateHashMismatch, "open_mandate_hash names no mandate issued on this platform")
	}
	if m.Agent != agent.ID {
		return nil, refusal(protocol.CodeSignerNotAllowed, "the mandate was issued to another agent")
	}
	if m.RevokedAt != nil {
		return nil, refusal(protocol.CodeRevoked, "the mandate was revoked at "+m.RevokedAt.Format(time.RFC3339))
	}
	if kid := m.open.Signer.Key.KeyID(); s.userKeyRevoked(m.Owner, kid) {
		return nil, refusal(protocol.CodeKeyRevoked, "the mandate was signed with the owner's key "+kid+", since revoked")
	}
	switch {
	case !now.Before(m.Expiry):
		return nil, refusal(protocol.CodeExpired, "the mandate expired at "+m.Expiry.Format(time.RFC3339))
	case now.Before(m.NotBefore):
		return nil, refusal(protocol.CodeNotYetValid, "the mandate is valid from "+m.NotBefore.Format(time.RFC3339))
	}
	vc := s.verifyContextAt(now)
	cv, err := protocol.VerifyParsedClosedPaymentMandate(ctx, vc, parsed, m.open)
	if err != nil {
		return nil, refusal(protocol.CodeOf(err), err.Error())
	}
	c := cv.Claims
	if c.Issuer != agent.ID {
		return nil, refusal(protocol.CodeIssuerMismatch, "the closed mandate is not the calling agent's")
	}
	amt := c.PaymentAmount
	w, err := s.payingWallet(m, amt)
	if err != nil {
		return nil, err
	}
	if c.ID != peek.ID || c.IssuedAt != peek.IssuedAt {
		pid = paymentID(agent.ID, c.ID, c.IssuedAt)
		_, made = s.payments.load(pid)
	}
	p := &Payment{ID: pid, Mandate: m.ID, Agent: agent.ID, Owner: m.Owner,
		Wallet: w.ID, Payee: c.Payee.ID, Amount: amt.Amount, Currency: amt.Currency, Scale: amt.Scale,
		Closed: parsed.Text(), CreatedAt: now.UTC()}
	// A payment with this jti made before (other bytes): refused here, or,
	// if it commits concurrently, by the ledger (its single-use leg).
	if made {
		return nil, refusal(protocol.CodeReplayed, "this closed mandate id was used for payment "+p.ID)
	}
	if err := s.unusedJTI(p.ID); err != nil {
		return nil, err
	}

	tm.done(StageVerify)

	// Constraints, with the usage the limit accounts hold (from memory;
	// a refusal for a limit is rechecked against the store).
	exec := time.Time{}
	if c.ExecutionDate != 0 {
		exec = time.Unix(c.ExecutionDate, 0)
	}
	// The payee's category is the operator's (the merchant registry),
	// never the agent's claim.
	facts := &protocol.PaymentFacts{Amount: amt, Payee: c.Payee, ExecuteAt: exec, PayeeCategory: s.merchantCategory(c.Payee.ID)}
	var usage protocol.UsageState // what the decision was computed on
	evaluate := func(fresh bool) protocol.Decision {
		usage = s.usageOf(ctx, m, now, fresh)
		return m.open.Claims.Evaluate(protocol.EvalInput{Now: now, Payment: facts, State: usage})
	}
	p.Decision = evaluate(false)
	if p.Decision.Outcome == protocol.OutcomeDeny &&
		(p.Decision.Code == protocol.CodeBudgetExceeded || p.Decision.Code == protocol.CodeRecurrenceExceeded) {
		p.Decision = evaluate(true)
	}
	p.evaluated = evaluatedOf(&p.Decision, usage, facts.PayeeCategory)
	tm.done(StageMandate)
	if p.Decision.Outcome == protocol.OutcomeDeny {
		return nil, &Refusal{Code: p.Decision.Code, Detail: failedDetail(p.Decision), Decision: &p.Decision, Limits: limitsOf(p.Decision)}
	}

	// Risk rules: they may hold or decline, never loosen a constraint.
	p.Risk = s.assess(agent, w, m, c.Payee.ID, amt.Amount, req, now)
	tm.done(StageRisk)
	if p.Risk.Outcome == risk.OutcomeDecline {
		return nil, &Refusal{Code: "risk_declined", Detail: "declined by risk rules: " + strings.Join(p.Risk.Reasons(), ", "), Decision: &p.Decision, Risk: &p.Risk}
	}
	if err := s.ensurePeriods(ctx, m, now); err != nil {
		return nil, err
	}
	p.Legs = s.legs(m, w, p, c.ID, now)
	if err := s.commitPayment(ctx, agent, w, m, p, p, now, &tm, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// holdReason says why a payment is held for its owner: the constraint an
// approval threshold left unresolved, or the risk rules' step-up or
// review; "" when it is not held.
func holdReason(p *Payment) string {
	switch {
	case p.Decision.Outcome == protocol.OutcomeApprovalRequired:
		return string(p.Decision.Code)
	case p.Risk.Outcome == risk.OutcomeStepUp || p.Risk.Outcome == risk.OutcomeReview:
		return "risk_" + string(p.Risk.Outcome) + ": " + strings.Join(p.Risk.Reasons(), ", ")
	}
	return ""
}

// commitPayment commits a payment whose legs are set: one linked chain of
// the legs (pending, with the approval TTL, when the payment is held),
// with the payment's doc (body), then records it. refuse, when set, may
// explain a failed chain before chainRefusal does (nil: it cannot).
func (s *Service) commitPayment(ctx context.Context, agent *Agent, w *Wallet, m *Mandate, p *Payment, body any,
	now time.Time, tm *stageTimer, refuse func([]ledger.Result) error) error {
	hold := holdReason(p)
	payee, err := s.ensurePayee(ctx, p.Payee, w.Ledger)
	if err != nil {
		return err
	}
	ts := make([]ledger.Transfer, len(p.Legs))
	control := ControlLedger(m.Ledger)
	for i, l := range p.Legs {
		t := ledger.Transfer{ID: l.Transfer, DebitAccountID: l.Account, CreditAccountID: limitSink(control),
			Amount: uint64(p.Amount), Ledger: control, Code: TransferLimit}
		switch l.Name {
		case "uses", legCheckout:
			t.CreditAccountID, t.Amount, t.Ledger = limitSink(UsesLedger), 1, UsesLedger
		case "payment":
			t.CreditAccountID, t.Ledger, t.Code = payee, w.Ledger, TransferPayment
		}
		if hold != "" {
			t.Flags |= ledger.TransferPending
			t.Timeout = uint32(s.ttl / time.Second)
		}
		ts[i] = t
	}
	linkTransfers(ts)
	p.Status, p.Hold = StatusCompleted, hold
	if hold != "" {
		p.Status = StatusHeld
		exp := now.Add(s.ttl).UTC()
		p.ExpiresAt = &exp
	}
	sub := submission(ts, doc(KindPayment, p.ID, body))
	res, ok, err := s.engine.Submit(ctx, &sub.req, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEngine, err)
	}
	tm.done(StageLedger)
	if !ok {
		if refuse != nil {
			if err := refuse(res); err != nil {
				return err
			}
		}
		return s.chainRefusal(ctx, m, p, res, now)
	}
	p.committed = sub
	s.recordUse(agent, w, m, p, now)
	p.Limits = s.remaining(ctx, m, now, false)
	s.keep(p, sub.req.Docs[0].Body)
	tm.done(StageRecord)
	return nil
}

// payingWallet returns the wallet a mandate pays from, if amt is a
// positive amount in its currency.
func (s *Service) payingWallet(m *Mandate, amt protocol.Money) (*Wallet, error) {
	w, err := s.Wallet(m.Wallet)
	if err != nil {
		return nil, err
	}
	if amt.Currency != w.Currency || amt.Scale != w.Scale {
		return nil, refusal(protocol.CodeCurrencyMismatch, fmt.Sprintf("the payment is in %s/%d, the wallet holds %s/%d", amt.Currency, amt.Scale, w.Currency, w.Scale))
	}
	if amt.Amount <= 0 {
		return nil, refusal(protocol.CodeAmountOutOfRange, "the amount must be positive")
	}
	return w, nil
}

// closedRef is what a closed mandate is looked up by before it is
// verified against its open mandate: its id and the open mandate's hash
// (peekJWS decodes only these fields).
type closedRef struct {
	ID              string `json:"jti"`
	IssuedAt        int64  `json:"iat"`
	OpenMandateHash string `json:"open_mandate_hash"`
}

// failedDetail returns the detail of the first failed check.
func failedDetail(d protocol.Decision) string {
	for _, ch := range d.Checks {
		if ch.Result == protocol.CheckFail {
			return ch.Type + ": " + ch.Detail
		}
	}
	return string(d.Code)
}

func limitsOf(d protocol.Decision) []protocol.Limit {
	var out []protocol.Limit
	for _, ch := range d.Checks {
		out = append(out, ch.Limits...)
	}
	return out
}

// legs returns the chain of payment p, made with a closed mandate of id
// jti: every limit it consumes, then the money.
func (s *Service) legs(m *Mandate, w *Wallet, p *Payment, jti string, now time.Time) []Leg {
	// total, the period budgets (len(m.Budgets) counts total too), uses
	// and the money: one allocation.
	legs := make([]Leg, 1, len(m.Budgets)+3)
	legs[0] = Leg{Name: protocol.PeriodTotal, Account: m.totalAccount()}
	for _, b := range m.Budgets {
		if b.Period != protocol.PeriodTotal {
			aid, _ := m.periodAccount(b.Period, now)
			legs = append(legs, Leg{Name: b.Period, Account: aid})
		}
	}
	if m.Uses > 0 {
		legs = append(legs, Leg{Name: "uses", Account: m.usesAccount()})
	}
	legs = append(legs, Leg{Name: "payment", Account: w.Account})
	// The first leg's id derives from the agent and the closed mandate's
	// id alone (singleUse), so the ledger itself refuses a second chain
	// for the same jti, whatever raced it and whatever its iat: single use
	// is enforced in the transaction that moves the money. The other
	// legs' ids derive from the payment's and start with its time, so a
	// batch's ids share their store pages instead of each landing on a
	// random one.
	pid, _ := ledger.ParseID(strings.TrimPrefix(p.ID, PrefixPayment))
	for i := range legs {
		legs[i].Transfer = id("leg", p.ID, legs[i].Name)
		copy(legs[i].Transfer[:timePrefix], pid[:timePrefix])
	}
	_, timed := protocol.JTITime(jti)
	legs[0].Transfer = singleUse(p.ID, timed)
	return legs
}

// singleUse is the transfer id of the single-use leg of payment pid's
// chain, derived from the agent and the closed mandate's jti alone: a
// hash of both (the payment id's hash part), which lands anywhere in the
// store's id index; when the jti is time-ordered (timed), the payment id's
// time, which is the jti's, comes first, so the leg is stored with the
// payment's other records.
func singleUse(pid string, timed bool) ledger.ID {
	p, _ := ledger.ParseID(strings.TrimPrefix(pid, PrefixPayment))
	x := id("single-use", string(p[timePrefix:])) // jtiKey(pid), not allocated
	if timed {
		copy(x[:timePrefix], p[:timePrefix])
	}
	return x
}

// isSingleUse reports whether transfer t is payment pid's single-use leg.
func isSingleUse(pid string, t ledger.ID) bool {
	return t == singleUse(pid, false) || t == singleUse(pid, true)
}

// hasSingleUse reports whether one of legs is payment pid's single-use
// leg, and whether it is the one whose id does not start with the jti's
// time (single-use legs of time-ordered jtis had that form once).
func hasSingleUse(pid string, legs []Leg) (has, untimed bool) {
	plain, timed := singleUse(pid, false), singleUse(pid, true)
	for _, l := range legs {
		if l.Transfer == plain {
			return true, true
		}
		has = has || l.Transfer == timed
	}
	return has, false
}

// jtiKey is the part of payment id pid that names the agent and the
// closed mandate's jti (a hash of both), whatever the iat.
func jtiKey(pid string) string {
	x, _ := ledger.ParseID(strings.TrimPrefix(pid, PrefixPayment))
	return string(x[timePrefix:])
}

// movedSingleUse reports whether payment p was made before single-use
// legs of time-ordered jtis started with the jti's time, with a jti of
// that form, and its closed mandate may still be presented: it would get
// another payment id and single-use leg now, so its jti is remembered
// (unusedJTI) until the closed mandate has expired. Only payments of the
// last ClosedMandateLifetimeMax (and twice the clock skew) are read.
// untimed: p's single-use leg is of the form without the jti's time
// (hasSingleUse).
func (s *Service) movedSingleUse(p *paymentHead, untimed bool) bool {
	if !untimed || s.now().After(p.created.Add(protocol.ClosedMandateLifetimeMax+2*protocol.ClockSkewLimit)) {
		return false
	}
	jti, ok := storedJTI(string(p.closed))
	if !ok {
		return false
	}
	_, timed := protocol.JTITime(jti)
	return timed
}

// storedJTI returns the jti of a stored (so verified, strict JSON) closed
// mandate: its payload's jti member as written when it has no escape,
// which is the usual case and cheap on start, else from a decode.
func storedJTI(closed string) (string, bool) {
	d1, d2 := strings.IndexByte(closed, '.'), strings.LastIndexByte(closed, '.')
	if d1 < 0 || d2 <= d1 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(closed[d1+1 : d2])
	if err != nil {
		return "", false
	}
	// A strict payload has one jti member, at the top: the only place the
	// unescaped quotes of `"jti":"` can stand.
	if i := bytes.Index(payload, []byte(`"jti":"`)); i >= 0 {
		rest := payload[i+len(`"jti":"`):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
			return string(rest[:j]), true
		}
	}
	var ref closedRef
	if json.Unmarshal(payload, &ref) != nil {
		return "", false
	}
	return ref.ID, true
}

// unusedJTI refuses the jti of payment pid if a payment made before
// chains had a single-use leg used it (the ledger refuses every later
// reuse by itself).
func (s *Service) unusedJTI(pid string) error {
	if !s.hasLegacyJTIs.Load() {
		return nil
	}
	if prev, ok := s.legacyJTIs.Load(jtiKey(pid)); ok {
		return refusal(protocol.CodeReplayed, "this closed mandate id was used for payment "+prev.(string))
	}
	return nil
}

// ensurePeriods opens and funds the period budget accounts of the
// windows holding now (idempotent: ids derive from mandate and window).
func (s *Service) ensurePeriods(ctx context.Context, m *Mandate, now time.Time) error {
	control := ControlLedger(m.Ledger)
	var req ledger.Request
	for _, b := range m.Budgets {
		if b.Period == protocol.PeriodTotal {
			continue
		}
		aid, start := m.periodAccount(b.Period, now)
		if _, ok := s.ensured.Load(aid); ok {
			continue
		}
		req.Accounts = append(req.Accounts, limitAccount(aid, control))
		req.Transfers = append(req.Transfers, ledger.Transfer{ID: id("cap", m.ID, b.Period, start.Format(time.RFC3339)),
			DebitAccountID: limitSource(control), CreditAccountID: aid, Amount: uint64(b.Max), Ledger: control, Code: TransferCap})
	}
	if len(req.Accounts) == 0 {
		return nil
	}
	res, _, err := s.engine.Submit(ctx, &req, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEngine, err)
	}
	for i, r := range res {
		if !r.Committed() {
			return fmt.Errorf("%w: period budget %d: %v", ErrConflict, i, r)
		}
	}
	for _, a := range req.Accounts {
		s.ensured.Store(a.ID, struct{}{})
	}
	return nil
}

// ensurePayee opens a payee's receiving account (idempotent) and returns
// its id (PayeeAccount). Every payment asks: the accounts opened are
// remembered by payee and ledger, so the usual answer costs one lookup.
func (s *Service) ensurePayee(ctx context.Context, payee string, l uint32) (ledger.ID, error) {
	if x, ok := s.payees.Load(payeeLedger{payee, l}); ok {
		return x.(ledger.ID), nil
	}
	aid := PayeeAccount(payee, l)
	res, err := s.engine.CreateAccounts(ctx, []ledger.Account{{ID: aid, Ledger: l, Code: CodePayee, Flags: ledger.AccountHistory}}, nil)
	if err != nil {
		return ledger.ID{}, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	if !res[0].Committed() {
		return ledger.ID{}, fmt.Errorf("%w: payee account: %v", ErrConflict, res[0])
	}
	// A copy: payee may share the closed mandate's buffer (Parse), which
	// the map would otherwise keep whole.
	s.payees.Store(payeeLedger{strings.Clone(payee), l}, aid)
	return aid, nil
}

// payeeLedger keys the payee accounts opened.
type payeeLedger struct {
	payee  string
	ledger uint32
}

// chainRefusal explains why a payment's chain failed: the leg that failed
// names the limit (or the wallet) that refused it.
func (s *Service) chainRefusal(ctx context.Context, m *Mandate, p *Payment, res []ledger.Result, now time.Time) error {
	for i, r := range res {
		if r == ledger.ResultOK || r == ledger.ResultLinkedEventFailed {
			continue
		}
		leg := p.Legs[i]
		limits := s.remaining(ctx, m, now, true)
		switch {
		case (r == ledger.ResultExists || r == ledger.ResultExistsWithDifferentFields) && isSingleUse(p.ID, leg.Transfer):
			// A chain for this jti committed already.
			return refusal(protocol.CodeReplayed, "this closed mandate id was used already")
		case r == ledger.ResultExists || r == ledger.ResultExistsWithDifferentFields:
			return refusal(protocol.CodeReplayed, "this payment was made already")
		case r == ledger.ResultDebitAccountAlreadyClosed && leg.Name == protocol.PeriodTotal:
			return &Refusal{Code: protocol.CodeRevoked, Detail: "the mandate was revoked", Limits: limits}
		case r == ledger.ResultExceedsCredits && leg.Name == "uses":
			return &Refusal{Code: protocol.CodeRecurrenceExceeded, Detail: "the mandate's uses are spent", Limits: limits, Decision: &p.Decision}
		case r == ledger.ResultExceedsCredits && leg.Name == "payment":
			return &Refusal{Code: "insufficient_funds", Detail: "the wallet does not hold " + protocol.Money{Amount: p.Amount, Currency: p.Currency, Scale: p.Scale}.String(), Limits: limits, Decision: &p.Decision}
		case r == ledger.ResultExceedsCredits:
			return &Refusal{Code: protocol.CodeBudgetExceeded, Detail: "the " + leg.Name + " budget would be overrun", Limits: limits, Decision: &p.Decision}
		}
		return fmt.Errorf("%w: payment leg %s: %v", ErrConflict, leg.Name, r)
	}
	return fmt.Errorf("%w: the payment's chain failed", ErrConflict)
}

// remaining returns what is left of each limit of the mandate now.
func (s *Service) remaining(ctx context.Context, m *Mandate, now time.Time, fresh bool) []protocol.Limit {
	at := time.Now().UnixNano()
	left := func(aid ledger.ID) (used, max int64) { return s.usedOf(ctx, aid, fresh, at), 0 }
	n := len(m.Budgets)
	if m.Uses > 0 {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]protocol.Limit, 0, n)
	for _, b := range m.Budgets {
		aid := m.totalAccount()
		if b.Period != protocol.PeriodTotal {
			aid, _ = m.periodAccount(b.Period, now)
		}
		used, _ := left(aid)
		out = append(out, protocol.Limit{Name: b.Period, Unit: m.Currency, Scale: m.Scale, Max: b.Max, Used: used, Remaining: max(0, b.Max-used)})
	}
	if m.Uses > 0 {
		used, _ := left(m.usesAccount())
		out = append(out, protocol.Limit{Name: "uses", Unit: "uses", Max: m.Uses, Used: used, Remaining: max(0, m.Uses-used)})
	}
	return out
}

// assess evaluates the risk rules for a payment. The merchant category
// the rules see is the agent's (req.Category), else the payee's
// registered one.
func (s *Service) assess(agent *Agent, w *Wallet, m *Mandate, payee string, amount int64, req PayRequest, now time.Time) risk.Decision {
	var buf [128]byte
	key := walletPayeeLookup(&buf, w.ID, payee)
	_, seen := s.seenPayees.Load(key)
	category := req.Category
	if category == "" {
		category = s.merchantCategory(payee)
	}
	at := s.now() // the counters' clock, read once for the four
	f := &risk.Features{
		Amount: amount, Currency: w.Currency, MandateID: m.ID, HourUTC: now.UTC().Hour(), Metadata: req.Metadata,
		MerchantID: payee, MerchantCategory: category, IsNewMerchant: !seen,
		MerchantAmountToday: s.merchantDay.SumAt(key, at),
		AgentID:             agent.ID, AgentPaymentsLastMinute: s.perMinute.SumAt(agent.ID, at),
		AgentAmountLastHour: s.perHour.SumAt(agent.ID, at),
		WalletID:            w.ID, WalletAmountToday: s.walletDay.SumAt(w.ID, at),
	}
	for _, con := range m.open.Claims.Constraints {
		if pc, ok := con.(*protocol.PriceConditionConstraint); ok {
			f.PriceCondition = &risk.PriceCondition{AtOrBelow: pc.AtOrBelow}
		}
	}
	s.mu.RLock()
	wr := s.walletRules[w.ID]
	s.mu.RUnlock()
	return risk.Evaluate(f, *s.platformRules.Load(), wr)
}

// walletPayee is the key of what wallet paid payee: the wallet's id, 0,
// the payee's.
func walletPayee(wallet, payee string) string { return wallet + "\x00" + payee }

// walletPayeeLookup is walletPayee written to buf, for lookups that keep
// no key: it allocates nothing when buf is on the caller's stack and the
// key fits. The string shares buf's bytes, which nothing writes again.
func walletPayeeLookup(buf *[128]byte, wallet, payee string) string {
	b := append(append(append(buf[:0], wallet...), 0), payee...)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// recordUse updates the velocity counters after a committed payment.
func (s *Service) recordUse(agent *Agent, w *Wallet, m *Mandate, p *Payment, now time.Time) {
	at := s.now() // the counters' clock, read once for the four
	s.perMinute.AddAt(agent.ID, 1, at)
	s.perHour.AddAt(agent.ID, p.Amount, at)
	key, seen := s.payeeKey(w.ID, p.Payee)
	s.merchantDay.AddAt(key, p.Amount, at)
	s.walletDay.AddAt(w.ID, p.Amount, at)
	for _, l := range p.Legs {
		switch l.Name {
		case "payment":
		case "uses", legCheckout:
			s.addUsed(l.Account, 1)
		default:
			s.addUsed(l.Account, p.Amount)
		}
	}
	if !seen {
		s.seenPayees.Store(key, key)
	}
	for {
		last := m.lastUse.Load()
		if now.UnixNano() <= last || m.lastUse.CompareAndSwap(last, now.UnixNano()) {
			break
		}
	}
}

// kept is a payment as the service keeps it in memory: what listings and
// holds need, and, for the payments most recently made or changed
// (Config.PaymentDocsKept), its latest doc, the JSON the store holds,
// decoded when the whole payment is asked for; the others' docs are read
// from the store then. It is a few words and one byte slice, which the
// garbage collector does not scan, so however many payments are kept,
// marking the heap does not grow with what they say.
type kept struct {
	id, owner, agent, status string
	created, expires         int64                  // Unix ns; expires 0: no hold
	answered                 bool                   // its latest doc is an approval doc
	doc                      atomic.Pointer[[]byte] // nil once dropped: the store holds it
}

// keptOf returns p as kept with its latest doc body (p's JSON, or a JSON
// object with p's members and others, as a purchase's).
func keptOf(p *Payment, doc []byte) *kept {
	return newKept(p.ID, p.Owner, p.Agent, p.Status, p.CreatedAt, p.ExpiresAt, p.Answer != nil, doc)
}

// kept returns the payment whose head is h as kept with its latest doc.
func (h *paymentHead) kept(doc []byte) *kept {
	return newKept(h.id, h.owner, h.agent, h.status, h.created, h.expires, h.answered, doc)
}

func newKept(id, owner, agent, status string, created time.Time, expires *time.Time, answered bool, doc []byte) *kept {
	k := &kept{id: id, owner: owner, agent: agent, status: status, created: created.UnixNano(), answered: answered}
	k.doc.Store(&doc)
	if expires != nil {
		k.expires = expires.UnixNano()
	}
	return k
}

// statusAt returns the payment's status at now (a held payment whose
// hold expired is expired), as withStatus does.
func (k *kept) statusAt(now time.Time) string {
	if k.status == StatusHeld && k.expires != 0 && now.UnixNano() >= k.expires {
		return StatusExpired
	}
	return k.status
}

// keep records p, committed with doc (the body of the doc its change
// committed), as the payment's current state. The transfer records its
// change committed stay with the caller's p, for the receipt it answers
// with; a receipt asked for later reads them from the store.
func (s *Service) keep(p *Payment, doc []byte) { s.keepKept(keptOf(p, doc)) }

// keepKept records k as its payment's current state.
func (s *Service) keepKept(k *kept) {
	s.stats.docsKept.Add(1)
	if prev := s.index(k); prev != nil {
		s.dropDoc(prev) // superseded
	}
	if old := s.docsKept.push(k); old != nil {
		s.dropDoc(old)
	}
}

// index makes k the payment's current state, in the id map and in its
// owner's list, and returns the state it replaced (nil: none).
func (s *Service) index(k *kept) (prev *kept) {
	prev = s.payments.swap(k)
	replaced := prev != nil
	x, ok := s.byOwner.Load(k.owner)
	if !ok {
		x, _ = s.byOwner.LoadOrStore(k.owner, &ownerPayments{sorted: true})
	}
	op := x.(*ownerPayments)
	op.mu.Lock()
	defer op.mu.Unlock()
	if replaced {
		op.sortLocked()
		if i, found := slices.BinarySearchFunc(op.list, prev, listingOrder); found {
			op.list[i] = k
			return prev
		}
	}
	if n := len(op.list); n > 0 && listingOrder(op.list[n-1], k) > 0 {
		op.sorted = false
	}
	op.list = append(op.list, k)
	return prev
}

// docRing holds the payments whose docs are kept, in the order they were
// kept: when it is full, keeping one more drops the oldest's doc.
type docRing struct {
	max  int // 0: no bound
	mu   sync.Mutex
	buf  []*kept
	next int // the oldest, once buf is full
}

// push adds k and returns the kept payment it displaced, if any.
func (r *docRing) push(k *kept) *kept {
	if r.max <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < r.max {
		r.buf = append(r.buf, k)
		return nil
	}
	old := r.buf[r.next]
	r.buf[r.next] = k
	r.next = (r.next + 1) % r.max
	return old
}

// dropDoc drops k's doc from memory (the store holds it): k has left the
// most recent payments, or a newer state of its payment replaced it.
func (s *Service) dropDoc(k *kept) {
	if k.doc.Swap(nil) != nil {
		s.stats.docsKept.Add(^uint64(0))
	}
}

// paymentOf returns k's payment, decoded from its doc, which is read from
// the store when it is not kept, its decision explained (explain).
func (s *Service) paymentOf(ctx context.Context, k *kept) (*Payment, error) {
	if d := k.doc.Load(); d != nil {
		p := k.decode(*d)
		s.explain(p)
		return p, nil
	}
	kind := KindPayment
	if k.answered {
		kind = KindApproval
	}
	s.stats.docReads.Add(1)
	docs, err := s.store.DocHistory(ctx, kind, k.id)
	if err != nil {
		return nil, fmt.Errorf("%w: read payment %s: %w", ErrEngine, k.id, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: payment %s has no %s doc in the store", ErrEngine, k.id, kind)
	}
	p := k.decode(docs[len(docs)-1].Body)
	s.explain(p)
	return p, nil
}

// ownerPayments is one owner's kept payments, in listing order when a
// listing reads them, so that a page is found without looking at other
// owners' payments. A payment is appended (payments commit in about the
// order they were made), and a listing sorts the list first if an append
// left it out of order: the payment path holds the lock only to append.
type ownerPayments struct {
	mu     sync.Mutex
	list   []*kept
	sorted bool // list is in listing order
}

func (op *ownerPayments) sortLocked() {
	if !op.sorted {
		slices.SortFunc(op.list, listingOrder)
		op.sorted = true
	}
}

// listingOrder orders payments by creation, then id.
func listingOrder(a, b *kept) int {
	if c := cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// payment returns payment pid (false: there is none), decoded from its
// doc, read from the store if it is not kept.
func (s *Service) payment(ctx context.Context, pid string) (*Payment, bool, error) {
	k, ok := s.payments.load(pid)
	if !ok {
		return nil, false, nil
	}
	p, err := s.paymentOf(ctx, k)
	return p, err == nil, err
}

// decode decodes doc, k's latest doc. The docs are the service's own
// JSON; one that did not decode would still give the payment's id,
// parties and status.
func (k *kept) decode(doc []byte) *Payment {
	p := &Payment{}
	if readPayment(doc, p) && p.ID == k.id {
		return p
	}
	p, err := decodePaymentJSON(doc)
	if err != nil || p.ID != k.id {
		return &Payment{ID: k.id, Owner: k.owner, Agent: k.agent, Status: k.status, CreatedAt: time.Unix(0, k.created).UTC()}
	}
	return p
}

// withLimits sets p.Limits to what remains of each limit of its mandate
// now (a payment read again: its doc does not hold them).
func (s *Service) withLimits(ctx context.Context, p *Payment) *Payment {
	if m, err := s.Mandate(p.Mandate); err == nil {
		p.Limits = s.remaining(ctx, m, s.now(), false)
	}
	return p
}

func (s *Service) applyPayment(d ledger.Doc) error {
	p, err := decodeHead(d.Body, s.loadNames)
	if err != nil {
		return err
	}
	s.keepKept(p.kept(d.Body))
	s.stats.loaded.Add(1)
	switch has, untimed := hasSingleUse(p.id, p.legs); {
	case !has:
		// A payment made before chains had a single-use leg: its jti is
		// remembered here instead (unusedJTI).
		s.legacyJTIs.Store(jtiKey(p.id), p.id)
		s.hasLegacyJTIs.Store(true)
	case s.movedSingleUse(&p, untimed):
		s.legacyJTIs.Store(jtiKey(p.id), p.id)
		s.hasLegacyJTIs.Store(true)
	}
	if m, ok := s.mandates[p.mandate]; ok && int64(d.Timestamp) > m.lastUse.Load() {
		m.lastUse.Store(int64(d.Timestamp))
	}
	s.seePayee(walletPayee(p.wallet, p.payee))
	return nil
}

// seePayee records that a wallet paid a payee (key: their walletPayee).
// A payee already seen is not stored again: a store replaces the entry,
// which costs more than the lookup.
func (s *Service) seePayee(key string) {
	if _, seen := s.seenPayees.Load(key); !seen {
		s.seenPayees.Store(key, key)
	}
}

// payeeKey returns the walletPayee key of wallet and payee, and whether
// the wallet paid the payee before: the key seenPayees holds then (no
// allocation), else a new one.
func (s *Service) payeeKey(wallet, payee string) (string, bool) {
	var buf [128]byte
	if x, ok := s.seenPayees.Load(walletPayeeLookup(&buf, wallet, payee)); ok {
		return x.(string), true
	}
	return walletPayee(wallet, payee), false
}

// Payment returns a payment with its status now (a held payment whose
// hold expired is expired).
func (s *Service) Payment(pid string) (*Payment, error) {
	p, ok, err := s.payment(context.Background(), pid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: payment %s", ErrNotFound, pid)
	}
	return s.withStatus(p), nil
}

func (s *Service) withStatus(p *Payment) *Payment {
	if p.Status == StatusHeld && p.ExpiresAt != nil && !s.now().Before(*p.ExpiresAt) {
		q := *p
		q.Status = StatusExpired
		return &q
	}
	return p
}

// Payments returns an owner's payments (of one agent or one status when
// not empty), oldest first.
func (s *Service) Payments(owner, agent, status string) []*Payment {
	out, _, _ := s.PaymentsPage(owner, agent, status, "", 0)
	return out
}

// ErrBadCursor is returned by PaymentsPage for an after that names none
// of the owner's payments.
var ErrBadCursor = errors.New("wallet: the cursor names none of the owner's payments")

// PaymentsPage returns up to limit (0: all) of an owner's payments (of one
// agent or one status when not empty), oldest first (by creation, then
// id), after the payment whose id is after ("": from the first), and the
// id to pass as after for the next page ("" when none is left).
func (s *Service) PaymentsPage(owner, agent, status, after string, limit int) ([]*Payment, string, error) {
	var from *kept
	if after != "" {
		k, ok := s.payments.load(after)
		if !ok || k.owner != owner {
			return nil, "", fmt.Errorf("%w: %s", ErrBadCursor, after)
		}
		from = k
	}
	x, ok := s.byOwner.Load(owner)
	if !ok {
		return nil, "", nil
	}
	op := x.(*ownerPayments)
	now := s.now()
	var sel []*kept
	next := ""
	op.mu.Lock()
	op.sortLocked()
	i := 0
	if from != nil {
		i, _ = slices.BinarySearchFunc(op.list, from, listingOrder)
		if i < len(op.list) && op.list[i].id == from.id {
			i++
		}
	}
	for ; i < len(op.list); i++ {
		k := op.list[i]
		if (agent != "" && k.agent != agent) || (status != "" && k.statusAt(now) != status) {
			continue
		}
		if limit > 0 && len(sel) == limit {
			next = sel[limit-1].id
			break
		}
		sel = append(sel, k)
	}
	op.mu.Unlock()
	out := make([]*Payment, len(sel))
	for i, k := range sel {
		p, err := s.paymentOf(context.Background(), k)
		if err != nil {
			return nil, "", err
		}
		out[i] = s.withStatus(p)
	}
	return out, next, nil
}

// Answer approves or declines a held payment: the held legs are posted
// (the money moves) or voided (released) as one chain. Only the owner
// may; an expired hold cannot be approved.
func (s *Service) Answer(ctx context.Context, owner, pid string, approve bool) (*Payment, error) {
	p, ok, err := s.payment(ctx, pid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: payment %s", ErrNotFound, pid)
	}
	if p.Owner != owner {
		return nil, fmt.Errorf("%w: payment %s belongs to another owner", ErrForbidden, pid)
	}
	if cur := s.withStatus(p); cur.Status != StatusHeld {
		return nil, fmt.Errorf("%w: payment %s is %s", ErrNotPending, pid, cur.Status)
	}
	now := s.now().UTC()
	ts := make([]ledger.Transfer, len(p.Legs))
	for i, l := range p.Legs {
		t := ledger.Transfer{ID: id("answer", p.ID, l.Name), PendingID: l.Transfer}
		if approve {
			t.Flags, t.Amount = ledger.TransferPostPending, ledger.AmountMax
		} else {
			t.Flags = ledger.TransferVoidPending
		}
		ts[i] = t
	}
	linkTransfers(ts)
	q := *p
	q.Answer = &Answer{Approved: approve, At: now}
	q.Status = StatusDeclined
	if approve {
		q.Status = StatusApproved
	}
	sub := submission(ts, doc(KindApproval, p.ID, &q))
	res, ok, err := s.engine.Submit(ctx, &sub.req, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	if !ok {
		for _, r := range res {
			if r == ledger.ResultPendingTransferExpired {
				return nil, fmt.Errorf("%w: payment %s expired", ErrNotPending, pid)
			}
		}
		return nil, fmt.Errorf("%w: answering payment %s: %s", ErrConflict, pid, firstFailure(res))
	}
	if !approve {
		for _, l := range p.Legs {
			switch l.Name {
			case "payment":
			case "uses", legCheckout:
				s.addUsed(l.Account, -1)
			default:
				s.addUsed(l.Account, -p.Amount)
			}
		}
	}
	q.committed = sub
	s.keep(&q, sub.req.Docs[0].Body)
	return &q, nil
}

func (s *Service) applyApproval(d ledger.Doc) error {
	p, err := decodeHead(d.Body, s.loadNames)
	if err != nil {
		return err
	}
	s.keepKept(p.kept(d.Body))
	return nil
}

// timePrefix is how many leading bytes of an id hold its time in
// milliseconds (as ledger.NewID writes it).
const timePrefix = 6

// paymentID is the id of agent's payment with the closed mandate jti
// issued at iat (Unix seconds): a time in milliseconds, then ten bytes of
// a hash of the agent and jti. The time is the jti's own when it is
// time-ordered (protocol.JTITime; the SDK's are), the issue time
// otherwise. Ids of one moment sort together (and share store pages); the
// hash part names the agent's jti, and the payment's single-use leg
// derives from it (legs), so a closed mandate id pays once whatever its
// iat.
func paymentID(agentID, jti string, iat int64) string {
	h := id("payment", agentID, jti)
	t := uint64(min(max(iat, 0), 1<<47/1000) * 1000)
	if jt, ok := protocol.JTITime(jti); ok {
		t = jt
	}
	var ms [8]byte // as ledger.NewID: milliseconds, big-endian, in 48 bits
	binary.BigEndian.PutUint64(ms[:], t<<16)
	copy(h[:timePrefix], ms[:timePrefix])
	return PrefixPayment + h.String()
}
