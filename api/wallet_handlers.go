package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/wallet"
)

// AI Wallet routes. Owners call them with API keys: a user's key has
// Party = the user id (POST /v1/users makes a writer key for the user)
// and may touch only that user's objects (403 not_owner otherwise); an
// admin key may act for anyone. Agents call POST /v1/payments only,
// authenticated by their request signature (agentauth.go).
//
// Idempotency. POST /v1/wallets/{id}/topups and /withdrawals pass the
// Idempotency-Key to the service as the movement's key: the same key
// moves money once (a retry answers the same movement). POST /v1/users
// derives its API key's id from the scoped Idempotency-Key, like
// POST /v1/api-keys: a retry answers the user again without the secret.
// The other owner writes are idempotent by nature (registering the same
// credential, issuing the same mandate, revoking, answering a payment
// twice answers 409 or the same object) and take the key for uniformity.
// POST /v1/payments takes no Idempotency-Key machinery: a payment is
// idempotent by its closed mandate, whose id (jti) names the payment. A
// retry, signed again with a fresh nonce (a signed request is accepted
// once), carrying the same closed mandate bytes answers the same payment
// with 200 and Idempotent-Replayed: true; another closed mandate with the
// same jti is refused 409 replayed. An Idempotency-Key header, if sent,
// must be covered by the signature; it is not otherwise used.

// walletRoutes lists the AI Wallet operations.
func (s *Server) walletRoutes() []*route {
	return []*route{
		{pattern: "POST /v1/users", access: accessAdmin, bodyBytesMax: singleBodyBytesMax, handle: s.createUser},
		{pattern: "GET /v1/users/{id}", access: accessRead, handle: s.getUser},
		{pattern: "POST /v1/users/{id}/key", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.rotateUserKey},

		{pattern: "POST /v1/wallets", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.createWallet},
		{pattern: "GET /v1/wallets", access: accessRead, query: []string{"owner"}, handle: s.listWallets},
		{pattern: "GET /v1/wallets/{id}", access: accessRead, handle: s.getWallet},
		{pattern: "POST /v1/wallets/{id}/topups", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.topUp},
		{pattern: "POST /v1/wallets/{id}/withdrawals", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.withdraw},
		{pattern: "PUT /v1/wallets/{id}/rules", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.putRules},
		{pattern: "GET /v1/wallets/{id}/rules", access: accessRead, handle: s.getRules},
		{pattern: "PUT /v1/risk/rules", access: accessAdmin, bodyBytesMax: singleBodyBytesMax, handle: s.putPlatformRules},
		{pattern: "GET /v1/risk/rules", access: accessAdmin, handle: s.getPlatformRules},

		{pattern: "POST /v1/agents", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.registerAgent},
		{pattern: "GET /v1/agents/{id}", access: accessRead, handle: s.getAgent},
		{pattern: "POST /v1/agents/{id}/revoke", access: accessWrite, handle: s.revokeAgent},

		{pattern: "POST /v1/mandates", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.issueMandate},
		{pattern: "GET /v1/mandates", access: accessRead, query: []string{"owner", "agent"}, handle: s.listMandates},
		{pattern: "GET /v1/mandates/{id}", access: accessRead, handle: s.getMandate},
		{pattern: "POST /v1/mandates/{id}/revoke", access: accessWrite, handle: s.revokeMandate},

		{pattern: "POST /v1/payments", access: accessAgent, bodyBytesMax: singleBodyBytesMax, handle: s.payOrPurchase},
		{pattern: "GET /v1/payments", access: accessRead, query: []string{"owner", "agent", "status", "after", "limit"}, handle: s.listPayments},
		{pattern: "GET /v1/payments/{id}", access: accessRead, handle: s.getPayment},
		{pattern: "POST /v1/payments/{id}/approve", access: accessWrite, handle: s.approvePayment},
		{pattern: "POST /v1/payments/{id}/decline", access: accessWrite, handle: s.declinePayment},
	}
}

