package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// Id prefixes.
const (
	PrefixUser    = "usr_"
	PrefixWallet  = "wal_"
	PrefixAgent   = "agt_"
	PrefixMandate = "mdt_"
	PrefixPayment = "pay_"
)

// User is a wallet owner. Key verifies what the user signs (agent
// credentials, open mandates).
type User struct {
	ID        string       `json:"id"`
	Name      string       `json:"name,omitempty"`
	Key       protocol.JWK `json:"key"`
	KeyID     string       `json:"key_id"`
	CreatedAt time.Time    `json:"created_at"`
	// Revoked are the user's earlier keys (RotateUserKey): what they
	// signed is refused from then on (key_revoked).
	Revoked []RevokedKey `json:"revoked_keys,omitempty"`
}

// RevokedKey is a key that no longer verifies anything.
type RevokedKey struct {
	KeyID     string       `json:"key_id"`
	Key       protocol.JWK `json:"key"`
	RevokedAt time.Time    `json:"revoked_at"`
}

// asIssued is the key directory stored objects are verified again with on
// load, as of their issue: a user's key revoked since still verifies what
// it signed then (the payment path refuses it, userKeyRevoked).
type asIssued struct{ s *Service }

func (a asIssued) LookupKey(ctx context.Context, kid string) (protocol.PartyKey, error) {
	pk, err := a.s.LookupKey(ctx, kid)
	if err == nil || !errors.Is(err, protocol.ErrRevokedKey) {
		return pk, err
	}
	a.s.mu.RLock()
	defer a.s.mu.RUnlock()
	for _, u := range a.s.users {
		for _, r := range u.Revoked {
			if r.KeyID == kid {
				k, err := protocol.NewPublicKey(r.Key.Key)
				return protocol.PartyKey{Key: k, Party: u.ID, Role: protocol.PartyUser}, err
			}
		}
	}
	if ag, ok := a.s.agentKeys[kid]; ok {
		for _, k := range ag.Keys {
			if k.KeyID == kid {
				pub, err := protocol.NewPublicKey(k.Key.Key)
				return protocol.PartyKey{Key: pub, Party: ag.ID, Role: protocol.PartyAgent}, err
			}
		}
	}
	return pk, err
}

// RotateUserKey replaces a user's key and revokes the old one at once:
// open mandates the old key signed stop paying (key_revoked) and nothing
// it signs is accepted any more; the user re-issues what should go on
// with the new key. Agents stay registered.
func (s *Service) RotateUserKey(ctx context.Context, userID string, key protocol.JWK) (*User, error) {
	pk, err := protocol.NewPublicKey(key.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrInvalid, err)
	}
	s.mu.RLock()
	old, ok := s.users[userID]
	_, taken := s.keyOwner(pk.KeyID())
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: user %s", ErrNotFound, userID)
	}
	if taken {
		return nil, fmt.Errorf("%w: key %s is registered already", ErrConflict, pk.KeyID())
	}
	u := *old
	u.Revoked = append(slices.Clone(old.Revoked), RevokedKey{KeyID: old.KeyID, Key: old.Key, RevokedAt: s.now().UTC()})
	u.Key, u.KeyID = key, pk.KeyID()
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindUser, u.ID, &u)}}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.users[u.ID] = &u
	s.mu.Unlock()
	return &u, nil
}

// userKeyRevoked reports whether kid is a revoked key of user.
func (s *Service) userKeyRevoked(user, kid string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[user]
	return ok && slices.ContainsFunc(u.Revoked, func(r RevokedKey) bool { return r.KeyID == kid })
}

// Wallet is a user's balance in one currency: a ledger account.
type Wallet struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	Currency  string    `json:"currency"`
	Ledger    uint32    `json:"ledger"`
	Scale     uint8     `json:"scale"`
	Account   ledger.ID `json:"account"`
	CreatedAt time.Time `json:"created_at"`
}

