package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// Receipts: every response that carries committed transfers (POST
// /v1/transfers, POST /v1/transfers/batch, and their idempotent replays)
// gets a "receipt": the evidence log's signed note naming the batch entry
// that holds the transfers and each transfer's leaf hash
// (evidence.Receipt). It is built after the commit, off the engine's
// goroutines, from the store's records, so a replay or an existing
// transfer gets the same receipt (Ed25519 signatures are deterministic).

// receiptKind says which transfers a route's responses name.
type receiptKind uint8

const (
	receiptNone  receiptKind = iota
	receiptOne               // the body is a transfer
	receiptBatch             // the body is a protocol.BatchResponse
)

// receiptLookupsMax is how many transfers a receipt reads one by one; more
// are read by their timestamp range in one snapshot.
const receiptLookupsMax = 16

// withReceipt returns body with the receipt of the committed transfers it
// names; body unchanged when the server signs no receipts or the response
// names none.
func (s *Server) withReceipt(ctx context.Context, rt *route, status int, body []byte, known []ledger.TransferRecord) ([]byte, error) {
	if s.receiptSigner == nil || (status != http.StatusOK && status != http.StatusCreated) {
		return body, nil
	}
	recs := known // a fresh commit: the body names exactly these, in order
	if len(recs) == 0 {
		ids, err := transfersOf(rt, body)
		if err != nil || len(ids) == 0 {
			return body, err
		}
		if recs, err = s.transferRecords(ctx, ids); err != nil {
			return nil, err
		}
	}
	signed, err := s.signReceipt(ctx, recs)
	if err != nil {
		return nil, err
	}
	text, err := json.Marshal(string(signed))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(text)+16)
	out = append(out, body[:len(body)-1]...)
	out = append(out, `,"receipt":`...)
	out = append(out, text...)
	return append(out, '}'), nil
}

// knownRecords returns the records of the transfers of a fresh commit
// that committed (ResultOK), in request order (the order its response
// names them), built from the transfers as the engine filled them in and
// the fingerprints of the transfers as submitted (fps).
func knownRecords(ts []ledger.Transfer, fps []uint64, results []ledger.Result) []ledger.TransferRecord {
	var out []ledger.TransferRecord
	for i := range ts {
		if i < len(results) && results[i] == ledger.ResultOK {
			out = append(out, ledger.TransferRecord{Transfer: ts[i], Fingerprint: fps[i]})
		}
	}
	return out
}

// fingerprints returns the fingerprints of transfers as submitted.
func fingerprints(ts []ledger.Transfer) []uint64 {
	fps := make([]uint64, len(ts))
	for i := range ts {
		fps[i] = ledger.Fingerprint(&ts[i])
	}
	return fps
}

// committedTransfer is what transfersOf reads of a transfer in a body.
type committedTransfer struct {
	ID        string `json:"id"`
	Timestamp uint64 `json:"timestamp"`
}

// transfersOf returns the ids and timestamps (0 when the body has none, as
// for an existing transfer echoed as submitted) of the transfers a
// successful response body names.
func transfersOf(rt *route, body []byte) ([]committedTransfer, error) {
	switch rt.receipts {
	case receiptOne:
		var t committedTransfer
		if err := json.Unmarshal(body, &t); err != nil {
			return nil, fmt.Errorf("api: receipt: reading the response: %w", err)
		}
		return []committedTransfer{t}, nil
	case receiptBatch:
		var b struct {
			Results []struct {
				Transfer *committedTransfer `json:"transfer"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("api: receipt: reading the response: %w", err)
		}
		var out []committedTransfer
		for _, r := range b.Results {
			if r.Transfer != nil {
				out = append(out, *r.Transfer)
			}
		}
		return out, nil
	}
	return nil, nil
}

// transferRecords reads the committed records of the transfers a
// response names (a replay, or an existing transfer echoed).
func (s *Server) transferRecords(ctx context.Context, ts []committedTransfer) ([]ledger.TransferRecord, error) {
	ids := make([]ledger.ID, len(ts))
	for i, t := range ts {
		id, ok := parsePrefixedID(t.ID, protocol.PrefixTransfer)
		if !ok {
			return nil, fmt.Errorf("api: receipt: transfer id %q in a response", t.ID)
		}
		ids[i] = id
	}
	if len(ts) <= receiptLookupsMax || slices.ContainsFunc(ts, func(t committedTransfer) bool { return t.Timestamp == 0 }) {
		out := make([]ledger.TransferRecord, len(ids))
		for i, id := range ids {
			r, err := s.store.GetTransfer(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("api: receipt: transfer %s: %w", ts[i].ID, err)
			}
			out[i] = r
		}
		return out, nil
	}
	lo, hi := ts[0].Timestamp, ts[0].Timestamp
	for _, t := range ts {
		lo, hi = min(lo, t.Timestamp), max(hi, t.Timestamp)
	}
	var got transferCollector
	if err := s.store.Events(ctx, s.engine.State().Shard(), lo, hi, &got); err != nil {
		return nil, fmt.Errorf("api: receipt: %w", err)
	}
	byID := make(map[ledger.ID]ledger.TransferRecord, len(got))
	for _, r := range got {
		byID[r.ID] = r
	}
	out := make([]ledger.TransferRecord, len(ids))
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("api: receipt: transfer %s not in [%d, %d]", ts[i].ID, lo, hi)
		}
		out[i] = r
	}
	return out, nil
}

type transferCollector []ledger.TransferRecord

func (transferCollector) Position(uint64, uint64)             {}
func (transferCollector) Asset(ledger.Asset)                  {}
func (transferCollector) Account(ledger.Account)              {}
func (c *transferCollector) Transfer(t ledger.TransferRecord) { *c = append(*c, t) }
func (transferCollector) Expiry(ledger.Expiry)                {}

// signReceipt signs the receipt of transfers committed in one batch.
func (s *Server) signReceipt(ctx context.Context, recs []ledger.TransferRecord) ([]byte, error) {
	return s.signCommitted(ctx, recs, nil)
}

// signCommitted signs the receipt of transfers and docs committed by one
// request (so in one batch): transfer items, then "doc" items named
// "<kind>/<key>".
func (s *Server) signCommitted(ctx context.Context, recs []ledger.TransferRecord, docs []ledger.Doc) ([]byte, error) {
	var ts uint64
	switch {
	case len(recs) > 0:
		ts = recs[0].Timestamp
	case len(docs) > 0:
		ts = docs[0].Timestamp
	default:
		return nil, errors.New("api: receipt of nothing")
	}
	index, entry, ok := uint64(0), evidence.Hash{}, false
	if s.evidence != nil {
		index, entry, ok = s.evidence.Locate(ts)
	}
	if !ok {
		size, err := s.store.EvidenceSize(ctx)
		if err != nil {
			return nil, fmt.Errorf("api: receipt: %w", err)
		}
		be, err := ledgerlog.FindBatch(ctx, s.store, s.engine.State().Shard(), ts, size)
		if err != nil {
			return nil, fmt.Errorf("api: receipt: %w", err)
		}
		index, entry = be.Index, evidence.LeafHash(be.Bytes)
	}
	r := evidence.Receipt{Origin: s.receiptSigner.Name(), LogIndex: index, EntryHash: entry,
		Items: make([]evidence.ReceiptItem, 0, len(recs)+len(docs))}
	for i := range recs {
		r.Items = append(r.Items, evidence.ReceiptItem{Type: "transfer", ID: prefixed(protocol.PrefixTransfer, recs[i].ID),
			Timestamp: recs[i].Timestamp, LeafHash: ledgerlog.TransferLeafHash(&recs[i])})
	}
	for i := range docs {
		r.Items = append(r.Items, evidence.ReceiptItem{Type: "doc", ID: docs[i].Kind + "/" + docs[i].Key,
			Timestamp: docs[i].Timestamp, LeafHash: ledgerlog.DocLeafHash(&docs[i])})
	}
	return evidence.SignReceipt(r, s.receiptSigner)
}

// getTransferProof serves GET /v1/transfers/{id}/proof.
func (s *Server) getTransferProof(c *call) error {
	id, err := pathID(c.r, protocol.PrefixTransfer)
	if err != nil {
		return err
	}
	size, cp, err := s.latestCheckpoint(c)
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	p, err := ledgerlog.ProveTransfer(ctx, s.store, s.engine.State().Shard(), id, size)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newError(protocol.ErrorNotFound, codeTransferNotFound, "id", "no transfer %s", prefixed(protocol.PrefixTransfer, id))
	case errors.Is(err, ledgerlog.ErrNotCovered):
		c.w.Header().Set("Retry-After", "1")
		return newError(protocol.ErrorConflict, codeProofNotReady, "id",
			"transfer %s is not yet covered by a signed checkpoint (latest size %d); retry after the next checkpoint",
			prefixed(protocol.PrefixTransfer, id), size)
	case err != nil:
		return fmt.Errorf("api: proving transfer %s: %w", id, err)
	}
	return c.sendValue(http.StatusOK, protocol.TransferProof{
		TransferID: prefixed(protocol.PrefixTransfer, id),
		Leaf:       p.Leaf,
		BatchEntry: p.Proof.BatchEntry,
		BatchIndex: p.Proof.EntryIndex,
		BatchPath:  evidence.ProofBytes(p.Proof.EntryPath),
		LogIndex:   p.Proof.LogIndex,
		LogSize:    p.Proof.LogSize,
		LogPath:    evidence.ProofBytes(p.Proof.LogPath),
		Checkpoint: string(cp),
	})
}

// getDocProof serves GET /v1/log/proof/doc?kind=&key=&timestamp=: the
// two-level proof of a doc (a payment, a mandate, an approval) named by
// a receipt, at the latest checkpoint.
func (s *Server) getDocProof(c *call) error {
	if err := checkQuery(c.r, []string{"kind", "key", "timestamp"}); err != nil {
		return err
	}
	q := c.r.URL.Query()
	kind, key := q.Get("kind"), q.Get("key")
	if (&ledger.Doc{Kind: kind, Key: key}).Validate() != nil {
		return invalid(codeInvalidDoc, "key", "kind and key must name a doc (kind [a-z_]{1,32}, key 1-128 of [A-Za-z0-9_.:/+=-])")
	}
	ts, err := logSizeParam(c, "timestamp")
	if err != nil {
		return err
	}
	size, cp, err := s.latestCheckpoint(c)
	if err != nil {
		return err
	}
	p, err := ledgerlog.ProveDoc(c.r.Context(), s.store, s.engine.State().Shard(), kind, key, ts, size)
	switch {
	case errors.Is(err, ledgerlog.ErrNotCovered):
		c.w.Header().Set("Retry-After", "1")
		return newError(protocol.ErrorConflict, codeProofNotReady, "key",
			"doc %s/%s is not yet covered by a signed checkpoint (latest size %d); retry after the next checkpoint", kind, key, size)
	case errors.Is(err, ledgerlog.ErrNotLogged) || errors.Is(err, ledgerlog.ErrDiverged):
		return newError(protocol.ErrorNotFound, codeDocNotFound, "key", "no doc %s/%s at timestamp %d", kind, key, ts)
	case err != nil:
		return fmt.Errorf("api: proving doc %s/%s: %w", kind, key, err)
	}
	return c.sendValue(http.StatusOK, protocol.DocProof{
		Kind: kind, Key: key, Timestamp: ts,
		Leaf:       p.Leaf,
		BatchEntry: p.Proof.BatchEntry,
		BatchIndex: p.Proof.EntryIndex,
		BatchPath:  evidence.ProofBytes(p.Proof.EntryPath),
		LogIndex:   p.Proof.LogIndex,
		LogSize:    p.Proof.LogSize,
		LogPath:    evidence.ProofBytes(p.Proof.LogPath),
		Checkpoint: string(cp),
	})
}
