package evidence

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// A receipt is the log's signed promise that records are in the log: a
// C2SP signed note, signed with the log's checkpoint key, whose text is
//
//	agentpay.dev/receipt/v1
//	<origin>
//	<log index> <entry hash, base64>
//	<type> <id> <timestamp> <leaf hash, base64>
//	...
//
// The log index and entry hash name the log entry (a batch entry) whose
// tree holds the records; each record line names one record (type, id as
// the API writes it, timestamp in nanoseconds) and its leaf hash in that
// tree. The first line keeps a receipt from ever parsing as a checkpoint.
// The full proof of a record, once a checkpoint covers the entry, is a
// [BatchProof] from the record's leaf to the checkpoint's root.

// ReceiptHeader is the first line of a version-1 receipt.
const ReceiptHeader = "agentpay.dev/receipt/v1"

// Limits on receipts.
const (
	// ReceiptItemsMax is the most records one receipt names (a batch
	// request's transfers).
	ReceiptItemsMax = 8189
	// ReceiptMaxBytes bounds a signed receipt.
	ReceiptMaxBytes = 1 << 20
)

// ErrReceipt: a receipt is malformed, from another origin or not signed by
// the log.
var ErrReceipt = errors.New("evidence: invalid receipt")

// ReceiptItem is one record a receipt names.
type ReceiptItem struct {
	Type      string // e.g. "transfer"
	ID        string // e.g. "tr_..."
	Timestamp uint64
	LeafHash  Hash
}

// Receipt is the text of a receipt.
type Receipt struct {
	Origin    string
	LogIndex  uint64 // index of the entry holding the records
	EntryHash Hash   // its leaf hash (LeafHash of its canonical bytes)
	Items     []ReceiptItem
}

// Marshal returns the note text.
func (r Receipt) Marshal() ([]byte, error) {
	if !validOrigin(r.Origin) {
		return nil, fmt.Errorf("%w: origin %q", ErrReceipt, r.Origin)
	}
	if len(r.Items) == 0 || len(r.Items) > ReceiptItemsMax {
		return nil, fmt.Errorf("%w: %d records, want 1 to %d", ErrReceipt, len(r.Items), ReceiptItemsMax)
	}
	b := make([]byte, 0, 128+len(r.Items)*96)
	b = append(b, ReceiptHeader+"\n"...)
	b = append(b, r.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, r.LogIndex, 10)
	b = append(b, ' ')
	b = base64.StdEncoding.AppendEncode(b, r.EntryHash[:])
	b = append(b, '\n')
	for i, it := range r.Items {
		if !validString(it.Type, StringMaxBytes) || !validString(it.ID, StringMaxBytes) {
			return nil, fmt.Errorf("%w: record %d (%q, %q)", ErrReceipt, i, it.Type, it.ID)
		}
		b = append(b, it.Type...)
		b = append(b, ' ')
		b = append(b, it.ID...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, it.Timestamp, 10)
		b = append(b, ' ')
		b = base64.StdEncoding.AppendEncode(b, it.LeafHash[:])
		b = append(b, '\n')
	}
	return b, nil
}

// ParseReceipt parses receipt text (without signatures); it accepts only
// text Marshal would write.
func ParseReceipt(text []byte) (Receipt, error) {
	bad := func(format string, args ...any) (Receipt, error) {
		return Receipt{}, fmt.Errorf("%w: %s", ErrReceipt, fmt.Sprintf(format, args...))
	}
	if len(text) > ReceiptMaxBytes {
		return bad("%d bytes, limit %d", len(text), ReceiptMaxBytes)
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		return bad("no final newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 4 || lines[0] != ReceiptHeader {
		return bad("want the header %q, an origin, an entry line and records", ReceiptHeader)
	}
	var r Receipt
	r.Origin = lines[1]
	idx, h, ok := strings.Cut(lines[2], " ")
	if !ok {
		return bad("entry line %q", lines[2])
	}
	var err error
	if r.LogIndex, err = strconv.ParseUint(idx, 10, 64); err != nil {
		return bad("log index %q", idx)
	}
	if r.EntryHash, err = parseB64Hash(h); err != nil {
		return bad("entry hash %q", h)
	}
	for _, l := range lines[3:] {
		f := strings.Split(l, " ")
		if len(f) != 4 {
			return bad("record line %q", l)
		}
		it := ReceiptItem{Type: f[0], ID: f[1]}
		if it.Timestamp, err = strconv.ParseUint(f[2], 10, 64); err != nil {
			return bad("record timestamp %q", f[2])
		}
		if it.LeafHash, err = parseB64Hash(f[3]); err != nil {
			return bad("record leaf hash %q", f[3])
		}
		r.Items = append(r.Items, it)
	}
	again, err := r.Marshal()
	if err != nil {
		return Receipt{}, err
	}
	if !bytes.Equal(again, text) {
		return bad("not in canonical form")
	}
	return r, nil
}

func parseB64Hash(s string) (Hash, error) {
	var h Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%w: hash %q", ErrReceipt, s)
	}
	copy(h[:], b)
	return h, nil
}

// SignReceipt returns the signed note of r, signed by the log's key.
func SignReceipt(r Receipt, s note.Signer) ([]byte, error) {
	text, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, s)
}

// OpenReceipt verifies a signed receipt with the log's verifier and
// checks its origin. Errors wrap ErrReceipt.
func OpenReceipt(signed []byte, origin string, logVerifier note.Verifier) (Receipt, error) {
	if len(signed) > ReceiptMaxBytes {
		return Receipt{}, fmt.Errorf("%w: %d bytes, limit %d", ErrReceipt, len(signed), ReceiptMaxBytes)
	}
	n, err := note.Open(signed, note.VerifierList(logVerifier))
	if err != nil {
		return Receipt{}, fmt.Errorf("%w: %w", ErrReceipt, err)
	}
	r, err := ParseReceipt([]byte(n.Text))
	if err != nil {
		return Receipt{}, err
	}
	if r.Origin != origin {
		return Receipt{}, fmt.Errorf("%w: origin %q, want %q", ErrReceipt, r.Origin, origin)
	}
	return r, nil
}

// Item returns the receipt's record with the given type and id.
func (r Receipt) Item(typ, id string) (ReceiptItem, bool) {
	for _, it := range r.Items {
		if it.Type == typ && it.ID == id {
			return it, true
		}
	}
	return ReceiptItem{}, false
}

// HashB64 returns the standard padded base64 form of h, as notes write it.
func HashB64(h Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }
