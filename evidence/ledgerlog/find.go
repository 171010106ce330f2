package ledgerlog

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/ledger"
)

// Errors of this file; test with errors.Is.
var (
	// ErrNotLogged: no batch entry of the log covers the record (it is not
	// committed, or the log is younger than the record).
	ErrNotLogged = errors.New("ledgerlog: record not in the evidence log")
	// ErrNotCovered: the record's batch entry is past the given log size
	// (no checkpoint covers it yet).
	ErrNotCovered = errors.New("ledgerlog: record not covered by the checkpoint")
	// ErrDiverged: the records the store holds for a batch do not rebuild
	// the batch tree the log committed to.
	ErrDiverged = errors.New("ledgerlog: stored records differ from the evidence log")
)

// EventReader reads a shard's records by timestamp (store.Store has it).
type EventReader interface {
	// Events calls l with every asset, account, transfer and expiry of
	// shard whose timestamp is in [from, to]: assets, then accounts, then
	// transfers, then expiries, each in timestamp order (Position is not
	// called).
	Events(ctx context.Context, shard uint32, from, to uint64, l ledger.Loader) error
	// ListDocs calls fn with every doc of shard in [from, to], in
	// timestamp order.
	ListDocs(ctx context.Context, shard uint32, from, to uint64, fn func(ledger.Doc) error) error
}

// ProofStore is what proving a transfer needs (store.Store has it).
type ProofStore interface {
	Reader
	EventReader
	GetTransfer(ctx context.Context, id ledger.ID) (ledger.TransferRecord, error)
}

// recentBatch locates one committed batch entry.
type recentBatch struct {
	from, to uint64 // record timestamps
	index    uint64 // log index of the entry
	entry    evidence.Hash
}

// recentBatchesMax is how many batches Locate answers from memory.
const recentBatchesMax = 4096

// recentBatches is a ring of the last committed batches, in log order.
type recentBatches struct {
	ring  [recentBatchesMax]recentBatch
	start int // oldest
	n     int
}

func (r *recentBatches) add(b recentBatch) {
	if r.n < recentBatchesMax {
		r.ring[(r.start+r.n)%recentBatchesMax] = b
		r.n++
		return
	}
	r.ring[r.start] = b
	r.start = (r.start + 1) % recentBatchesMax
}

func (r *recentBatches) at(i int) *recentBatch { return &r.ring[(r.start+i)%recentBatchesMax] }

func (r *recentBatches) find(ts uint64) (recentBatch, bool) {
	i := sort.Search(r.n, func(i int) bool { return r.at(i).to >= ts })
	if i == r.n || r.at(i).from > ts {
		return recentBatch{}, false
	}
	return *r.at(i), true
}

// Locate returns the log index and entry hash of the batch entry of a
// record committed with timestamp ts, if that batch is among the last
// few thousand this Log committed.
func (l *Log) Locate(ts uint64) (index uint64, entry evidence.Hash, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.recent.find(ts)
	return b.index, b.entry, ok
}

// BatchEntry is a batch entry read back from the log.
type BatchEntry struct {
	Index uint64 // log index
	Bytes []byte // canonical entry bytes
	Entry *evidence.Entry
}

// readBatchEntry reads entry i and parses it; ok is false when it is not a
// batch entry with a timestamp range.
func readBatchEntry(ctx context.Context, r Reader, i uint64) (BatchEntry, bool, error) {
	b, err := evidence.ReadEntry(ctx, Tiles{r}, i)
	if err != nil {
		return BatchEntry{}, false, err
	}
	e, err := evidence.ParseEntry(b)
	if err != nil {
		return BatchEntry{}, false, fmt.Errorf("ledgerlog: entry %d: %w", i, err)
	}
	ok := e.Kind == evidence.KindBatch && e.Batch != nil && e.Batch.To != 0
	return BatchEntry{Index: i, Bytes: b, Entry: e}, ok, nil
}

// FindBatch returns the batch entry, among the first size entries of the
// log, whose timestamp range holds ts: a binary search over the entries
// (batch entries are in timestamp order; other kinds are stepped over).
// The error wraps ErrNotLogged when no batch holds ts.
func FindBatch(ctx context.Context, r Reader, shard uint32, ts, size uint64) (BatchEntry, error) {
	lo, hi := uint64(0), size // the answer is the first batch entry with To >= ts, in [lo, hi)
	var found *BatchEntry
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Step over entries of other kinds or shards.
		j := mid
		var be BatchEntry
		for ; j < hi; j++ {
			var ok bool
			var err error
			be, ok, err = readBatchEntry(ctx, r, j)
			if err != nil {
				return BatchEntry{}, err
			}
			if ok && be.Entry.Shard == shard {
				break
			}
		}
		if j == hi {
			hi = mid
			continue
		}
		if be.Entry.Batch.To >= ts {
			found = &be
			hi = mid
		} else {
			lo = j + 1
		}
	}
	if found == nil || found.Entry.Batch.From > ts {
		return BatchEntry{}, fmt.Errorf("%w: timestamp %d in shard %d", ErrNotLogged, ts, shard)
	}
	return *found, nil
}

// recordsLoader collects Events into Records.
type recordsLoader struct{ r *Records }

func (l recordsLoader) Position(uint64, uint64)          {}
func (l recordsLoader) Asset(a ledger.Asset)             { l.r.Assets = append(l.r.Assets, a) }
func (l recordsLoader) Account(a ledger.Account)         { l.r.Accounts = append(l.r.Accounts, a) }
func (l recordsLoader) Transfer(t ledger.TransferRecord) { l.r.Transfers = append(l.r.Transfers, t) }
func (l recordsLoader) Expiry(e ledger.Expiry)           { l.r.Expiries = append(l.r.Expiries, e) }

