package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// EntryVersion is the entry format version this package writes and reads.
//
// History:
//   - 1 (2026-11-29): first version, "apay-evidence/v1".
const EntryVersion = 1

// EntryPrefix starts the canonical bytes of every version-1 entry.
const EntryPrefix = "apay-evidence/v1\n"

// Limits on entries.
const (
	// EntryMaxBytes is the largest canonical entry, the tlog-tiles bundle limit.
	EntryMaxBytes = 65535
	// StringMaxBytes is the longest id, name or type string in an entry.
	StringMaxBytes = 128
	// KindMaxBytes is the longest kind.
	KindMaxBytes = 32
	// RefsMaxCount is the most subjects, and separately the most hashes, in one entry.
	RefsMaxCount = 64
	// IntMax is the largest integer an entry may hold (2^53-1, exact in JCS).
	IntMax = 1<<53 - 1
)

// Kind names what an entry records.
type Kind string

// The kinds of version 1. Decoders accept any kind matching [a-z_]{1,32}, so a
// new kind needs no version change.
const (
	KindTransferChain  Kind = "transfer_chain"
	KindAccountChange  Kind = "account_change"
	KindBatch          Kind = "batch"
	KindMandateIssued  Kind = "mandate_issued"
	KindMandateRevoked Kind = "mandate_revoked"
	KindAgentKey       Kind = "agent_key"
	KindRiskDecision   Kind = "risk_decision"
	KindApproval       Kind = "approval"
	KindCapture        Kind = "capture"
	KindRefund         Kind = "refund"
	KindDispute        Kind = "dispute"
	KindMeterBatch     Kind = "meter_batch"
	KindPayout         Kind = "payout"
)

// Hash is a SHA-256 digest: a leaf, node or root hash, or the hash of a signed object.
type Hash [32]byte

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses 64 lowercase hex digits, the form String returns.
func ParseHash(s string) (Hash, error) {
	h, ok := parseHex(s)
	if !ok || h.String() != s {
		return Hash{}, fmt.Errorf("evidence: bad hash %q", s)
	}
	return h, nil
}

// HashBytes returns SHA-256(b), the hash to record for a signed object's exact bytes.
func HashBytes(b []byte) Hash { return sha256.Sum256(b) }

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 ‖ b) of canonical entry bytes.
func LeafHash(b []byte) Hash {
	var h Hash
	copy(h[:], rfc6962.DefaultHasher.HashLeaf(b))
	return h
}

// Subject names one record an entry concerns, by type and id only.
type Subject struct {
	Type string // e.g. "account", "transfer", "mandate"
	ID   string
}

// ObjectHash is the SHA-256 of the exact signed bytes of an object.
type ObjectHash struct {
	Name   string // e.g. "transfer", "mandate", "request"
	SHA256 Hash
}

// BatchInfo is carried by batch entries: the root and leaf count of the batch
// tree and, when the batch's leaves are timestamped records (an engine
// batch), the first and last of their timestamps (nanoseconds), so the
// records can be found again to rebuild the tree. From and To are both zero
// or 1 <= From <= To; they are written as decimal strings, being above the
// exact range of JSON numbers.
type BatchInfo struct {
	Root  Hash
	Count uint64
	From  uint64
	To    uint64
}

// Entry is one evidence entry. Build it, call Marshal once, and store the bytes.
type Entry struct {
	Kind     Kind
	ID       string
	Shard    uint32
	Seq      uint64
	Time     time.Time // stored with microsecond precision, UTC
	Subjects []Subject
	Hashes   []ObjectHash
	Prev     *Hash      // entry hash (LeafHash) of the previous entry in the same chain, if any
	Batch    *BatchInfo // required for KindBatch and KindMeterBatch, else nil
}

// Errors returned by this file's functions; test with errors.Is.
var (
	// ErrInvalidEntry: an entry fails validation (Marshal) or its bytes are not canonical (ParseEntry).
	ErrInvalidEntry = errors.New("evidence: invalid entry")
)

