package ledger

import (
	"errors"
	"fmt"
)

// A Doc is a service's state change committed with the ledger: a mandate
// issued or revoked, an agent key registered, a risk decision, an
// approval. The engine gives it a timestamp, the store keeps it in the
// batch's transaction, and the evidence log commits to it (its kind, key,
// timestamp and the SHA-256 of its body, never the body) in the batch's
// tree. Services keep their state as the sequence of their docs, so what
// they show is what the log proves.
type Doc struct {
	Kind      string // [a-z_]{1,32}, the evidence kind, e.g. "mandate_issued"
	Key       string // 1-128 bytes of [A-Za-z0-9_.:/+=-], e.g. "mdt_01J..."
	Body      []byte // the service's bytes (JSON, signed objects), at most DocBodyMax
	Timestamp uint64 // assigned by the engine
}

// Limits on docs.
const (
	DocBodyMax    = 64 << 10
	DocKindMax    = 32
	DocKeyMax     = 128
	DocsPerSubmit = 64
)

// ErrInvalidDoc is wrapped by Validate's errors.
var ErrInvalidDoc = errors.New("ledger: invalid doc")

// Validate checks a doc's kind, key and body size.
func (d *Doc) Validate() error {
	if len(d.Kind) == 0 || len(d.Kind) > DocKindMax {
		return fmt.Errorf("%w: kind %q", ErrInvalidDoc, d.Kind)
	}
	for i := 0; i < len(d.Kind); i++ {
		if c := d.Kind[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return fmt.Errorf("%w: kind %q", ErrInvalidDoc, d.Kind)
		}
	}
	if len(d.Key) == 0 || len(d.Key) > DocKeyMax {
		return fmt.Errorf("%w: key %q", ErrInvalidDoc, d.Key)
	}
	for i := 0; i < len(d.Key); i++ {
		c := d.Key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return fmt.Errorf("%w: key %q", ErrInvalidDoc, d.Key)
		}
	}
	if len(d.Body) > DocBodyMax {
		return fmt.Errorf("%w: body of %d bytes, limit %d", ErrInvalidDoc, len(d.Body), DocBodyMax)
	}
	return nil
}

// Request is a mixed request for Engine.Submit: accounts, then transfers,
// then docs, which commit only if every account and transfer of the
// request commits with ResultOK. Link the accounts and the transfers
// (flag linked) to make the whole request all or nothing.
type Request struct {
	Accounts  []Account
	Transfers []Transfer
	Docs      []Doc
}

// AddDocs appends docs to the open batch with fresh timestamps; it sets
// each doc's Timestamp. The batch holds each body as it is, not a copy:
// a doc's body is the ledger's from then on and never changes. hashes,
// when not nil, holds the SHA-256 of each doc's body (Batch.DocHashes).
func (s *State) AddDocs(now uint64, docs []Doc, hashes [][32]byte) {
	s.mustBeOpen()
	b := s.batch
	if hashes != nil && len(b.DocHashes) < len(b.Docs) {
		// Earlier docs of the batch came without: they are hashed later.
		b.DocHashes = append(b.DocHashes, make([][32]byte, len(b.Docs)-len(b.DocHashes))...)
	}
	for i := range docs {
		docs[i].Timestamp = s.tick(now)
		b.Docs = append(b.Docs, docs[i])
		if hashes != nil {
			b.DocHashes = append(b.DocHashes, hashes[i])
		}
	}
}