// svc returns the wallet service, or 404 wallet_disabled.
func (s *Server) svc() (*wallet.Service, error) {
	if s.wallet == nil {
		return nil, walletDisabled()
	}
	return s.wallet, nil
}

// actsFor checks the caller may act for owner: an admin key, or a key
// whose party is owner.
func (c *call) actsFor(owner string) error {
	if c.key.Role == store.RoleAdmin || (c.key.Party != "" && c.key.Party == owner) {
		return nil
	}
	return newError(protocol.ErrorPermission, codeNotOwner, "",
		"this API key acts for %q; the object belongs to another owner", c.key.Party)
}

// owner returns the owner a list or create acts for: the caller's party,
// or for an admin key the given one (required).
func (c *call) owner(given, param string) (string, error) {
	if c.key.Role == store.RoleAdmin {
		if given == "" {
			return "", invalid(codeMissingParameter, param, "an admin key must name the %s", param)
		}
		return given, nil
	}
	if given != "" && given != c.key.Party {
		return "", c.actsFor(given)
	}
	if c.key.Party == "" {
		return "", newError(protocol.ErrorPermission, codeNotOwner, "", "this API key acts for no user")
	}
	return c.key.Party, nil
}

// walletError maps an error of the wallet service; notFound is the code
// of ErrNotFound.
func walletError(err error, notFound string) error {
	if r, ok := errors.AsType[*wallet.Refusal](err); ok {
		return refusalError(r)
	}
	if f, ok := errors.AsType[*protocol.Failure](err); ok {
		if info, ok := f.Code.Info(); ok && f.Code != protocol.CodeInternal {
			return newError(info.Type, string(f.Code), f.Param, "%v", err)
		}
	}
	if re, ok := errors.AsType[*risk.RuleError](err); ok {
		return invalid(string(re.Code), "rules", "rule %q: %s", re.RuleID, re.Message)
	}
	msg := strings.TrimPrefix(err.Error(), "wallet: ")
	switch {
	case errors.Is(err, wallet.ErrNotFound):
		return newError(protocol.ErrorNotFound, notFound, "id", "%s", msg)
	case errors.Is(err, wallet.ErrForbidden):
		return newError(protocol.ErrorPermission, codeNotOwner, "", "%s", msg)
	case errors.Is(err, wallet.ErrInvalid):
		return invalid(codeInvalidWallet, "", "%s", msg)
	case errors.Is(err, wallet.ErrNotPending):
		return newError(protocol.ErrorConflict, codePaymentNotPending, "", "%s", msg)
	case errors.Is(err, wallet.ErrConflict):
		return newError(protocol.ErrorConflict, codeWalletConflict, "", "%s", msg)
	case errors.Is(err, wallet.ErrRail):
		return newError(protocol.ErrorRejected, codeRailFailed, "", "%s", msg)
	case errors.Is(err, wallet.ErrRefused):
		return newError(protocol.ErrorRejected, codeWithdrawalRefused, "", "%s", msg)
	case errors.Is(err, ledger.ErrFailed), errors.Is(err, ledger.ErrStopped):
		return engineError(err)
	}
	return fmt.Errorf("api: wallet: %w", err)
}

// refusalError renders a refused payment or mandate: the refusal's code,
// the registry's status for it (422 rejected for the codes the registry
// does not hold: insufficient_funds, risk_declined), what remains of each
// limit and the failed check.
func refusalError(r *wallet.Refusal) *apiError {
	typ := protocol.ErrorRejected
	if info, ok := r.Code.Info(); ok {
		typ = info.Type
	}
	e := newError(typ, string(r.Code), "", "%s", r.Detail)
	body := &protocol.PaymentError{Limits: r.Limits, Decision: r.Decision}
	if r.Decision != nil {
		for i := range r.Decision.Checks {
			if ch := r.Decision.Checks[i]; ch.Result == protocol.CheckFail {
				body.Check = &ch
				break
			}
		}
		if body.Limits == nil && body.Check != nil {
			body.Limits = body.Check.Limits
		}
	}
	if r.Risk != nil {
		rd := toProtocolRisk(*r.Risk)
		body.Risk = &rd
	}
	e.refusal = body
	return e
}