func validString(s string, maxBytes int) bool {
	if len(s) == 0 || len(s) > maxBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

func validKind(k Kind) bool {
	if len(k) == 0 || len(k) > KindMaxBytes {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// Validate reports whether e can be encoded; the error wraps ErrInvalidEntry.
func (e *Entry) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEntry, fmt.Sprintf(format, args...))
	}
	if !validKind(e.Kind) {
		return bad("kind %q", e.Kind)
	}
	if !validString(e.ID, StringMaxBytes) {
		return bad("id %q", e.ID)
	}
	if e.Seq > IntMax {
		return bad("seq %d above %d", e.Seq, uint64(IntMax))
	}
	us := e.Time.UnixMicro()
	if us < 0 || us > IntMax {
		return bad("time %v out of range", e.Time)
	}
	if len(e.Subjects) > RefsMaxCount || len(e.Hashes) > RefsMaxCount {
		return bad("more than %d subjects or hashes", RefsMaxCount)
	}
	for i, s := range e.Subjects {
		if !validString(s.Type, StringMaxBytes) || !validString(s.ID, StringMaxBytes) {
			return bad("subject %d (%q, %q)", i, s.Type, s.ID)
		}
	}
	for i, h := range e.Hashes {
		if !validString(h.Name, StringMaxBytes) {
			return bad("hash %d name %q", i, h.Name)
		}
	}
	needBatch := e.Kind == KindBatch || e.Kind == KindMeterBatch
	switch {
	case needBatch && e.Batch == nil:
		return bad("kind %s needs batch info", e.Kind)
	case !needBatch && e.Batch != nil:
		return bad("kind %s must not carry batch info", e.Kind)
	case e.Batch != nil && (e.Batch.Count == 0 || e.Batch.Count > IntMax):
		return bad("batch count %d", e.Batch.Count)
	case e.Batch != nil && (e.Batch.From > e.Batch.To || (e.Batch.From == 0) != (e.Batch.To == 0)):
		return bad("batch range [%d, %d]", e.Batch.From, e.Batch.To)
	}
	return nil
}