// Agent is an agent registered for an owner by the owner's signed agent
// credential. Its current key signs its requests and closed mandates;
// earlier keys are kept, revoked, so what they signed stays verifiable.
type Agent struct {
	ID         string     `json:"id"`
	Owner      string     `json:"owner"`
	Name       string     `json:"name,omitempty"`
	Keys       []AgentKey `json:"keys"`
	Credential string     `json:"credential"` // the latest credential, compact JWS
	CreatedAt  time.Time  `json:"created_at"`
}

// AgentKey is one key of an agent.
type AgentKey struct {
	KeyID     string       `json:"key_id"`
	Key       protocol.JWK `json:"key"`
	AddedAt   time.Time    `json:"added_at"`
	RevokedAt *time.Time   `json:"revoked_at,omitempty"`
}

// Active returns the agent's key that is not revoked, if any.
func (a *Agent) Active() (AgentKey, bool) {
	for i := len(a.Keys) - 1; i >= 0; i-- {
		if a.Keys[i].RevokedAt == nil {
			return a.Keys[i], true
		}
	}
	return AgentKey{}, false
}

// CreateUser registers a wallet owner with the public key that verifies
// what the owner signs.
func (s *Service) CreateUser(ctx context.Context, name string, key protocol.JWK) (*User, error) {
	pk, err := protocol.NewPublicKey(key.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrInvalid, err)
	}
	if len(name) > 200 {
		return nil, fmt.Errorf("%w: name longer than 200 bytes", ErrInvalid)
	}
	u := &User{ID: s.newID(PrefixUser), Name: name, Key: key, KeyID: pk.KeyID(), CreatedAt: s.now().UTC()}
	s.mu.RLock()
	_, taken := s.keyOwner(u.KeyID)
	s.mu.RUnlock()
	if taken {
		return nil, fmt.Errorf("%w: key %s is registered already", ErrConflict, u.KeyID)
	}
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindUser, u.ID, u)}}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.users[u.ID] = u
	s.mu.Unlock()
	return u, nil
}

func (s *Service) applyUser(d ledger.Doc) error {
	var u User
	if err := json.Unmarshal(d.Body, &u); err != nil {
		return err
	}
	s.users[u.ID] = &u
	return nil
}

// User returns a user.
func (s *Service) User(id string) (*User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return nil, fmt.Errorf("%w: user %s", ErrNotFound, id)
	}
	return u, nil
}

// keyOwner returns who holds a key id (a user or an agent); s.mu held.
func (s *Service) keyOwner(kid string) (string, bool) {
	for _, u := range s.users {
		if u.KeyID == kid || slices.ContainsFunc(u.Revoked, func(r RevokedKey) bool { return r.KeyID == kid }) {
			return u.ID, true
		}
	}
	if a, ok := s.agentKeys[kid]; ok {
		return a.ID, true
	}
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	if mc, ok := s.acts.merchantKeys[kid]; ok {
		return mc.ID, true
	}
	return "", false
}

