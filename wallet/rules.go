package wallet

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/risk"
)

// walletRules is the body of a risk_rules doc: a wallet's rules as saved.
type walletRules struct {
	Wallet string      `json:"wallet"`
	Rules  []risk.Rule `json:"rules"`
}

// SetWalletRules replaces the risk rules of an owner's wallet. Every rule
// is validated (compiled, cost-checked) before anything is saved; the
// platform's rules still apply first, and no rule can loosen a mandate's
// limits.
func (s *Service) SetWalletRules(ctx context.Context, owner, walletID string, rules []risk.Rule) ([]risk.Rule, error) {
	w, err := s.Wallet(walletID)
	if err != nil {
		return nil, err
	}
	if w.Owner != owner {
		return nil, fmt.Errorf("%w: wallet %s belongs to another owner", ErrForbidden, walletID)
	}
	for i := range rules {
		rules[i].Scope = w.ID
	}
	compiled, err := risk.CompileAll(rules)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindRules, w.ID, walletRules{Wallet: w.ID, Rules: rules})}}); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.walletRules[w.ID] = compiled
	s.mu.Unlock()
	return rules, nil
}

// WalletRules returns a wallet's saved rules.
func (s *Service) WalletRules(walletID string) []risk.Rule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []risk.Rule
	for _, c := range s.walletRules[walletID] {
		out = append(out, c.Rule())
	}
	return out
}

func (s *Service) applyRules(d ledger.Doc) error {
	var wr walletRules
	if err := json.Unmarshal(d.Body, &wr); err != nil {
		return err
	}
	compiled, err := risk.CompileAll(wr.Rules)
	if err != nil {
		return fmt.Errorf("rules of %s: %w", wr.Wallet, err)
	}
	if wr.Wallet == risk.ScopePlatform {
		s.platformRules.Store(&compiled)
		return nil
	}
	s.walletRules[wr.Wallet] = compiled
	return nil
}

// SetPlatformRules replaces the platform's risk rules, which every payment
// is evaluated against before its wallet's. They are validated before
// anything is saved; saved rules replace the configured defaults, also
// after a restart.
func (s *Service) SetPlatformRules(ctx context.Context, rules []risk.Rule) ([]risk.Rule, error) {
	for i := range rules {
		rules[i].Scope = risk.ScopePlatform
	}
	compiled, err := risk.CompileAll(rules)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	body := walletRules{Wallet: risk.ScopePlatform, Rules: rules}
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindRules, risk.ScopePlatform, body)}}); err != nil {
		return nil, err
	}
	s.platformRules.Store(&compiled)
	return rules, nil
}

// PlatformRules returns the platform's rules in force.
func (s *Service) PlatformRules() []risk.Rule {
	var out []risk.Rule
	for _, c := range *s.platformRules.Load() {
		out = append(out, c.Rule())
	}
	return out
}
