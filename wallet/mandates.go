package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// gateCap funds the total account of a mandate without a total budget:
// the account still gates every payment (revocation closes it).
const gateCap = uint64(1) << 62

// Mandate is an open payment mandate the owner issued to an agent, kept
// verbatim (JWS) with what the service derived from it.
type Mandate struct {
	ID        string     `json:"id"`
	Owner     string     `json:"owner"`
	Agent     string     `json:"agent"`
	Wallet    string     `json:"wallet"`
	JTI       string     `json:"jti"`
	Hash      string     `json:"hash"` // protocol.HashJWS of JWS
	JWS       string     `json:"jws"`
	Currency  string     `json:"currency"`
	Scale     uint8      `json:"scale"`
	Ledger    uint32     `json:"ledger"`
	Budgets   []Budget   `json:"budgets,omitempty"`
	Uses      int64      `json:"uses,omitempty"` // most payments, 0: no count limit
	NotBefore time.Time  `json:"not_before"`
	Expiry    time.Time  `json:"expiry"`
	IssuedAt  time.Time  `json:"issued_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`

	open    *protocol.Verified[protocol.OpenPaymentMandate]
	lastUse atomic.Int64 // Unix ns of the last payment
	accts   limitAccounts
}

// limitAccounts keeps a mandate's limit account ids once derived: each is
// a hash, and every payment names several of them several times.
type limitAccounts struct {
	total, uses atomic.Pointer[ledger.ID]
	periods     [3]atomic.Pointer[windowAccount] // the day's, week's and month's last window
}

// windowAccount is the account of a period budget's window, which holds
// the times from start up to end.
type windowAccount struct {
	start, end time.Time
	id         ledger.ID
}

// Budget is one budget of a mandate.
type Budget struct {
	Period string `json:"period"` // protocol.PeriodDay, ...Week, ...Month, ...Total
	Max    int64  `json:"max"`
}

