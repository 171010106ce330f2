package wallet

import "context"

// Read-only views the HTTP API needs.

// UserByKeyID returns the user whose key has the key id (RFC 7638
// thumbprint) kid.
func (s *Service) UserByKeyID(kid string) (*User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.users {
		if u.KeyID == kid {
			return u, true
		}
	}
	return nil, false
}

// PaymentFor returns the payment agentID made with exactly the closed
// mandate closed (the same bytes), with its status now.
func (s *Service) PaymentFor(agentID string, closed []byte) (*Payment, bool) {
	var peek closedRef
	if err := peekJWS("closed_mandate", closed, &peek); err != nil {
		return nil, false
	}
	p, ok, err := s.payment(context.Background(), paymentID(agentID, peek.ID, peek.IssuedAt))
	if err != nil || !ok || p.Closed != string(closed) {
		return nil, false
	}
	return s.withLimits(context.Background(), s.withStatus(p)), true
}
