package sdk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

// Receipts, transfer proofs and the log monitor.
//
// Every committed transfer comes back with a receipt (protocol.Transfer.Receipt,
// protocol.BatchResponse.Receipt): a note signed by the evidence log's key
// naming the transfer, its timestamp and its leaf hash in the log. Once a
// signed checkpoint covers it, GET /v1/transfers/{id}/proof proves the
// leaf into the log. A client configured with the log's key (WithLogKey or
// TrustLog) checks both, and is the log's monitor: it keeps the largest
// checkpoint it has seen and accepts a new one only with a consistency proof
// from it, so the log cannot show it one history today and another
// tomorrow.

// Errors of receipt and proof verification; test with errors.Is. Each
// returned error also says what failed.
var (
	// ErrLogNotTrusted: the client has no log key (WithLogKey, TrustLog).
	ErrLogNotTrusted = errors.New("agentpay: no trusted log key")
	// ErrLogKey: the log key (a signed-note verifier key) or origin is invalid.
	ErrLogKey = errors.New("agentpay: invalid log key")
	// ErrReceipt: a receipt is malformed, from another origin, or not
	// signed by the log key.
	ErrReceipt = errors.New("agentpay: receipt does not verify")
	// ErrReceiptMismatch: a valid receipt does not name this transfer (its
	// id or timestamp).
	ErrReceiptMismatch = errors.New("agentpay: receipt does not name the transfer")
	// ErrCheckpoint: a checkpoint is malformed, from another origin, or not
	// signed by the log key.
	ErrCheckpoint = errors.New("agentpay: checkpoint does not verify")
	// ErrProof: a transfer proof does not match its receipt or does not
	// prove the transfer into its checkpoint.
	ErrProof = errors.New("agentpay: transfer proof does not verify")
	// ErrProofNotReady: no signed checkpoint covers the transfer yet; retry
	// after the next checkpoint. The error also holds the API's *Error.
	ErrProofNotReady = errors.New("agentpay: transfer proof not ready")
	// ErrLogFork: the log signed a checkpoint inconsistent with the one the
	// monitor keeps (same size with another root, or a consistency proof
	// that fails). This is evidence of log misbehaviour: keep both
	// checkpoints. It matches evidence.ErrFork too.
	ErrLogFork = fmt.Errorf("agentpay: log fork: %w", evidence.ErrFork)
	// ErrLogRollback: the log signed (or serves) a checkpoint smaller than
	// the one the monitor keeps and not a prefix of it: the log lost or
	// rewrote history. Errors that match it match ErrLogFork too.
	ErrLogRollback = errors.New("agentpay: log rollback")
)

// codeProofNotReady is the API error code of a proof no checkpoint covers.
const codeProofNotReady = "proof_not_ready"

// transferLeafBytes is the length of a transfer leaf: the byte 'T' and the
// 128-byte record.
const transferLeafBytes = 1 + 128

// Offsets in a transfer leaf (see protocol.TransferProof).
const (
	leafIDOffset        = 1
	leafTimestampOffset = 1 + 16 + 16 + 16 + 8 + 16 + 16 + 8 + 4 + 4 + 4 + 2 + 2
)

// receiptItemTransfer is the record type of transfers in receipts.
const receiptItemTransfer = "transfer"

// LogKey is a pinned evidence log: its origin and the verifier of its
// checkpoint and receipt key. Pin it out of band (configuration, a
// witness): a key fetched from the server it verifies proves nothing.
type LogKey struct {
	origin   string
	verifier note.Verifier
}

// ParseLogKey returns the log with the signed-note verifier key vkey (the
// text GET /v1/log/key serves) and origin; an empty origin is the key's
// name, which is the log's origin for AgentPay servers. Errors wrap ErrLogKey.
func ParseLogKey(vkey, origin string) (*LogKey, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogKey, err)
	}
	if origin == "" {
		origin = v.Name()
	}
	return &LogKey{origin: origin, verifier: v}, nil
}

// Origin returns the log's origin, the first line of its checkpoints.
func (k *LogKey) Origin() string { return k.origin }

