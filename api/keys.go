package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// API key mutations and idempotency.
//
// The store commits idempotency outcomes only inside ledger batches, so a
// key mutation cannot store one in its own transaction. Instead each is
// made idempotent by its own row:
//
//   - POST /v1/api-keys derives the new key's id from the scoped
//     Idempotency-Key (SHA-256), so the key row itself is the idempotency
//     record, committed atomically with the key and kept as long as the
//     key. A retry finds the row: same role, name and party → the original
//     201 with Idempotent-Replayed: true but without the secret, which is
//     never stored; anything else → 422. The request is compared by its
//     fields, not its bytes.
//   - DELETE /v1/api-keys/{id} is idempotent by nature: the store keeps
//     the first revocation time, so a retry returns the same body. A key
//     that was already revoked is answered with Idempotent-Replayed: true.
//     Reusing one Idempotency-Key to revoke a different key is not
//     detected (it revokes that key).

// decodeAPIKeyRequest decodes the body of POST /v1/api-keys.
func decodeAPIKeyRequest(body []byte) (protocol.CreateAPIKeyRequest, error) {
	var p protocol.CreateAPIKeyRequest
	if err := decodeJSON(body, &p, ""); err != nil {
		return p, err
	}
	switch {
	case p.Role == "":
		return p, invalid(codeMissingField, "role", "role is required: admin, writer or reader")
	case !validRole(store.Role(p.Role)):
		return p, invalid(codeInvalidRole, "role", "role must be admin, writer or reader, not %q", p.Role)
	}
	if err := validText(p.Name, "name"); err != nil {
		return p, err
	}
	if err := validText(p.Party, "party"); err != nil {
		return p, err
	}
	return p, nil
}

// derivedKeyID is the id of the API key created under a scoped
// idempotency key.
func derivedKeyID(scopedKey string) ledger.ID {
	sum := sha256.Sum256([]byte("agentpay/api-key-id\x00" + scopedKey))
	var id ledger.ID
	copy(id[:], sum[:len(id)])
	if id.IsZero() || id == ledger.IDMax {
		id[len(id)-1] ^= 1 // keep it a valid id; 2^-127 odds
	}
	return id
}

func (s *Server) createAPIKey(c *call) error {
	req, err := decodeAPIKeyRequest(c.body)
	if err != nil {
		return err
	}
	id := derivedKeyID(c.idem.Key)
	secret, key := newAPIKey(id, s.clock.Now(), store.Role(req.Role), req.Party, req.Name)
	err = s.store.CreateAPIKey(c.r.Context(), key)
	if err == nil {
		out := toProtocolAPIKey(&key)
		out.Secret = secret
		return c.sendValue(http.StatusCreated, out)
	}
	if !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("api: creating API key: %w", err)
	}
	old, found, err := s.findAPIKey(c, id)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("api: creating API key %s: conflict, but no key has its id", id)
	}
	if old.Role != key.Role || old.Name != key.Name || old.Party != key.Party {
		return mismatch()
	}
	c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
	return c.sendValue(http.StatusCreated, toProtocolAPIKey(&old))
}

// findAPIKey looks a key up by id. The store has no get-by-id; keys are
// few, so it scans the list.
func (s *Server) findAPIKey(c *call, id ledger.ID) (store.APIKey, bool, error) {
	keys, err := s.store.ListAPIKeys(c.r.Context())
	if err != nil {
		return store.APIKey{}, false, fmt.Errorf("api: listing API keys: %w", err)
	}
	for _, k := range keys {
		if k.ID == id {
			return k, true, nil
		}
	}
	return store.APIKey{}, false, nil
}

func (s *Server) listAPIKeys(c *call) error {
	keys, err := s.store.ListAPIKeys(c.r.Context())
	if err != nil {
		return fmt.Errorf("api: listing API keys: %w", err)
	}
	list := protocol.APIKeyList{Data: make([]protocol.APIKey, len(keys))}
	for i := range keys {
		list.Data[i] = toProtocolAPIKey(&keys[i])
	}
	return c.sendValue(http.StatusOK, list)
}

func (s *Server) revokeAPIKey(c *call) error {
	id, err := pathID(c.r, protocol.PrefixAPIKey)
	if err != nil {
		return err
	}
	notFound := newError(protocol.ErrorNotFound, codeAPIKeyNotFound, "id", "no API key %s", prefixed(protocol.PrefixAPIKey, id))
	before, found, err := s.findAPIKey(c, id)
	if err != nil {
		return err
	}
	if !found {
		return notFound
	}
	err = s.store.RevokeAPIKey(c.r.Context(), id, uint64(s.clock.Now().UnixNano()))
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("api: revoking API key: %w", err)
	}
	s.keys.forget(id)
	after, found, err := s.findAPIKey(c, id)
	if err != nil {
		return err
	}
	if !found || after.RevokedAt == 0 {
		return fmt.Errorf("api: API key %s is not revoked after RevokeAPIKey", id)
	}
	if before.RevokedAt != 0 {
		c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
	}
	return c.sendValue(http.StatusOK, toProtocolAPIKey(&after))
}