// peekIssuer returns the iss claim of a compact JWS without verifying it
// ("" if it cannot be read: the service's verification then says why).
func peekIssuer(jws string) string {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Issuer
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func rfc3339p(t *time.Time) string {
	if t == nil {
		return ""
	}
	return rfc3339(*t)
}

// Users.

func (s *Server) createUser(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req protocol.CreateUserRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if len(req.Key) == 0 {
		return invalid(codeMissingField, "key", "key is required: the user's public JWK")
	}
	if err := validText(req.Name, "name"); err != nil {
		return err
	}
	jwk, err := protocol.ParseJWK(req.Key)
	if err != nil {
		return invalid(string(protocol.CodeOf(err)), "key", "key: %v", err)
	}
	pk, err := protocol.NewPublicKey(jwk.Key)
	if err != nil {
		return invalid(codeInvalidWallet, "key", "key: %v", err)
	}
	keyID := derivedKeyID(c.idem.Key)
	// A retry: the user and its key exist already.
	if old, found, err := s.findAPIKey(c, keyID); err != nil {
		return err
	} else if found {
		u, ok := svc.UserByKeyID(pk.KeyID())
		if !ok || u.ID != old.Party || u.Name != req.Name {
			return mismatch()
		}
		out := toProtocolUser(u)
		k := toProtocolAPIKey(&old)
		out.APIKey = &k
		c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
		return c.sendValue(http.StatusCreated, out)
	}
	u, err := svc.CreateUser(c.engineCtx(), req.Name, jwk)
	if err != nil {
		return walletError(err, codeUserNotFound)
	}
	secret, key := newAPIKey(keyID, s.clock.Now(), store.RoleWriter, u.ID, "user "+u.ID)
	if err := s.store.CreateAPIKey(c.r.Context(), key); err != nil {
		return fmt.Errorf("api: creating the API key of user %s: %w", u.ID, err)
	}
	out := toProtocolUser(u)
	k := toProtocolAPIKey(&key)
	k.Secret = secret
	out.APIKey = &k
	return c.sendValue(http.StatusCreated, out)
}

func (s *Server) getUser(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	u, err := svc.User(c.r.PathValue("id"))
	if err != nil {
		return walletError(err, codeUserNotFound)
	}
	if err := c.actsFor(u.ID); err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolUser(u))
}