// OpenCheckpoint verifies a signed checkpoint of the log and returns it.
// Errors wrap ErrCheckpoint.
func (k *LogKey) OpenCheckpoint(signed []byte) (evidence.Checkpoint, error) {
	c, _, err := evidence.OpenCheckpoint(signed, k.origin, k.verifier)
	if err != nil {
		return evidence.Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	return c, nil
}

// OpenReceipt verifies a receipt's signature and origin and returns it.
// Errors wrap ErrReceipt.
func (k *LogKey) OpenReceipt(receipt string) (evidence.Receipt, error) {
	if receipt == "" {
		return evidence.Receipt{}, fmt.Errorf("%w: empty receipt (is the server's evidence log on?)", ErrReceipt)
	}
	r, err := evidence.OpenReceipt([]byte(receipt), k.origin, k.verifier)
	if err != nil {
		return evidence.Receipt{}, fmt.Errorf("%w: %w", ErrReceipt, err)
	}
	return r, nil
}

// VerifyReceipt verifies a receipt (signature, origin) and that it names
// the committed transfer tr with its id and timestamp. Errors wrap
// ErrReceipt or ErrReceiptMismatch.
func (k *LogKey) VerifyReceipt(receipt string, tr protocol.Transfer) (evidence.Receipt, error) {
	r, err := k.OpenReceipt(receipt)
	if err != nil {
		return evidence.Receipt{}, err
	}
	item, ok := r.Item(receiptItemTransfer, tr.ID)
	if !ok {
		return evidence.Receipt{}, fmt.Errorf("%w: the receipt names no transfer %q", ErrReceiptMismatch, tr.ID)
	}
	if item.Timestamp != tr.Timestamp {
		return evidence.Receipt{}, fmt.Errorf("%w: %s has timestamp %d in the receipt, %d in the transfer",
			ErrReceiptMismatch, tr.ID, item.Timestamp, tr.Timestamp)
	}
	return r, nil
}

// TransferEvidence is a transfer proven into the evidence log: its receipt,
// and the signed checkpoint whose tree holds it.
type TransferEvidence struct {
	TransferID string
	Timestamp  uint64        // the transfer's, in nanoseconds
	LeafHash   evidence.Hash // the transfer's leaf in its batch's tree
	Leaf       []byte        // the byte 'T' and the transfer's 128-byte record
	LogIndex   uint64        // index of the batch's entry in the log
	EntryHash  evidence.Hash // its leaf hash
	LogSize    uint64        // size of the checkpoint the proof reaches
	Root       evidence.Hash // its root hash
	Checkpoint []byte        // the signed checkpoint
	Receipt    evidence.Receipt
}

// VerifyTransferProof verifies offline that p proves the transfer named
// transferID (tr_...) of the receipt into the log: the receipt's and the
// checkpoint's signatures, the leaf (its hash is the receipt's, its record
// has the transfer's id and timestamp), the batch entry (the receipt's),
// and the two-level path from the leaf to the checkpoint's root. It does
// not check the checkpoint against any other (the Client's monitor does).
// Errors wrap ErrReceipt, ErrReceiptMismatch, ErrCheckpoint or ErrProof.
func (k *LogKey) VerifyTransferProof(receipt, transferID string, p *protocol.TransferProof) (*TransferEvidence, error) {
	r, err := k.OpenReceipt(receipt)
	if err != nil {
		return nil, err
	}
	item, ok := r.Item(receiptItemTransfer, transferID)
	if !ok {
		return nil, fmt.Errorf("%w: the receipt names no transfer %q", ErrReceiptMismatch, transferID)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: no proof", ErrProof)
	}
	cp, err := k.OpenCheckpoint([]byte(p.Checkpoint))
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) (*TransferEvidence, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrProof, transferID, fmt.Sprintf(format, args...))
	}
	if p.TransferID != transferID {
		return bad("the proof is for %q", p.TransferID)
	}
	if cp.Size != p.LogSize {
		return bad("the proof reaches log size %d, its checkpoint has size %d", p.LogSize, cp.Size)
	}
	if len(p.Leaf) != transferLeafBytes || p.Leaf[0] != 'T' {
		return bad("the leaf is not a transfer leaf ('T' and 128 bytes)")
	}
	if got := protocol.PrefixTransfer + encodeID(p.Leaf[leafIDOffset:leafIDOffset+16]); got != transferID {
		return bad("the leaf's record is transfer %s", got)
	}
	if ts := binary.BigEndian.Uint64(p.Leaf[leafTimestampOffset:]); ts != item.Timestamp {
		return bad("the leaf's timestamp is %d, the receipt's %d", ts, item.Timestamp)
	}
	leafHash := evidence.LeafHash(p.Leaf)
	if leafHash != item.LeafHash {
		return bad("the leaf hash is %s, the receipt's %s", leafHash, item.LeafHash)
	}
	if p.LogIndex != r.LogIndex {
		return bad("the batch entry is log entry %d, the receipt's %d", p.LogIndex, r.LogIndex)
	}
	if h := evidence.LeafHash(p.BatchEntry); h != r.EntryHash {
		return bad("the batch entry hash is %s, the receipt's %s", h, r.EntryHash)
	}
	entryPath, err := toHashes(p.BatchPath)
	if err != nil {
		return bad("batch path: %v", err)
	}
	logPath, err := toHashes(p.LogPath)
	if err != nil {
		return bad("log path: %v", err)
	}
	bp := evidence.BatchProof{EntryIndex: p.BatchIndex, EntryPath: entryPath, BatchEntry: p.BatchEntry,
		LogIndex: p.LogIndex, LogSize: p.LogSize, LogPath: logPath}
	if err := bp.Verify(p.Leaf, cp.Root); err != nil {
		return bad("%v", err)
	}
	return &TransferEvidence{
		TransferID: transferID, Timestamp: item.Timestamp, LeafHash: leafHash, Leaf: p.Leaf,
		LogIndex: p.LogIndex, EntryHash: r.EntryHash, LogSize: cp.Size, Root: cp.Root,
		Checkpoint: []byte(p.Checkpoint), Receipt: r,
	}, nil
}

func toHashes(bs [][]byte) ([]evidence.Hash, error) {
	out := make([]evidence.Hash, len(bs))
	for i, b := range bs {
		if len(b) != len(evidence.Hash{}) {
			return nil, fmt.Errorf("hash %d has %d bytes, want %d", i, len(b), len(evidence.Hash{}))
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// encodeID returns the API text of a 16-byte id: 26 digits of Crockford
// base32, most significant first.
func encodeID(b []byte) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// logMonitor is a client's log key and monitor.
type logMonitor struct {
	key *LogKey
	mon *evidence.Monitor
	// sync serializes checkpoint updates, so a slow update does not see
	// its checkpoint overtaken (and refused as stale) by a concurrent one.
	sync sync.Mutex
}

// WithLogKey makes the client trust the evidence log with this verifier
// key (the text of GET /v1/log/key, pinned out of band) and monitor it;
// the log's origin is the key's name unless WithLogOrigin sets it. An
// invalid key makes the receipt and proof methods fail with ErrLogKey.
func WithLogKey(vkey string) Option { return func(c *Client) { c.logVKey = vkey } }

// WithLogOrigin sets the origin of the log WithLogKey trusts.
func WithLogOrigin(origin string) Option { return func(c *Client) { c.logOrigin = origin } }

// TrustLog makes the client trust and monitor the evidence log with this
// verifier key and origin ("" for the key's name), replacing any log key
// and forgetting the kept checkpoint (see RestoreMonitor).
func (c *Client) TrustLog(vkey, origin string) error {
	k, err := ParseLogKey(vkey, origin)
	c.logMu.Lock()
	defer c.logMu.Unlock()
	c.logVKey, c.logOrigin = vkey, origin
	if err != nil {
		c.log, c.logErr = nil, err
		return err
	}
	c.log, c.logErr = &logMonitor{key: k, mon: evidence.NewMonitor(k.origin, k.verifier)}, nil
	return nil
}

// initLog builds the monitor from the options.
func (c *Client) initLog() {
	if c.logVKey != "" {
		_ = c.TrustLog(c.logVKey, c.logOrigin)
	}
}

func (c *Client) logMonitor() (*logMonitor, error) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if c.logErr != nil {
		return nil, c.logErr
	}
	if c.log == nil {
		return nil, fmt.Errorf("%w: configure one with WithLogKey or TrustLog", ErrLogNotTrusted)
	}
	return c.log, nil
}

// TrustedLog returns the trusted log, or an error wrapping ErrLogNotTrusted
// or ErrLogKey.
func (c *Client) TrustedLog() (*LogKey, error) {
	m, err := c.logMonitor()
	if err != nil {
		return nil, err
	}
	return m.key, nil
}

// MonitorState returns the signed note of the largest checkpoint the
// monitor has verified, to persist and give RestoreMonitor on the next
// run; ok is false before the first checkpoint.
func (c *Client) MonitorState() (signed []byte, ok bool) {
	m, err := c.logMonitor()
	if err != nil {
		return nil, false
	}
	_, signed, ok = m.mon.Latest()
	return signed, ok
}

// MonitorLatest returns the largest checkpoint the monitor has verified;
// ok is false before the first.
func (c *Client) MonitorLatest() (cp evidence.Checkpoint, ok bool) {
	m, err := c.logMonitor()
	if err != nil {
		return evidence.Checkpoint{}, false
	}
	cp, _, ok = m.mon.Latest()
	return cp, ok
}

// RestoreMonitor makes a checkpoint persisted from MonitorState the one the
// monitor keeps, replacing any it has: later checkpoints must be
// consistent with it. Call it before the client sees any checkpoint.
// Errors wrap ErrCheckpoint (or ErrLogNotTrusted, ErrLogKey).
func (c *Client) RestoreMonitor(signed []byte) error {
	m, err := c.logMonitor()
	if err != nil {
		return err
	}
	if _, err := m.key.OpenCheckpoint(signed); err != nil {
		return err
	}
	mon := evidence.NewMonitor(m.key.origin, m.key.verifier)
	if _, err := mon.Update(signed, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	m.sync.Lock()
	defer m.sync.Unlock()
	m.mon = mon
	return nil
}

// SyncLog fetches the log's latest checkpoint and gives it to the monitor
// (ObserveCheckpoint).
func (c *Client) SyncLog(ctx context.Context) (evidence.Checkpoint, error) {
	if _, err := c.logMonitor(); err != nil {
		return evidence.Checkpoint{}, err
	}
	signed, err := c.LogCheckpoint(ctx)
	if err != nil {
		return evidence.Checkpoint{}, err
	}
	return c.ObserveCheckpoint(ctx, signed)
}

// ObserveCheckpoint verifies a signed checkpoint of the trusted log (from
// the server, a proof, a witness or another party) against the one the
// monitor keeps, fetching the consistency proof between them, and keeps
// it if it is larger. The first checkpoint is trusted on first use (see
// RestoreMonitor). A smaller checkpoint that is a prefix of the kept one
// is returned with no change. Errors wrap ErrCheckpoint, ErrLogFork (the
// checkpoint is not consistent with the kept one) or ErrLogRollback (a
// smaller checkpoint that is not a prefix of the kept one), or are the
// errors of fetching a proof; on error the kept checkpoint is unchanged.
func (c *Client) ObserveCheckpoint(ctx context.Context, signed []byte) (evidence.Checkpoint, error) {
	m, err := c.logMonitor()
	if err != nil {
		return evidence.Checkpoint{}, err
	}
	cp, err := m.key.OpenCheckpoint(signed)
	if err != nil {
		return evidence.Checkpoint{}, err
	}
	m.sync.Lock()
	defer m.sync.Unlock()
	old, _, ok := m.mon.Latest()
	if !ok || cp.Size == old.Size {
		return m.update(signed, nil)
	}
	if cp.Size > old.Size {
		var path []evidence.Hash
		if old.Size > 0 {
			p, err := c.LogConsistencyProof(ctx, old.Size, cp.Size)
			if err != nil {
				return evidence.Checkpoint{}, err
			}
			if path, err = toHashes(p.Hashes); err != nil {
				return evidence.Checkpoint{}, fmt.Errorf("%w: consistency proof %d to %d: %w", ErrLogFork, old.Size, cp.Size, err)
			}
		}
		return m.update(signed, path)
	}
	// Smaller: it must be a prefix of the kept tree.
	rollback := func(format string, args ...any) (evidence.Checkpoint, error) {
		return evidence.Checkpoint{}, fmt.Errorf("%w: %w: checkpoint of size %d with root %s, kept size %d with root %s: %s",
			ErrLogRollback, ErrLogFork, cp.Size, cp.Root, old.Size, old.Root, fmt.Sprintf(format, args...))
	}
	if cp.Size == 0 {
		if cp.Root != evidence.NewTree(nil).Root() {
			return rollback("an empty tree has another root")
		}
		return cp, nil
	}
	p, err := c.LogConsistencyProof(ctx, cp.Size, old.Size)
	if e, ok := AsError(err); ok && e.Status == http.StatusBadRequest {
		return rollback("the log cannot prove its kept size: %v", err)
	}
	if err != nil {
		return evidence.Checkpoint{}, err
	}
	path, err := toHashes(p.Hashes)
	if err == nil {
		err = evidence.VerifyConsistency(cp.Size, old.Size, path, cp.Root, old.Root)
	}
	if err != nil {
		return rollback("%v", err)
	}
	return cp, nil
}

// update calls the monitor's Update and types its errors.
func (m *logMonitor) update(signed []byte, path []evidence.Hash) (evidence.Checkpoint, error) {
	cp, err := m.mon.Update(signed, path)
	switch {
	case errors.Is(err, evidence.ErrFork):
		return evidence.Checkpoint{}, fmt.Errorf("%w: %w", ErrLogFork, err)
	case errors.Is(err, evidence.ErrStale): // not reached: updates are serialized
		return evidence.Checkpoint{}, fmt.Errorf("%w: %w", ErrLogRollback, err)
	case err != nil:
		return evidence.Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	return cp, nil
}

// VerifyReceipt verifies a receipt with the trusted log key and that it
// names the committed transfer tr (its id and timestamp); see
// LogKey.VerifyReceipt. It works offline.
func (c *Client) VerifyReceipt(receipt string, tr protocol.Transfer) (evidence.Receipt, error) {
	m, err := c.logMonitor()
	if err != nil {
		return evidence.Receipt{}, err
	}
	return m.key.VerifyReceipt(receipt, tr)
}

// TransferProof returns the proof of a committed transfer into the evidence
// log (GET /v1/transfers/{id}/proof, a read-role key), unverified. Until a
// signed checkpoint covers the transfer the error wraps ErrProofNotReady
// (and holds the API's 409 *Error).
func (c *Client) TransferProof(ctx context.Context, id string) (*protocol.TransferProof, error) {
	var out protocol.TransferProof
	if err := c.do(ctx, "transfer proof", http.MethodGet, "/v1/transfers/"+url.PathEscape(id)+"/proof", "", nil, &out); err != nil {
		if e, ok := AsError(err); ok && e.Body.Code == codeProofNotReady {
			return nil, fmt.Errorf("%w: %w", ErrProofNotReady, err)
		}
		return nil, err
	}
	return &out, nil
}

// ProveTransfer proves the transfer transferID (tr_...) of a receipt into
// the evidence log end to end: it verifies the receipt, fetches the
// transfer's proof, gives the proof's checkpoint to the monitor (which
// checks it is consistent with the largest checkpoint it has seen) and
// verifies the proof against the receipt and that checkpoint (see
// LogKey.VerifyTransferProof). Errors wrap ErrLogNotTrusted, ErrReceipt,
// ErrReceiptMismatch, ErrProofNotReady, ErrCheckpoint, ErrLogFork,
// ErrLogRollback or ErrProof, or are the API's.
func (c *Client) ProveTransfer(ctx context.Context, receipt, transferID string) (*TransferEvidence, error) {
	m, err := c.logMonitor()
	if err != nil {
		return nil, err
	}
	r, err := m.key.OpenReceipt(receipt)
	if err != nil {
		return nil, err
	}
	if _, ok := r.Item(receiptItemTransfer, transferID); !ok {
		return nil, fmt.Errorf("%w: the receipt names no transfer %q", ErrReceiptMismatch, transferID)
	}
	p, err := c.TransferProof(ctx, transferID)
	if err != nil {
		return nil, err
	}
	ev, err := m.key.VerifyTransferProof(receipt, transferID, p)
	if err != nil {
		return nil, err
	}
	if _, err := c.ObserveCheckpoint(ctx, ev.Checkpoint); err != nil {
		return nil, err
	}
	return ev, nil
}