// ensureCurrency registers the currency's control ledger and the uses
// ledger (idempotent) and the operator accounts, and returns the
// currency's ledger and scale.
func (s *Service) ensureCurrency(ctx context.Context, currency string) (uint32, uint8, error) {
	assets, err := s.store.ListAssets(ctx)
	if err != nil {
		return 0, 0, err
	}
	i := slices.IndexFunc(assets, func(a ledger.Asset) bool { return a.Code == currency })
	if i < 0 {
		return 0, 0, fmt.Errorf("%w: currency %q is not a registered asset", ErrInvalid, currency)
	}
	cur := assets[i]
	s.mu.RLock()
	_, done := s.assets[currency]
	s.mu.RUnlock()
	if done {
		return cur.Ledger, cur.Scale, nil
	}
	want := []ledger.Asset{
		{Ledger: ControlLedger(cur.Ledger), Code: limitCode(currency), Scale: cur.Scale},
		{Ledger: UsesLedger, Code: "USES", Scale: 0},
	}
	res, err := s.engine.CreateAssets(ctx, want, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	for i, r := range res {
		if !r.Committed() {
			return 0, 0, fmt.Errorf("%w: asset %s: %v", ErrConflict, want[i].Code, r)
		}
	}
	accounts := []ledger.Account{
		{ID: fundingAccount(cur.Ledger), Ledger: cur.Ledger, Code: CodeFunding},
		{ID: payoutAccount(cur.Ledger), Ledger: cur.Ledger, Code: CodePayout},
		{ID: limitSource(ControlLedger(cur.Ledger)), Ledger: ControlLedger(cur.Ledger), Code: CodeLimitSource},
		{ID: limitSink(ControlLedger(cur.Ledger)), Ledger: ControlLedger(cur.Ledger), Code: CodeLimitSink},
		{ID: limitSource(UsesLedger), Ledger: UsesLedger, Code: CodeLimitSource},
		{ID: limitSink(UsesLedger), Ledger: UsesLedger, Code: CodeLimitSink},
	}
	res, err = s.engine.CreateAccounts(ctx, accounts, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	for i, r := range res {
		if !r.Committed() {
			return 0, 0, fmt.Errorf("%w: operator account %d: %v", ErrConflict, i, r)
		}
	}
	s.mu.Lock()
	s.assets[currency] = cur.Ledger
	s.mu.Unlock()
	return cur.Ledger, cur.Scale, nil
}

// limitCode is the asset code of a currency's control ledger.
func limitCode(currency string) string {
	c := "LIM_" + currency
	if len(c) > 16 {
		c = c[:16]
	}
	return c
}

func fundingAccount(l uint32) ledger.ID { return id("funding", fmt.Sprint(l)) }
func payoutAccount(l uint32) ledger.ID  { return id("payout", fmt.Sprint(l)) }
func limitSource(l uint32) ledger.ID    { return id("limit-source", fmt.Sprint(l)) }
func limitSink(l uint32) ledger.ID {
	if x, ok := sinks.Load(l); ok {
		return x.(ledger.ID)
	}
	sink := id("limit-sink", fmt.Sprint(l))
	sinks.Store(l, sink)
	return sink
}

// sinks holds each control ledger's limit sink account id (every payment
// leg credits one).
var sinks sync.Map

// PayeeAccount returns the receiving account of a payee in a currency
// ledger.
func PayeeAccount(payee string, l uint32) ledger.ID {
	return id("payee", payee, strconv.FormatUint(uint64(l), 10))
}

// CreateWallet opens a wallet for owner in a registered currency.
func (s *Service) CreateWallet(ctx context.Context, owner, currency string) (*Wallet, error) {
	if _, err := s.User(owner); err != nil {
		return nil, err
	}
	l, scale, err := s.ensureCurrency(ctx, currency)
	if err != nil {
		return nil, err
	}
	w := &Wallet{ID: s.newID(PrefixWallet), Owner: owner, Currency: currency, Ledger: l, Scale: scale, CreatedAt: s.now().UTC()}
	w.Account = id("wallet", w.ID)
	req := &ledger.Request{
		Accounts: []ledger.Account{{ID: w.Account, Ledger: l, Code: CodeWallet,
			Flags: ledger.AccountDebitsMustNotExceedCredits | ledger.AccountHistory}},
		Docs: []ledger.Doc{doc(KindWallet, w.ID, w)},
	}
	if _, err := s.commit(ctx, req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.wallets[w.ID] = w
	s.mu.Unlock()
	return w, nil
}

func (s *Service) applyWallet(d ledger.Doc) error {
	var w Wallet
	if err := json.Unmarshal(d.Body, &w); err != nil {
		return err
	}
	s.wallets[w.ID] = &w
	s.assets[w.Currency] = w.Ledger
	return nil
}

// Wallet returns a wallet.
func (s *Service) Wallet(id string) (*Wallet, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w, ok := s.wallets[id]
	if !ok {
		return nil, fmt.Errorf("%w: wallet %s", ErrNotFound, id)
	}
	return w, nil
}

// Wallets returns an owner's wallets, oldest first.
func (s *Service) Wallets(owner string) []*Wallet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Wallet
	for _, w := range s.wallets {
		if w.Owner == owner {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *Wallet) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Balance returns a wallet's account.
func (s *Service) Balance(ctx context.Context, w *Wallet) (ledger.Account, error) {
	return s.store.GetAccount(ctx, w.Account)
}

// RegisterAgent registers (or, for a known agent, rotates the key of) the
// agent a credential names: the owner's signed protocol AgentCredential
// whose sub is the agent id and cnf its new key. A new key revokes the
// agent's previous one.
func (s *Service) RegisterAgent(ctx context.Context, credential []byte) (*Agent, error) {
	v, err := protocol.VerifyAgentCredential(ctx, s.verifyContext(), credential)
	if err != nil {
		return nil, fmt.Errorf("%w: agent credential: %w", ErrInvalid, err)
	}
	c := v.Claims
	owner := c.Issuer
	if _, err := s.User(owner); err != nil {
		return nil, fmt.Errorf("%w: the credential's issuer %s is not a user", ErrInvalid, owner)
	}
	kid, err := c.Cnf.KeyID()
	if err != nil {
		return nil, fmt.Errorf("%w: cnf: %v", ErrInvalid, err)
	}
	agentID := c.Subject
	if !strings.HasPrefix(agentID, PrefixAgent) || len(agentID) > 128 {
		return nil, fmt.Errorf("%w: sub must be an agent id starting %q", ErrInvalid, PrefixAgent)
	}
	now := s.now().UTC()
	s.mu.Lock()
	if holder, taken := s.keyOwner(kid); taken {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: key %s is registered already (to %s)", ErrConflict, kid, holder)
	}
	var a Agent
	if old, ok := s.agents[agentID]; ok {
		if old.Owner != owner {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: agent %s belongs to another owner", ErrForbidden, agentID)
		}
		a = *old
		a.Keys = slices.Clone(old.Keys)
		for i := range a.Keys {
			if a.Keys[i].RevokedAt == nil {
				a.Keys[i].RevokedAt = &now
			}
		}
	} else {
		a = Agent{ID: agentID, Owner: owner, Name: c.Name, CreatedAt: now}
	}
	s.mu.Unlock()
	a.Keys = append(a.Keys, AgentKey{KeyID: kid, Key: c.Cnf.JWK, AddedAt: now})
	a.Credential = string(credential)
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindAgentKey, a.ID, &a)}}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.installAgent(&a)
	s.mu.Unlock()
	return &a, nil
}

// installAgent indexes a; s.mu held.
func (s *Service) installAgent(a *Agent) {
	if old, ok := s.agents[a.ID]; ok {
		for _, k := range old.Keys {
			delete(s.agentKeys, k.KeyID)
		}
	}
	s.agents[a.ID] = a
	for _, k := range a.Keys {
		s.agentKeys[k.KeyID] = a
	}
}

func (s *Service) applyAgentKey(d ledger.Doc) error {
	var a Agent
	if err := json.Unmarshal(d.Body, &a); err != nil {
		return err
	}
	s.installAgent(&a)
	return nil
}

func (s *Service) applyAgentRevoked(d ledger.Doc) error { return s.applyAgentKey(d) }

// RevokeAgent revokes every key of an agent at once: its signed requests
// and closed mandates are refused from now on. Only its owner may.
func (s *Service) RevokeAgent(ctx context.Context, owner, agentID string) (*Agent, error) {
	s.mu.RLock()
	old, ok := s.agents[agentID]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: agent %s", ErrNotFound, agentID)
	}
	if old.Owner != owner {
		return nil, fmt.Errorf("%w: agent %s belongs to another owner", ErrForbidden, agentID)
	}
	now := s.now().UTC()
	a := *old
	a.Keys = slices.Clone(old.Keys)
	for i := range a.Keys {
		if a.Keys[i].RevokedAt == nil {
			a.Keys[i].RevokedAt = &now
		}
	}
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindAgentRevoked, a.ID, &a)}}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.installAgent(&a)
	s.mu.Unlock()
	return &a, nil
}

