package wallet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// Merchant is a seller whose public key the operator registered: it
// verifies the checkouts (and price attestations) the merchant signs,
// which checkout purchases pay for. The merchant's id is the iss of what
// it signs and the payee id agents pay.
type Merchant struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Category is the merchant's category as the operator registered it
	// (protocol.ValidCategory; empty: none). Payment mandates'
	// payment.allowed_categories judge payments to the merchant by it,
	// and the risk rules see it when the agent names no category.
	Category  string       `json:"category,omitempty"`
	Key       protocol.JWK `json:"key"`
	KeyID     string       `json:"key_id"`
	CreatedAt time.Time    `json:"created_at"`
}

// actState is what the service keeps for checkout purchases: merchant
// keys and open checkout mandates. It has its own lock, taken after s.mu
// when both are held (LookupKey), never before it.
type actState struct {
	mu           sync.RWMutex
	merchants    map[string]*Merchant // by id
	merchantKeys map[string]*Merchant // by key thumbprint (kid)
	checkouts    map[string]*CheckoutMandate
	checkoutHash map[string]*CheckoutMandate // by protocol.HashJWS of the JWS
}

// init makes the maps; a.mu held (or the service not yet shared).
func (a *actState) init() {
	if a.merchants == nil {
		a.merchants = map[string]*Merchant{}
		a.merchantKeys = map[string]*Merchant{}
		a.checkouts = map[string]*CheckoutMandate{}
		a.checkoutHash = map[string]*CheckoutMandate{}
	}
}

// validPartyID reports whether id is a usable party id: 1..128 bytes of
// [A-Za-z0-9._:-].
func validPartyID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// RegisterMerchant registers (or, for a known merchant, replaces) the
// public key of merchant id: from then on checkouts and price
// attestations the key signs verify as that merchant's. category is the
// merchant's category (a short lowercase token, protocol.ValidCategory),
// or "" for none; registering again replaces it too. The operator calls
// it; a key already held by another party is refused.
func (s *Service) RegisterMerchant(ctx context.Context, merchantID, name, category string, key protocol.JWK) (*Merchant, error) {
	if !validPartyID(merchantID) {
		return nil, fmt.Errorf("%w: merchant id must be 1..128 bytes of [A-Za-z0-9._:-]", ErrInvalid)
	}
	if len(name) > 200 {
		return nil, fmt.Errorf("%w: name longer than 200 bytes", ErrInvalid)
	}
	if category != "" && !protocol.ValidCategory(category) {
		return nil, fmt.Errorf("%w: category must be 1..%d bytes of [a-z0-9_-], starting with a letter or digit", ErrInvalid, protocol.CategoryBytesMax)
	}
	pk, err := protocol.NewPublicKey(key.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrInvalid, err)
	}
	mc := &Merchant{ID: merchantID, Name: name, Category: category, Key: key, KeyID: pk.KeyID(), CreatedAt: s.now().UTC()}
	s.mu.RLock()
	holder, taken := s.keyOwner(mc.KeyID)
	s.mu.RUnlock()
	s.acts.mu.RLock()
	if o, ok := s.acts.merchantKeys[mc.KeyID]; ok {
		// The merchant's own key is not taken: registering again with it
		// changes the name or category.
		holder, taken = o.ID, o.ID != merchantID
	}
	s.acts.mu.RUnlock()
	if taken {
		return nil, fmt.Errorf("%w: key %s is registered already (to %s)", ErrConflict, mc.KeyID, holder)
	}
	if _, err := s.commit(ctx, &ledger.Request{Docs: []ledger.Doc{doc(KindMerchantKey, mc.ID, mc)}}); err != nil {
		return nil, err
	}
	s.acts.mu.Lock()
	s.installMerchant(mc)
	s.acts.mu.Unlock()
	return mc, nil
}

// installMerchant indexes mc, dropping the merchant's previous key;
// s.acts.mu held.
func (s *Service) installMerchant(mc *Merchant) {
	s.acts.init()
	if old, ok := s.acts.merchants[mc.ID]; ok {
		delete(s.acts.merchantKeys, old.KeyID)
	}
	s.acts.merchants[mc.ID] = mc
	s.acts.merchantKeys[mc.KeyID] = mc
}

func (s *Service) applyMerchantKey(d ledger.Doc) error {
	var mc Merchant
	if err := json.Unmarshal(d.Body, &mc); err != nil {
		return err
	}
	s.installMerchant(&mc)
	return nil
}

// Merchant returns a registered merchant.
func (s *Service) Merchant(merchantID string) (*Merchant, error) {
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	mc, ok := s.acts.merchants[merchantID]
	if !ok {
		return nil, fmt.Errorf("%w: merchant %s", ErrNotFound, merchantID)
	}
	return mc, nil
}

// Merchants returns the registered merchants by id.
func (s *Service) Merchants() []*Merchant {
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	out := make([]*Merchant, 0, len(s.acts.merchants))
	for _, mc := range s.acts.merchants {
		out = append(out, mc)
	}
	slices.SortFunc(out, func(a, b *Merchant) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// merchantCategory returns the registered category of merchant id; ""
// when id is no registered merchant or has no category.
func (s *Service) merchantCategory(merchantID string) string {
	s.acts.mu.RLock()
	defer s.acts.mu.RUnlock()
	if mc, ok := s.acts.merchants[merchantID]; ok {
		return mc.Category
	}
	return ""
}

// merchantKey returns the party key of a merchant's kid, for LookupKey;
// ok is false when no merchant holds kid.
func (s *Service) merchantKey(kid string) (pk protocol.PartyKey, ok bool, err error) {
	s.acts.mu.RLock()
	mc, ok := s.acts.merchantKeys[kid]
	s.acts.mu.RUnlock()
	if !ok {
		return protocol.PartyKey{}, false, nil
	}
	k, err := s.publicKey(kid, mc.Key)
	if err != nil {
		return protocol.PartyKey{}, true, err
	}
	return protocol.PartyKey{Key: k, Party: mc.ID, Role: protocol.PartyMerchant}, true, nil
}