// rotateUserKey serves POST /v1/users/{id}/key: the user's new key; the
// old one is revoked at once (what it signed stops working).
func (s *Server) rotateUserKey(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	u, err := svc.User(c.r.PathValue("id"))
	if err != nil {
		return walletError(err, codeUserNotFound)
	}
	if err := c.actsFor(u.ID); err != nil {
		return err
	}
	var req protocol.RotateUserKeyRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	jwk, err := protocol.ParseJWK(req.Key)
	if err != nil {
		return invalid(string(protocol.CodeOf(err)), "key", "key: %v", err)
	}
	if pk, err := protocol.NewPublicKey(jwk.Key); err != nil {
		return invalid(codeInvalidWallet, "key", "key: %v", err)
	} else if pk.KeyID() == u.KeyID {
		return c.sendValue(http.StatusOK, toProtocolUser(u)) // a retry: the key is in place
	}
	u, err = svc.RotateUserKey(c.engineCtx(), u.ID, jwk)
	if err != nil {
		return walletError(err, codeUserNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolUser(u))
}

func toProtocolUser(u *wallet.User) protocol.WalletUser {
	out := protocol.WalletUser{ID: u.ID, Name: u.Name, Key: u.Key, KeyID: u.KeyID, CreatedAt: rfc3339(u.CreatedAt)}
	for _, r := range u.Revoked {
		out.RevokedKeys = append(out.RevokedKeys, r.KeyID)
	}
	return out
}

// Wallets.

func (s *Server) createWallet(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req protocol.CreateWalletRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if req.Currency == "" {
		return invalid(codeMissingField, "currency", "currency is required: a registered asset code")
	}
	owner, err := c.owner(req.Owner, "owner")
	if err != nil {
		return err
	}
	w, err := svc.CreateWallet(c.engineCtx(), owner, req.Currency)
	if err != nil {
		return walletError(err, codeUserNotFound)
	}
	return c.sendValue(http.StatusCreated, toProtocolWallet(w, nil))
}

// ownWallet returns the wallet of the path, if the caller may act on it.
func (s *Server) ownWallet(c *call) (*wallet.Service, *wallet.Wallet, error) {
	return own(s, c, (*wallet.Service).Wallet, func(w *wallet.Wallet) string { return w.Owner }, codeWalletNotFound)
}

func (s *Server) getWallet(c *call) error {
	svc, w, err := s.ownWallet(c)
	if err != nil {
		return err
	}
	a, err := svc.Balance(c.r.Context(), w)
	if err != nil {
		return fmt.Errorf("api: wallet %s balance: %w", w.ID, err)
	}
	return c.sendValue(http.StatusOK, toProtocolWallet(w, &a))
}

func (s *Server) listWallets(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	owner, err := c.owner(c.r.URL.Query().Get("owner"), "owner")
	if err != nil {
		return err
	}
	list := protocol.WalletList{Data: []protocol.Wallet{}}
	for _, w := range svc.Wallets(owner) {
		list.Data = append(list.Data, toProtocolWallet(w, nil))
	}
	return c.sendValue(http.StatusOK, list)
}

func toProtocolWallet(w *wallet.Wallet, a *ledger.Account) protocol.Wallet {
	out := protocol.Wallet{ID: w.ID, Owner: w.Owner, Currency: w.Currency, Scale: w.Scale, Ledger: w.Ledger,
		Account: prefixed(protocol.PrefixAccount, w.Account), CreatedAt: rfc3339(w.CreatedAt)}
	if a != nil {
		out.Balances = toProtocolAccount(a).Balances
		avail, borrow := a.CreditsPosted.Sub(a.DebitsPosted)
		if !borrow {
			avail, borrow = avail.Sub(a.DebitsPending)
		}
		if !borrow {
			out.Available = avail.String()
		} else {
			out.Available = "0"
		}
	}
	return out
}

func (s *Server) topUp(c *call) error {
	var req protocol.TopUpRequest
	return s.move(c, &req, func() (uint64, string) { return req.Amount, req.Rail },
		func(svc *wallet.Service, w *wallet.Wallet, rail string) (*wallet.Movement, error) {
			return svc.TopUp(c.engineCtx(), w.ID, c.idem.Key, rail, req.Source, req.Amount)
		})
}

func (s *Server) withdraw(c *call) error {
	var req protocol.WithdrawalRequest
	return s.move(c, &req, func() (uint64, string) { return req.Amount, req.Rail },
		func(svc *wallet.Service, w *wallet.Wallet, rail string) (*wallet.Movement, error) {
			return svc.Withdraw(c.engineCtx(), w.ID, c.idem.Key, rail, req.Destination, req.Amount)
		})
}

// move serves a top-up or a withdrawal of the path's wallet: it decodes
// the body into req, checks the amount (fields reads it and the rail,
// "test" when empty) and runs do; the Idempotency-Key is the movement key.
func (s *Server) move(c *call, req any, fields func() (uint64, string),
	do func(svc *wallet.Service, w *wallet.Wallet, rail string) (*wallet.Movement, error)) error {
	svc, w, err := s.ownWallet(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(c.body, req, ""); err != nil {
		return err
	}
	amount, rail := fields()
	if amount == 0 {
		return invalid(codeMissingField, "amount", "amount is required and positive")
	}
	if rail == "" {
		rail = "test"
	}
	m, err := do(svc, w, rail)
	if err != nil {
		return walletError(err, codeWalletNotFound)
	}
	return c.sendValue(http.StatusCreated, toProtocolMovement(m))
}

func toProtocolMovement(m *wallet.Movement) protocol.WalletMovement {
	return protocol.WalletMovement{ID: prefixed(protocol.PrefixTransfer, m.Transfer), Wallet: m.Wallet,
		Amount: m.Amount, Rail: m.Rail, RailRef: m.RailRef}
}

// Risk rules.

func (s *Server) putRules(c *call) error {
	svc, w, err := s.ownWallet(c)
	if err != nil {
		return err
	}
	return s.saveRules(c, w.ID, func(rules []risk.Rule) ([]risk.Rule, error) {
		return svc.SetWalletRules(c.engineCtx(), w.Owner, w.ID, rules)
	})
}

// saveRules decodes a rules body for scope (a wallet id or
// risk.ScopePlatform), saves the rules with save and answers them; a
// rule that does not compile is a 400 naming it.
func (s *Server) saveRules(c *call, scope string, save func([]risk.Rule) ([]risk.Rule, error)) error {
	var req protocol.WalletRules
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if req.Wallet != "" && req.Wallet != scope {
		return invalid(codeInvalidWallet, "wallet", "wallet is %q, these rules are for %s", req.Wallet, scope)
	}
	rules := make([]risk.Rule, len(req.Rules))
	for i, r := range req.Rules {
		if r.Scope != "" && r.Scope != scope {
			return invalid(string(risk.CodeInvalidScope), fmt.Sprintf("rules[%d].scope", i), "these rules' scope is %s", scope)
		}
		rules[i] = risk.Rule{ID: r.ID, Expression: r.Expression, Outcome: risk.Outcome(r.Outcome), Reason: r.Reason,
			Priority: r.Priority, Enabled: r.Enabled}
	}
	saved, err := save(rules)
	if err != nil {
		if re, ok := errors.AsType[*risk.RuleError](err); ok {
			param := "rules"
			if i := slices.IndexFunc(req.Rules, func(r protocol.RiskRule) bool { return r.ID == re.RuleID }); i >= 0 {
				param = fmt.Sprintf("rules[%d]", i)
			}
			return invalid(string(re.Code), param, "rule %q: %s", re.RuleID, re.Message)
		}
		return walletError(err, codeWalletNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolRules(scope, saved))
}

// putPlatformRules serves PUT /v1/risk/rules (admin): the platform's
// rules, evaluated for every payment before its wallet's.
func (s *Server) putPlatformRules(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	return s.saveRules(c, risk.ScopePlatform, func(rules []risk.Rule) ([]risk.Rule, error) {
		return svc.SetPlatformRules(c.engineCtx(), rules)
	})
}

func (s *Server) getPlatformRules(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolRules(risk.ScopePlatform, svc.PlatformRules()))
}

func (s *Server) getRules(c *call) error {
	svc, w, err := s.ownWallet(c)
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolRules(w.ID, svc.WalletRules(w.ID)))
}

func toProtocolRules(walletID string, rules []risk.Rule) protocol.WalletRules {
	out := protocol.WalletRules{Wallet: walletID, Rules: []protocol.RiskRule{}}
	for _, r := range rules {
		out.Rules = append(out.Rules, protocol.RiskRule{ID: r.ID, Scope: r.Scope, Expression: r.Expression,
			Outcome: string(r.Outcome), Reason: r.Reason, Priority: r.Priority, Enabled: r.Enabled})
	}
	return out
}

func toProtocolRisk(d risk.Decision) protocol.RiskDecision {
	out := protocol.RiskDecision{Outcome: string(d.Outcome), Reasons: d.Reasons()}
	for _, m := range d.Matches {
		out.Matches = append(out.Matches, protocol.RiskMatch{RuleID: m.RuleID, Scope: m.Scope, Outcome: string(m.Outcome), Reason: m.Reason})
	}
	return out
}

// Agents.

func (s *Server) registerAgent(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req protocol.RegisterAgentRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if req.Credential == "" {
		return invalid(codeMissingField, "credential", "credential is required: the owner's signed agent credential (compact JWS)")
	}
	if iss := peekIssuer(req.Credential); iss != "" {
		if err := c.actsFor(iss); err != nil {
			return err
		}
	} else if c.key.Role != store.RoleAdmin && c.key.Party == "" {
		return c.actsFor("")
	}
	a, err := svc.RegisterAgent(c.engineCtx(), []byte(req.Credential))
	if err != nil {
		return walletError(err, codeAgentNotFound)
	}
	return c.sendValue(http.StatusCreated, toProtocolAgent(a))
}

// ownAgent returns the agent of the path, if the caller may act on it.
func (s *Server) ownAgent(c *call) (*wallet.Service, *wallet.Agent, error) {
	return own(s, c, (*wallet.Service).Agent, func(a *wallet.Agent) string { return a.Owner }, codeAgentNotFound)
}

func (s *Server) getAgent(c *call) error {
	_, a, err := s.ownAgent(c)
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolAgent(a))
}