// Agent returns an agent.
func (s *Service) Agent(id string) (*Agent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: agent %s", ErrNotFound, id)
	}
	return a, nil
}

// AgentByKey returns the agent a key id belongs to and whether that key
// is its active one.
func (s *Service) AgentByKey(kid string) (*Agent, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.agentKeys[kid]
	if !ok {
		return nil, false, fmt.Errorf("%w: key %s", ErrNotFound, kid)
	}
	k, ok := a.Active()
	return a, ok && k.KeyID == kid, nil
}

// LookupKey implements protocol.KeyDirectory over users and agents. A
// kid names one party's key (registration refuses a key another party
// holds, revoked user keys included), so agents, the hot path, are looked
// up first.
func (s *Service) LookupKey(_ context.Context, kid string) (protocol.PartyKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a, ok := s.agentKeys[kid]; ok {
		for _, k := range a.Keys {
			if k.KeyID == kid {
				if k.RevokedAt != nil {
					return protocol.PartyKey{}, fmt.Errorf("%w: %s", protocol.ErrRevokedKey, kid)
				}
				pk, err := s.publicKey(kid, k.Key)
				if err != nil {
					return protocol.PartyKey{}, err
				}
				return protocol.PartyKey{Key: pk, Party: a.ID, Role: protocol.PartyAgent}, nil
			}
		}
	}
	for _, u := range s.users {
		if u.KeyID == kid {
			pk, err := s.publicKey(kid, u.Key)
			if err != nil {
				return protocol.PartyKey{}, err
			}
			return protocol.PartyKey{Key: pk, Party: u.ID, Role: protocol.PartyUser}, nil
		}
		if slices.ContainsFunc(u.Revoked, func(r RevokedKey) bool { return r.KeyID == kid }) {
			return protocol.PartyKey{}, fmt.Errorf("%w: %s (a revoked key of %s)", protocol.ErrRevokedKey, kid, u.ID)
		}
	}
	if pk, ok, err := s.merchantKey(kid); ok { // merchants.go
		return pk, err
	}
	return protocol.PartyKey{}, fmt.Errorf("%w: %s", protocol.ErrUnknownKey, kid)
}