// Rebuild reads from the store the records of the batch entry e: those of
// its shard in its timestamp range.
func Rebuild(ctx context.Context, er EventReader, e *evidence.Entry) (*Records, error) {
	if e.Batch == nil || e.Batch.To == 0 {
		return nil, fmt.Errorf("ledgerlog: rebuild: entry %s has no timestamp range", e.ID)
	}
	r := &Records{}
	if err := er.Events(ctx, e.Shard, e.Batch.From, e.Batch.To, recordsLoader{r}); err != nil {
		return nil, fmt.Errorf("ledgerlog: rebuild %s: %w", e.ID, err)
	}
	if err := er.ListDocs(ctx, e.Shard, e.Batch.From, e.Batch.To, func(d ledger.Doc) error {
		r.Docs = append(r.Docs, d)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ledgerlog: rebuild %s: %w", e.ID, err)
	}
	return r, nil
}

// CheckBatch reports whether r rebuilds the batch tree of entry e; the
// error wraps ErrDiverged and says how they differ.
func CheckBatch(e *evidence.Entry, r *Records) error {
	if got := uint64(r.Count()); got != e.Batch.Count {
		return fmt.Errorf("%w: batch %s: the store holds %d records (%d assets, %d accounts, %d transfers, %d expiries, %d docs) in [%d, %d], the log committed to %d",
			ErrDiverged, e.ID, got, len(r.Assets), len(r.Accounts), len(r.Transfers), len(r.Expiries), len(r.Docs), e.Batch.From, e.Batch.To, e.Batch.Count)
	}
	if root := r.Tree().Root(); root != e.Batch.Root {
		return fmt.Errorf("%w: batch %s: the stored records hash to root %s, the log committed to %s",
			ErrDiverged, e.ID, root, e.Batch.Root)
	}
	return nil
}

// TransferProof is a two-level inclusion proof of one committed transfer.
type TransferProof struct {
	Record ledger.TransferRecord
	Leaf   []byte // batch-tree leaf bytes (TransferLeaf)
	Proof  evidence.BatchProof
}

// LeafProof is a two-level inclusion proof of one leaf of a batch tree.
type LeafProof struct {
	Leaf  []byte
	Proof evidence.BatchProof
}

// ProveLeaf proves the leaf that find picks among the records of the
// batch holding timestamp ts into the log at size; find returns the
// leaf's index in the batch tree and its bytes, or -1 when the records
// do not hold it (ErrDiverged).
func ProveLeaf(ctx context.Context, st ProofStore, shard uint32, ts, size uint64, find func(*Records) (int, []byte)) (*LeafProof, error) {
	logSize, err := st.EvidenceSize(ctx)
	if err != nil {
		return nil, err
	}
	be, err := FindBatch(ctx, st, shard, ts, logSize)
	if err != nil {
		return nil, err
	}
	if be.Index >= size {
		return nil, fmt.Errorf("%w: the record is in log entry %d, the checkpoint has %d entries", ErrNotCovered, be.Index, size)
	}
	recs, err := Rebuild(ctx, st, be.Entry)
	if err != nil {
		return nil, err
	}
	if err := CheckBatch(be.Entry, recs); err != nil {
		return nil, err
	}
	i, leaf := find(recs)
	if i < 0 {
		return nil, fmt.Errorf("%w: the record is not among those of batch %s", ErrDiverged, be.Entry.ID)
	}
	path, err := recs.Tree().InclusionProof(uint64(i))
	if err != nil {
		return nil, err
	}
	logPath, err := evidence.InclusionProof(ctx, Tiles{st}, be.Index, size)
	if err != nil {
		return nil, err
	}
	return &LeafProof{Leaf: leaf, Proof: evidence.BatchProof{
		EntryIndex: uint64(i), EntryPath: path, BatchEntry: be.Bytes,
		LogIndex: be.Index, LogSize: size, LogPath: logPath,
	}}, nil
}

// ProveTransfer proves transfer id into the log at size (a checkpoint's
// size). Errors wrap store.ErrNotFound (no such transfer), ErrNotCovered
// (its batch is past size), ErrNotLogged or ErrDiverged.
func ProveTransfer(ctx context.Context, st ProofStore, shard uint32, id ledger.ID, size uint64) (*TransferProof, error) {
	rec, err := st.GetTransfer(ctx, id)
	if err != nil {
		return nil, err
	}
	lp, err := ProveLeaf(ctx, st, shard, rec.Timestamp, size, func(r *Records) (int, []byte) {
		i := r.FindTransfer(id)
		if i < 0 || r.Transfers[i] != rec {
			return -1, nil
		}
		return int(r.TransferIndex(i)), TransferLeaf(nil, &r.Transfers[i])
	})
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: transfer %s: %w", id, err)
	}
	return &TransferProof{Record: rec, Leaf: lp.Leaf, Proof: lp.Proof}, nil
}

// ProveDoc proves the doc of kind and key committed at timestamp ts.
func ProveDoc(ctx context.Context, st ProofStore, shard uint32, kind, key string, ts, size uint64) (*LeafProof, error) {
	lp, err := ProveLeaf(ctx, st, shard, ts, size, func(r *Records) (int, []byte) {
		for i := range r.Docs {
			if d := &r.Docs[i]; d.Kind == kind && d.Key == key && d.Timestamp == ts {
				return int(r.DocIndex(i)), DocLeaf(nil, d)
			}
		}
		return -1, nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: doc %s/%s: %w", kind, key, err)
	}
	return lp, nil
}
