package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// inflightSet holds the scoped idempotency keys of the requests this node
// is serving. A second request with a key in the set is answered 409.
type inflightSet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// acquire adds key and reports whether it was absent.
func (f *inflightSet) acquire(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.keys[key]; busy {
		return false
	}
	f.keys[key] = struct{}{}
	return true
}

// each calls fn for every key in flight, holding the set's lock.
func (f *inflightSet) each(fn func(string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.keys {
		fn(k)
	}
}

func (f *inflightSet) release(key string) {
	f.mu.Lock()
	delete(f.keys, key)
	f.mu.Unlock()
}

// idempotencyKey returns the request's Idempotency-Key: required, given
// once, 1 to protocol.IdempotencyKeyLengthMax printable ASCII characters.
func idempotencyKey(r *http.Request) (string, error) {
	vs := r.Header.Values(protocol.HeaderIdempotencyKey)
	switch {
	case len(vs) == 0 || vs[0] == "":
		return "", invalid(codeIdempotencyKeyRequired, "",
			"%s %s changes state and needs an %s header", r.Method, r.URL.Path, protocol.HeaderIdempotencyKey)
	case len(vs) > 1:
		return "", invalid(codeIdempotencyKeyInvalid, "", "the %s header is given %d times", protocol.HeaderIdempotencyKey, len(vs))
	}
	k := vs[0]
	if len(k) > protocol.IdempotencyKeyLengthMax {
		return "", invalid(codeIdempotencyKeyInvalid, "", "the %s is %d characters; at most %d are allowed",
			protocol.HeaderIdempotencyKey, len(k), protocol.IdempotencyKeyLengthMax)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", invalid(codeIdempotencyKeyInvalid, "", "the %s must be printable ASCII", protocol.HeaderIdempotencyKey)
		}
	}
	return k, nil
}

// scopeKey scopes an idempotency key to the caller and the endpoint:
// "<api key id> <METHOD> <route pattern> <key>". The parts cannot run into
// each other: the id has a fixed length and patterns hold one space.
func scopeKey(caller ledger.ID, pattern, key string) string {
	return caller.String() + " " + pattern + " " + key
}

// requestHash is the SHA-256 of the method, the path and the raw body: two
// requests are the same request exactly when these bytes are equal.
func requestHash(method, path string, body []byte) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, path)
	h.Write(body)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// replay answers the request from its stored outcome, if there is one:
// the original status and body with Idempotent-Replayed: true, or 422
// when the stored request differs. It reports whether it answered.
func (s *Server) replay(c *call) (bool, error) {
	if !s.outcomes.mayHave(c.idem.Key) {
		s.outcomes.add(c.idem.Key)
		return false, nil
	}
	o, err := s.store.GetOutcome(c.r.Context(), c.idem.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.outcomes.add(c.idem.Key)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("api: reading idempotency outcome: %w", err)
	case o.RequestHash != c.idem.RequestHash:
		return false, mismatch()
	}
	body, err := s.withReceipt(c.r.Context(), c.rt, o.Status, o.Body, nil)
	if err != nil {
		return false, err
	}
	c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
	writeBody(c.w, o.Status, body)
	return true, nil
}

func mismatch() *apiError {
	return newError(protocol.ErrorIdempotencyMismatch, codeIdempotencyConflict, "",
		"this Idempotency-Key was used for a different request; use a new key for a new request")
}