// Marshal validates e and returns its canonical bytes (see the package doc).
func (e *Entry) Marshal() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 256)
	b = append(b, EntryPrefix...)
	b = append(b, '{')
	if e.Batch != nil {
		b = append(b, `"batch":{"count":`...)
		b = strconv.AppendUint(b, e.Batch.Count, 10)
		if e.Batch.To != 0 {
			b = append(b, `,"from":"`...)
			b = strconv.AppendUint(b, e.Batch.From, 10)
			b = append(b, '"')
		}
		b = append(b, `,"root":"`...)
		b = hex.AppendEncode(b, e.Batch.Root[:])
		b = append(b, '"')
		if e.Batch.To != 0 {
			b = append(b, `,"to":"`...)
			b = strconv.AppendUint(b, e.Batch.To, 10)
			b = append(b, '"')
		}
		b = append(b, "},"...)
	}
	if len(e.Hashes) > 0 {
		b = append(b, `"hashes":[`...)
		for i, h := range e.Hashes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":"`...)
			b = append(b, h.Name...)
			b = append(b, `","sha256":"`...)
			b = hex.AppendEncode(b, h.SHA256[:])
			b = append(b, `"}`...)
		}
		b = append(b, "],"...)
	}
	b = append(b, `"id":"`...)
	b = append(b, e.ID...)
	b = append(b, `","kind":"`...)
	b = append(b, e.Kind...)
	b = append(b, `",`...)
	if e.Prev != nil {
		b = append(b, `"prev":"`...)
		b = hex.AppendEncode(b, e.Prev[:])
		b = append(b, `",`...)
	}
	b = append(b, `"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"shard":`...)
	b = strconv.AppendUint(b, uint64(e.Shard), 10)
	if len(e.Subjects) > 0 {
		b = append(b, `,"subjects":[`...)
		for i, s := range e.Subjects {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":"`...)
			b = append(b, s.ID...)
			b = append(b, `","type":"`...)
			b = append(b, s.Type...)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.Time.UnixMicro(), 10)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, EntryVersion, 10)
	b = append(b, '}')
	if len(b) > EntryMaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidEntry, len(b), EntryMaxBytes)
	}
	return b, nil
}

// wire mirrors the JSON object for strict decoding.
type wireEntry struct {
	Batch *struct {
		Count *uint64 `json:"count"`
		From  *string `json:"from"`
		Root  string  `json:"root"`
		To    *string `json:"to"`
	} `json:"batch"`
	Hashes []struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"hashes"`
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Prev     *string `json:"prev"`
	Seq      *uint64 `json:"seq"`
	Shard    *uint32 `json:"shard"`
	Subjects []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"subjects"`
	TS *int64 `json:"ts"`
	V  *int   `json:"v"`
}

func parseHex(s string) (Hash, bool) {
	var h Hash
	if len(s) != 64 {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true // uppercase hex is caught by the round-trip check
}

// ParseEntry decodes canonical entry bytes. It rejects anything that does not
// re-encode to exactly b; errors wrap ErrInvalidEntry.
func ParseEntry(b []byte) (*Entry, error) {
	if len(b) > EntryMaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidEntry, len(b), EntryMaxBytes)
	}
	if !bytes.HasPrefix(b, []byte(EntryPrefix)) {
		return nil, fmt.Errorf("%w: missing prefix %q", ErrInvalidEntry, EntryPrefix)
	}
	dec := json.NewDecoder(bytes.NewReader(b[len(EntryPrefix):]))
	dec.DisallowUnknownFields()
	var w wireEntry
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	if w.V == nil || *w.V != EntryVersion || w.Seq == nil || w.Shard == nil || w.TS == nil {
		return nil, fmt.Errorf("%w: missing or unsupported v, seq, shard or ts", ErrInvalidEntry)
	}
	e := &Entry{
		Kind:  Kind(w.Kind),
		ID:    w.ID,
		Shard: *w.Shard,
		Seq:   *w.Seq,
		Time:  time.UnixMicro(*w.TS).UTC(),
	}
	if w.Batch != nil {
		root, ok := parseHex(w.Batch.Root)
		if !ok || w.Batch.Count == nil {
			return nil, fmt.Errorf("%w: batch root or count", ErrInvalidEntry)
		}
		e.Batch = &BatchInfo{Root: root, Count: *w.Batch.Count}
		if (w.Batch.From == nil) != (w.Batch.To == nil) {
			return nil, fmt.Errorf("%w: batch from and to go together", ErrInvalidEntry)
		}
		if w.Batch.From != nil {
			var err1, err2 error
			e.Batch.From, err1 = strconv.ParseUint(*w.Batch.From, 10, 64)
			e.Batch.To, err2 = strconv.ParseUint(*w.Batch.To, 10, 64)
			if err1 != nil || err2 != nil || e.Batch.To == 0 {
				return nil, fmt.Errorf("%w: batch from or to", ErrInvalidEntry)
			}
		}
	}
	for _, h := range w.Hashes {
		d, ok := parseHex(h.SHA256)
		if !ok {
			return nil, fmt.Errorf("%w: hash %q", ErrInvalidEntry, h.SHA256)
		}
		e.Hashes = append(e.Hashes, ObjectHash{Name: h.Name, SHA256: d})
	}
	if w.Prev != nil {
		p, ok := parseHex(*w.Prev)
		if !ok {
			return nil, fmt.Errorf("%w: prev %q", ErrInvalidEntry, *w.Prev)
		}
		e.Prev = &p
	}
	for _, s := range w.Subjects {
		e.Subjects = append(e.Subjects, Subject{Type: s.Type, ID: s.ID})
	}
	again, err := e.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrInvalidEntry)
	}
	return e, nil
}

// ErrChain is returned by VerifyChain when a prev link is missing or wrong.
var ErrChain = errors.New("evidence: broken hash chain")

// VerifyChain checks a per-wallet hash chain: entries (canonical bytes, oldest
// first) must each parse, and every entry after the first must name the entry
// hash of the one before it in "prev". If first is non-nil the first entry's
// prev must equal it (continuing a verified chain); otherwise the first entry
// is taken as is. Errors wrap ErrChain or ErrInvalidEntry and name the position.
func VerifyChain(entries [][]byte, first *Hash) error {
	prev := first
	for i, b := range entries {
		e, err := ParseEntry(b)
		if err != nil {
			return fmt.Errorf("evidence: chain entry %d: %w", i, err)
		}
		if (i > 0 || first != nil) && (e.Prev == nil || *e.Prev != *prev) {
			return fmt.Errorf("%w: entry %d (%s) does not link to entry %d", ErrChain, i, e.ID, i-1)
		}
		h := LeafHash(b)
		prev = &h
	}
	return nil
}