// IssueMandate stores an open payment mandate signed by owner for one of
// the owner's agents and wallets, and opens its limit accounts: the total
// budget (the gate every payment passes) and the use count, funded with
// their caps. Period budgets open on their first payment.
func (s *Service) IssueMandate(ctx context.Context, owner string, jws []byte) (*Mandate, error) {
	v, err := protocol.VerifyOpenPaymentMandate(ctx, s.verifyContext(), jws)
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
	if c.PaymentInstrument.Type != protocol.PaymentInstrumentWallet {
		return nil, fmt.Errorf("%w: payment_instrument must be an %s", ErrInvalid, protocol.PaymentInstrumentWallet)
	}
	w, err := s.Wallet(c.PaymentInstrument.ID)
	if err != nil || w.Owner != owner {
		return nil, fmt.Errorf("%w: payment_instrument %q is not a wallet of %s", ErrInvalid, c.PaymentInstrument.ID, owner)
	}
	m := &Mandate{ID: s.newID(PrefixMandate), Owner: owner, Agent: agent.ID, Wallet: w.ID, JTI: c.ID, Hash: v.Hash,
		JWS: string(jws), Currency: w.Currency, Scale: w.Scale, Ledger: w.Ledger,
		IssuedAt: s.now().UTC(), Expiry: time.Unix(c.Expiry, 0).UTC(), open: v}
	m.NotBefore = time.Unix(max(c.NotBefore, c.IssuedAt), 0).UTC()
	for _, con := range c.Constraints {
		switch x := con.(type) {
		case *protocol.BudgetConstraint:
			if x.Currency != w.Currency || x.Scale != w.Scale {
				return nil, refusal(protocol.CodeCurrencyMismatch, fmt.Sprintf("budget in %s/%d, the wallet holds %s/%d", x.Currency, x.Scale, w.Currency, w.Scale))
			}
			p := x.Period
			if p == "" {
				p = protocol.PeriodTotal
			}
			m.Budgets = append(m.Budgets, Budget{Period: p, Max: x.Max})
		case *protocol.RecurrenceConstraint:
			if x.MaxOccurrences > 0 {
				m.Uses = x.MaxOccurrences
			}
		case *protocol.AmountRangeConstraint:
			if x.Currency != w.Currency || x.Scale != w.Scale {
				return nil, refusal(protocol.CodeCurrencyMismatch, fmt.Sprintf("amount range in %s/%d, the wallet holds %s/%d", x.Currency, x.Scale, w.Currency, w.Scale))
			}
		}
	}
	o, issued := s.byHash.Load(m.Hash)
	if !issued {
		o, issued = s.byJTI.Load(issuerJTI{owner, m.JTI})
	}
	if issued {
		return nil, fmt.Errorf("%w: this mandate (jti %s) is issued already as %s", ErrConflict, m.JTI, o.(*Mandate).ID)
	}
	total := gateCap
	if b, ok := m.budget(protocol.PeriodTotal); ok {
		total = uint64(b.Max)
	}
	control := ControlLedger(m.Ledger)
	req := &ledger.Request{
		Accounts: []ledger.Account{limitAccount(m.totalAccount(), control)},
		Transfers: []ledger.Transfer{{ID: id("cap", m.ID, "total"), DebitAccountID: limitSource(control),
			CreditAccountID: m.totalAccount(), Amount: total, Ledger: control, Code: TransferCap}},
	}
	if m.Uses > 0 {
		req.Accounts = append(req.Accounts, limitAccount(m.usesAccount(), UsesLedger))
		req.Transfers = append(req.Transfers, ledger.Transfer{ID: id("cap", m.ID, "uses"), DebitAccountID: limitSource(UsesLedger),
			CreditAccountID: m.usesAccount(), Amount: uint64(m.Uses), Ledger: UsesLedger, Code: TransferCap})
	}
	linkAccounts(req.Accounts)
	linkTransfers(req.Transfers)
	req.Docs = []ledger.Doc{doc(KindMandateIssued, m.ID, m)}
	if _, err := s.commit(ctx, req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.mandates[m.ID] = m
	s.mu.Unlock()
	s.indexMandate(m)
	return m, nil
}

// limitAccount is a limit account: it cannot be debited below zero.
func limitAccount(accountID ledger.ID, l uint32) ledger.Account {
	return ledger.Account{ID: accountID, Ledger: l, Code: CodeBudget, Flags: ledger.AccountDebitsMustNotExceedCredits}
}

func linkAccounts(as []ledger.Account) {
	for i := 0; i+1 < len(as); i++ {
		as[i].Flags |= ledger.AccountLinked
	}
}

func linkTransfers(ts []ledger.Transfer) {
	for i := 0; i+1 < len(ts); i++ {
		ts[i].Flags |= ledger.TransferLinked
	}
}

func (m *Mandate) budget(period string) (Budget, bool) {
	i := slices.IndexFunc(m.Budgets, func(b Budget) bool { return b.Period == period })
	if i < 0 {
		return Budget{}, false
	}
	return m.Budgets[i], true
}

func (m *Mandate) totalAccount() ledger.ID {
	return derived(&m.accts.total, func() ledger.ID { return id("limit", m.ID, protocol.PeriodTotal) })
}

func (m *Mandate) usesAccount() ledger.ID {
	return derived(&m.accts.uses, func() ledger.ID { return id("limit", m.ID, "uses") })
}

// derived returns *p, set from f first if it is nil.
func derived(p *atomic.Pointer[ledger.ID], f func() ledger.ID) ledger.ID {
	if x := p.Load(); x != nil {
		return *x
	}
	x := f()
	p.Store(&x)
	return x
}

// periodAccount returns the account of a period budget for the window
// holding now, and the window's start.
func (m *Mandate) periodAccount(period string, now time.Time) (ledger.ID, time.Time) {
	var last *atomic.Pointer[windowAccount]
	switch period {
	case protocol.PeriodDay:
		last = &m.accts.periods[0]
	case protocol.PeriodWeek:
		last = &m.accts.periods[1]
	case protocol.PeriodMonth:
		last = &m.accts.periods[2]
	}
	// The last window's account, while now is in that window (windows
	// tile time: no other holds it).
	if last != nil {
		if w := last.Load(); w != nil && !now.Before(w.start) && now.Before(w.end) {
			return w.id, w.start
		}
	}
	start, end := protocol.BudgetWindow(period, now)
	aid := id("limit", m.ID, period, start.Format(time.RFC3339))
	if last != nil {
		last.Store(&windowAccount{start, end, aid})
	}
	return aid, start
}

func (s *Service) applyMandateIssued(d ledger.Doc) error {
	var m Mandate
	if err := json.Unmarshal(d.Body, &m); err != nil {
		return err
	}
	// Verify the stored bytes as of their issue (keys are loaded first).
	vc := s.verifyContextAt(m.IssuedAt)
	vc.Revocations, vc.Keys = nil, asIssued{s}
	v, err := protocol.VerifyOpenPaymentMandate(context.Background(), vc, []byte(m.JWS))
	if err != nil {
		return fmt.Errorf("mandate %s no longer verifies: %w", m.ID, err)
	}
	m.open = v
	s.mandates[m.ID] = &m
	s.indexMandate(&m)
	return nil
}

// revocation is the body of a mandate's revocation doc (closeGate).
type revocation struct {
	ID        string    `json:"id"`
	RevokedAt time.Time `json:"revoked_at"`
}

func (s *Service) applyMandateRevoked(d ledger.Doc) error {
	var r revocation
	if err := json.Unmarshal(d.Body, &r); err != nil {
		return err
	}
	if m, ok := s.mandates[r.ID]; ok {
		m.RevokedAt = &r.RevokedAt
	}
	return nil
}

// RevokeMandate revokes a mandate at once: it closes the mandate's total
// account, which every payment debits, in the engine's order, so every
// payment not yet committed fails. Only the owner may.
func (s *Service) RevokeMandate(ctx context.Context, owner, mandateID string) (*Mandate, error) {
	m, err := s.Mandate(mandateID)
	if err != nil {
		return nil, err
	}
	if m.Owner != owner {
		return nil, fmt.Errorf("%w: mandate %s belongs to another owner", ErrForbidden, mandateID)
	}
	if m.RevokedAt != nil {
		return m, nil
	}
	now := s.now().UTC()
	if err := s.closeGate(ctx, m.ID, m.totalAccount(), ControlLedger(m.Ledger), KindMandateRevoked, now); err != nil {
		return nil, err
	}
	// Copy on write: payments and readers holding the mandate keep an
	// unchanged value; new ones find the revoked copy (the ledger refuses
	// the payments either way: the gate account is closed).
	c := m.clone()
	c.RevokedAt = &now
	s.mu.Lock()
	s.mandates[c.ID] = c
	s.mu.Unlock()
	s.indexMandate(c)
	return c, nil
}

// closeGate revokes the mandate mandateID: one request closes its gate
// account (a pending transfer of 0 with closing_debit, so every later
// debit fails in the engine's order) and records the revocation doc.
func (s *Service) closeGate(ctx context.Context, mandateID string, gate ledger.ID, l uint32, kind string, now time.Time) error {
	req := &ledger.Request{
		Transfers: []ledger.Transfer{{ID: id("revoke", mandateID), DebitAccountID: gate, CreditAccountID: limitSink(l),
			Amount: 0, Ledger: l, Code: TransferRevoke, Flags: ledger.TransferPending | ledger.TransferClosingDebit}},
		Docs: []ledger.Doc{doc(kind, mandateID, revocation{ID: mandateID, RevokedAt: now})},
	}
	_, err := s.commit(ctx, req)
	return err
}

// clone returns a copy of m (its last use included).
func (m *Mandate) clone() *Mandate {
	c := &Mandate{ID: m.ID, Owner: m.Owner, Agent: m.Agent, Wallet: m.Wallet, JTI: m.JTI, Hash: m.Hash, JWS: m.JWS,
		Currency: m.Currency, Scale: m.Scale, Ledger: m.Ledger, Budgets: m.Budgets, Uses: m.Uses,
		NotBefore: m.NotBefore, Expiry: m.Expiry, IssuedAt: m.IssuedAt, RevokedAt: m.RevokedAt, open: m.open}
	c.lastUse.Store(m.lastUse.Load())
	return c
}

// Mandate returns a mandate.
func (s *Service) Mandate(mandateID string) (*Mandate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.mandates[mandateID]
	if !ok {
		return nil, fmt.Errorf("%w: mandate %s", ErrNotFound, mandateID)
	}
	return m, nil
}

// Mandates returns an owner's mandates (of one agent, if agent is not
// empty), oldest first.
func (s *Service) Mandates(owner, agent string) []*Mandate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Mandate
	for _, m := range s.mandates {
		if m.Owner == owner && (agent == "" || m.Agent == agent) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *Mandate) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// indexMandate makes m (or its newer copy) the one found by its JWS
// hash and by its issuer and id.
func (s *Service) indexMandate(m *Mandate) {
	s.byHash.Store(m.Hash, m)
	s.byJTI.Store(issuerJTI{m.Owner, m.JTI}, m)
}

// mandateByHash returns the mandate whose JWS has hash h.
func (s *Service) mandateByHash(h string) (*Mandate, bool) {
	x, ok := s.byHash.Load(h)
	if !ok {
		return nil, false
	}
	return x.(*Mandate), true
}

// usageOf returns a mandate's usage in the periods holding now: from
// memory, or, with fresh, from the store.
func (s *Service) usageOf(ctx context.Context, m *Mandate, now time.Time, fresh bool) protocol.UsageState {
	var u protocol.UsageState
	at := time.Now().UnixNano()
	u.SpentTotal = s.usedOf(ctx, m.totalAccount(), fresh, at)
	for _, b := range m.Budgets {
		if b.Period == protocol.PeriodTotal {
			continue
		}
		aid, _ := m.periodAccount(b.Period, now)
		v := s.usedOf(ctx, aid, fresh, at)
		switch b.Period {
		case protocol.PeriodDay:
			u.SpentDay = v
		case protocol.PeriodWeek:
			u.SpentWeek = v
		case protocol.PeriodMonth:
			u.SpentMonth = v
		}
	}
	if m.Uses > 0 {
		u.Uses = s.usedOf(ctx, m.usesAccount(), fresh, at)
	}
	if last := m.lastUse.Load(); last != 0 {
		u.LastUseAt = time.Unix(0, last)
	}
	return u
}

// MandateLimits returns what remains of each limit of a mandate now.
func (s *Service) MandateLimits(ctx context.Context, mandateID string) ([]protocol.Limit, error) {
	m, err := s.Mandate(mandateID)
	if err != nil {
		return nil, err
	}
	return s.remaining(ctx, m, s.now(), true), nil
}