// VerificationKey returns the verification key of the registered key kid
// (jwk): one value per kid, kept, so a key used again verifies faster.
func (s *Service) VerificationKey(kid string, jwk protocol.JWK) (protocol.PublicKey, error) {
	return s.publicKey(kid, jwk)
}

// publicKey returns the verification key of a registered key: one value
// per kid (a kid is the key's thumbprint), so a key used again verifies
// with its expanded form.
func (s *Service) publicKey(kid string, jwk protocol.JWK) (protocol.PublicKey, error) {
	if pk, ok := s.keys.Load(kid); ok {
		return pk.(protocol.PublicKey), nil
	}
	pk, err := protocol.NewPublicKey(jwk.Key)
	if err != nil {
		return protocol.PublicKey{}, err
	}
	if pk.KeyID() == kid {
		s.keys.Store(kid, pk)
	}
	return pk, nil
}

// verifyContext is the context ACT objects are verified in.
func (s *Service) verifyContext() *protocol.VerifyContext { return s.verifyContextAt(s.now()) }

// verifyContextAt is verifyContext as of now (a time the caller read).
func (s *Service) verifyContextAt(now time.Time) *protocol.VerifyContext {
	return &protocol.VerifyContext{Now: now, Audience: s.platform, Keys: s, Revocations: s}
}

// issuerJTI keys the mandates by issuer and jti (the map is asked about
// every closed mandate verified, so its key is built without a copy).
type issuerJTI struct{ issuer, jti string }

// Revoked implements protocol.RevocationList: a revoked mandate.
func (s *Service) Revoked(_ context.Context, issuer, jti string) (bool, error) {
	m, ok := s.byJTI.Load(issuerJTI{issuer, jti})
	return ok && m.(*Mandate).RevokedAt != nil, nil
}