func (s *Server) revokeAgent(c *call) error {
	svc, a, err := s.ownAgent(c)
	if err != nil {
		return err
	}
	a, err = svc.RevokeAgent(c.engineCtx(), a.Owner, a.ID)
	if err != nil {
		return walletError(err, codeAgentNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolAgent(a))
}

func toProtocolAgent(a *wallet.Agent) protocol.WalletAgent {
	out := protocol.WalletAgent{ID: a.ID, Owner: a.Owner, Name: a.Name, Credential: a.Credential,
		CreatedAt: rfc3339(a.CreatedAt), Keys: []protocol.WalletAgentKey{}}
	if k, ok := a.Active(); ok {
		out.ActiveKeyID = k.KeyID
	}
	for _, k := range a.Keys {
		out.Keys = append(out.Keys, protocol.WalletAgentKey{KeyID: k.KeyID, Key: k.Key, AddedAt: rfc3339(k.AddedAt), RevokedAt: rfc3339p(k.RevokedAt)})
	}
	return out
}

// Mandates.

func (s *Server) issueMandate(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req protocol.IssueMandateRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if req.Mandate == "" {
		return invalid(codeMissingField, "mandate", "mandate is required: the owner's signed open payment mandate (compact JWS)")
	}
	owner := c.key.Party
	if c.key.Role == store.RoleAdmin {
		owner = peekIssuer(req.Mandate)
	}
	if owner == "" && c.key.Role != store.RoleAdmin {
		return c.actsFor("")
	}
	m, err := svc.IssueMandate(c.engineCtx(), owner, []byte(req.Mandate))
	if err != nil {
		return walletError(err, codeMandateNotFound)
	}
	limits, err := svc.MandateLimits(c.r.Context(), m.ID)
	if err != nil {
		return walletError(err, codeMandateNotFound)
	}
	return c.sendValue(http.StatusCreated, toProtocolMandate(m, limits))
}

// ownMandate returns the mandate of the path, if the caller may act on it.
func (s *Server) ownMandate(c *call) (*wallet.Service, *wallet.Mandate, error) {
	return own(s, c, (*wallet.Service).Mandate, func(m *wallet.Mandate) string { return m.Owner }, codeMandateNotFound)
}

func (s *Server) getMandate(c *call) error {
	svc, m, err := s.ownMandate(c)
	if err != nil {
		return err
	}
	limits, err := svc.MandateLimits(c.r.Context(), m.ID)
	if err != nil {
		return walletError(err, codeMandateNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolMandate(m, limits))
}

func (s *Server) revokeMandate(c *call) error {
	svc, m, err := s.ownMandate(c)
	if err != nil {
		return err
	}
	m, err = svc.RevokeMandate(c.engineCtx(), m.Owner, m.ID)
	if err != nil {
		return walletError(err, codeMandateNotFound)
	}
	limits, err := svc.MandateLimits(c.r.Context(), m.ID)
	if err != nil {
		return walletError(err, codeMandateNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolMandate(m, limits))
}

// listOwner returns the owner a list acts for: ?owner=, else for an
// admin the owner of ?agent=.
func (c *call) listOwner(svc *wallet.Service) (string, error) {
	q := c.r.URL.Query()
	given := q.Get("owner")
	if given == "" && c.key.Role == store.RoleAdmin && q.Get("agent") != "" {
		if a, err := svc.Agent(q.Get("agent")); err == nil {
			given = a.Owner
		}
	}
	return c.owner(given, "owner")
}

func (s *Server) listMandates(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	owner, err := c.listOwner(svc)
	if err != nil {
		return err
	}
	list := protocol.WalletMandateList{Data: []protocol.WalletMandate{}}
	for _, m := range svc.Mandates(owner, c.r.URL.Query().Get("agent")) {
		limits, err := svc.MandateLimits(c.r.Context(), m.ID)
		if err != nil {
			return walletError(err, codeMandateNotFound)
		}
		list.Data = append(list.Data, toProtocolMandate(m, limits))
	}
	return c.sendValue(http.StatusOK, list)
}

func toProtocolMandate(m *wallet.Mandate, limits []protocol.Limit) protocol.WalletMandate {
	out := protocol.WalletMandate{ID: m.ID, Owner: m.Owner, Agent: m.Agent, Wallet: m.Wallet, JTI: m.JTI, Hash: m.Hash,
		JWS: m.JWS, Currency: m.Currency, Scale: m.Scale, Uses: m.Uses, NotBefore: rfc3339(m.NotBefore),
		Expiry: rfc3339(m.Expiry), IssuedAt: rfc3339(m.IssuedAt), RevokedAt: rfc3339p(m.RevokedAt), Limits: limits}
	for _, b := range m.Budgets {
		out.Budgets = append(out.Budgets, protocol.MandateBudget{Period: b.Period, Max: b.Max})
	}
	if out.Limits == nil {
		out.Limits = []protocol.Limit{}
	}
	return out
}

// Payments.

// pay makes a direct payment, the request decoded by payOrPurchase.
func (s *Server) pay(c *call, agentID string, svc *wallet.Service, req protocol.PaymentRequest) error {
	if req.ClosedMandate == "" {
		return invalid(codeMissingField, "closed_mandate", "closed_mandate is required: the agent's signed closed payment mandate (compact JWS)")
	}
	for k, v := range req.Metadata {
		if err := validText(k, "metadata"); err != nil {
			return err
		}
		if err := validText(v, "metadata."+k); err != nil {
			return err
		}
	}
	closed := []byte(req.ClosedMandate)
	p, err := svc.Pay(c.engineCtx(), agentID, wallet.PayRequest{ClosedMandate: closed, Category: req.Category, Metadata: req.Metadata})
	if err != nil {
		// The same closed mandate, made by a concurrent request: its payment.
		if r, ok := errors.AsType[*wallet.Refusal](err); ok && r.Code == protocol.CodeReplayed {
			if p, ok := svc.PaymentFor(agentID, closed); ok {
				c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
				return c.sendValue(http.StatusOK, s.toProtocolPayment(c, svc, p))
			}
		}
		return walletError(err, codeAgentNotFound)
	}
	if p.Replayed() { // the same closed mandate again: the payment it made
		c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
		return c.sendValue(http.StatusOK, s.toProtocolPayment(c, svc, p))
	}
	return c.sendValue(http.StatusCreated, s.toProtocolPayment(c, svc, p))
}

// ownPayment returns the payment of the path, if the caller may act on it.
func (s *Server) ownPayment(c *call) (*wallet.Service, *wallet.Payment, error) {
	return own(s, c, (*wallet.Service).Payment, func(p *wallet.Payment) string { return p.Owner }, codePaymentNotFound)
}

// own returns the wallet object the path's {id} names (get), if the
// caller may act for its owner; notFound is the code of a missing one.
func own[T any](s *Server, c *call, get func(*wallet.Service, string) (T, error), owner func(T) string, notFound string) (*wallet.Service, T, error) {
	var zero T
	svc, err := s.svc()
	if err != nil {
		return nil, zero, err
	}
	v, err := get(svc, c.r.PathValue("id"))
	if err != nil {
		return nil, zero, walletError(err, notFound)
	}
	if err := c.actsFor(owner(v)); err != nil {
		return nil, zero, err
	}
	return svc, v, nil
}

func (s *Server) getPayment(c *call) error {
	svc, p, err := s.ownPayment(c)
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, s.toProtocolPayment(c, svc, p))
}

func (s *Server) listPayments(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	owner, err := c.listOwner(svc)
	if err != nil {
		return err
	}
	limit, err := pageLimit(c.r)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	page, next, err := svc.PaymentsPage(owner, q.Get("agent"), q.Get("status"), q.Get("after"), limit)
	if errors.Is(err, wallet.ErrBadCursor) {
		return invalid(codeInvalidCursor, "after", "after must be the next_cursor of the previous page")
	}
	if err != nil {
		return err
	}
	list := protocol.WalletPaymentList{Data: make([]protocol.WalletPayment, 0, len(page)), NextCursor: next}
	for _, p := range page {
		list.Data = append(list.Data, s.toProtocolPayment(c, svc, p))
	}
	return c.sendValue(http.StatusOK, list)
}

func (s *Server) approvePayment(c *call) error { return s.answerPayment(c, true) }
func (s *Server) declinePayment(c *call) error { return s.answerPayment(c, false) }

func (s *Server) answerPayment(c *call, approve bool) error {
	svc, p, err := s.ownPayment(c)
	if err != nil {
		return err
	}
	p, err = svc.Answer(c.engineCtx(), p.Owner, p.ID, approve)
	if err != nil {
		return walletError(err, codePaymentNotFound)
	}
	return c.sendValue(http.StatusOK, s.toProtocolPayment(c, svc, p))
}

// toProtocolPayment renders a payment. Limits are what remained of each
// limit right after it (as the payment recorded them) on the answer of
// POST /v1/payments; on reads they are what remains now.
func (s *Server) toProtocolPayment(c *call, svc *wallet.Service, p *wallet.Payment) protocol.WalletPayment {
	out := protocol.WalletPayment{ID: p.ID, Mandate: p.Mandate, Agent: p.Agent, Owner: p.Owner, Wallet: p.Wallet,
		Payee: p.Payee, Amount: p.Amount, Currency: p.Currency, Scale: p.Scale, Status: p.Status, HoldReason: p.Hold,
		ClosedMandate: p.Closed, Decision: p.Decision, Risk: toProtocolRisk(p.Risk), Limits: p.Limits,
		CreatedAt: rfc3339(p.CreatedAt), ExpiresAt: rfc3339p(p.ExpiresAt)}
	if c.rt.method == http.MethodGet || c.rt.pattern != "POST /v1/payments" {
		if limits, err := svc.MandateLimits(c.r.Context(), p.Mandate); err == nil {
			out.Limits = limits
		}
	}
	if out.Limits == nil {
		out.Limits = []protocol.Limit{}
	}
	if out.Decision.Checks == nil {
		out.Decision.Checks = []protocol.Check{}
	}
	if p.Answer != nil {
		out.Answer = &protocol.PaymentAnswer{Approved: p.Answer.Approved, At: rfc3339(p.Answer.At)}
	}
	if c.rt.pattern != "GET /v1/payments" && s.receiptSigner != nil {
		out.Receipt = s.paymentReceipt(c, svc, p)
	}
	return out
}

// paymentReceipt signs the receipt of a payment's latest change; "" (and
// the reason logged) if its records cannot be read.
func (s *Server) paymentReceipt(c *call, svc *wallet.Service, p *wallet.Payment) string {
	ctx := c.r.Context()
	ev, err := svc.Evidence(ctx, p)
	if err == nil {
		var r []byte
		if r, err = s.signCommitted(ctx, ev.Transfers, ev.Docs); err == nil {
			return string(r)
		}
	}
	s.log.Error("api: payment receipt", "payment", p.ID, "err", err)
	return ""
}
