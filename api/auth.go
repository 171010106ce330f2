package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// API key limits, units last.
const (
	// secretPrefix starts every API key secret.
	secretPrefix = "ap_"
	// secretRandomBytes is the entropy of a secret.
	secretRandomBytes = 32
	// secretLengthMax bounds what authenticate hashes and looks up.
	secretLengthMax = 128
	// keyPrefixLength is how much of a secret the store keeps to let
	// people recognise a key ("ap_" and 8 characters).
	keyPrefixLength = len(secretPrefix) + 8
	// keyCacheTTL is how long a looked-up key is trusted without asking
	// the store again. A revocation through this node takes effect at
	// once; one through another node within this time.
	keyCacheTTL = 30 * time.Second
	// keyCacheEntriesMax bounds the cache; it is emptied when full.
	keyCacheEntriesMax = 4096
)

var secretEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKey makes a new API key with a fresh time-ordered id: it returns
// the secret, to be shown once, and the key to store (which holds only the
// secret's SHA-256). role must be one of store.RoleAdmin, RoleWriter and
// RoleReader; NewAPIKey panics otherwise (a programmer error).
func NewAPIKey(role store.Role, party, name string) (secret string, key store.APIKey) {
	now := time.Now()
	return newAPIKey(ledger.NewID(now, rand.Reader), now, role, party, name)
}

func newAPIKey(id ledger.ID, now time.Time, role store.Role, party, name string) (string, store.APIKey) {
	if !validRole(role) {
		panic(fmt.Sprintf("api: NewAPIKey with invalid role %q", role))
	}
	var random [secretRandomBytes]byte
	_, _ = rand.Read(random[:]) // crypto/rand never fails
	secret := secretPrefix + secretEncoding.EncodeToString(random[:])
	return secret, store.APIKey{
		ID:        id,
		Hash:      sha256.Sum256([]byte(secret)),
		Prefix:    secret[:keyPrefixLength],
		Party:     party,
		Role:      role,
		Name:      name,
		CreatedAt: uint64(now.UnixNano()),
	}
}

func validRole(r store.Role) bool {
	return r == store.RoleAdmin || r == store.RoleWriter || r == store.RoleReader
}

// allowed reports whether role may call a route that requires a.
func allowed(role store.Role, a access) bool {
	switch a {
	case accessPublic, accessRead:
		return validRole(role)
	case accessWrite:
		return role == store.RoleWriter || role == store.RoleAdmin
	case accessAdmin:
		return role == store.RoleAdmin
	}
	return false
}

// authenticate returns the valid API key named by the request's bearer
// secret.
func (s *Server) authenticate(r *http.Request) (store.APIKey, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return store.APIKey{}, newError(protocol.ErrorAuthentication, codeMissingAPIKey, "",
			"send an API key as Authorization: Bearer <secret>")
	}
	scheme, secret, _ := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, secretPrefix) || len(secret) > secretLengthMax {
		return store.APIKey{}, newError(protocol.ErrorAuthentication, codeInvalidAPIKey, "",
			"the Authorization header must be Bearer followed by an AgentPay secret (ap_…)")
	}
	hash := sha256.Sum256([]byte(secret))
	key, gen, ok := s.keys.get(hash)
	if !ok {
		var err error
		key, err = s.store.GetAPIKeyByHash(r.Context(), hash)
		if errors.Is(err, store.ErrNotFound) {
			return store.APIKey{}, newError(protocol.ErrorAuthentication, codeInvalidAPIKey, "", "unknown API key")
		}
		if err != nil {
			return store.APIKey{}, fmt.Errorf("api: looking up API key: %w", err)
		}
		s.keys.put(hash, key, gen)
	}
	if key.RevokedAt != 0 {
		return store.APIKey{}, newError(protocol.ErrorAuthentication, codeAPIKeyRevoked, "", "this API key was revoked")
	}
	return key, nil
}

// keyCache remembers recent key lookups by secret hash.
type keyCache struct {
	clock   ledger.Clock
	mu      sync.Mutex
	entries map[[32]byte]cachedKey
	// gen counts forgets; a lookup that raced with one is not cached, so a
	// key read from the store before its revocation committed cannot be
	// cached after the revocation dropped it.
	gen uint64
}

type cachedKey struct {
	key     store.APIKey
	expires time.Time
}

func newKeyCache(clock ledger.Clock) *keyCache {
	return &keyCache{clock: clock, entries: make(map[[32]byte]cachedKey)}
}

// get returns the cached key, or the generation to pass to put after
// looking the key up.
func (c *keyCache) get(hash [32]byte) (store.APIKey, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !c.clock.Now().Before(e.expires) {
		return store.APIKey{}, c.gen, false
	}
	return e.key, c.gen, true
}

// put caches k unless a forget happened since get returned gen.
func (c *keyCache) put(hash [32]byte, k store.APIKey, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= keyCacheEntriesMax {
		clear(c.entries)
	}
	c.entries[hash] = cachedKey{key: k, expires: c.clock.Now().Add(keyCacheTTL)}
}

// forget drops the key with id, so its revocation takes effect at once.
func (c *keyCache) forget(id ledger.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if e.key.ID == id {
			delete(c.entries, h)
		}
	}
}
