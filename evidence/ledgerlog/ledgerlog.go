// Package ledgerlog records the ledger engine's batches in the evidence
// log: it implements ledger.EvidenceLog on top of an [evidence.Log], and
// [evidence.TileReader] on top of a store's evidence reads, so the tiles
// of every batch are written in the batch's own store transaction.
//
// # One leaf per engine batch (two-level)
//
// Each engine batch that changed anything becomes exactly one log leaf: a
// "batch" entry ([evidence.KindBatch]; id "batch-<shard>-<seq>", the
// batch's shard and seq, ts the batch's largest timestamp) carrying the
// root and count of the batch's own RFC 6962 tree. That tree has one leaf
// per change, in this order: every asset created, every account created
// or changed (its final state in the batch), every transfer, every expiry,
// each list in the batch's order (ledger.Batch). A leaf's bytes are a
// one-byte tag and a fixed binary record, so a leaf costs one SHA-256 over
// at most 133 bytes and no JSON:
//
//	'T' (0x54) transfer: the 128-byte store.EncodeTransferRecord record
//	'A' (0x41) account:  the 132-byte store.EncodeAccount record
//	'X' (0x58) expiry:   pending id (16), timestamp (8, big-endian)
//	'S' (0x53) asset:    ledger (4), scale (1), timestamp (8), all
//	                     big-endian, then the code (1-16 ASCII bytes)
//
// These layouts never change; a new layout needs a new tag. The leaf hash
// is the RFC 6962 leaf hash of these bytes ([evidence.LeafHash]), so an
// [evidence.BatchProof] over them proves one transfer into the log.
// A batch that changed nothing (only idempotency outcomes) adds no leaf.
//
// # Storage
//
// The store keeps each tile and entry bundle under the path of its
// full-width version ([evidence.TilePath] and [evidence.EntryBundlePath]
// with width [evidence.TileWidth]); a batch upserts the fuller partial
// tile over the previous one. The log's size is stored with the files
// (ledger.EvidenceWrite.Size), so [Open] restores the log at exactly the
// last committed batch.
package ledgerlog

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// Leaf tags, the first byte of a batch-tree leaf.
const (
	TagTransfer byte = 'T'
	TagAccount  byte = 'A'
	TagExpiry   byte = 'X'
	TagAsset    byte = 'S'
)

// Reader is what this package needs from a store (store.Store has both).
type Reader interface {
	// EvidenceFile returns the stored file at path or an error wrapping
	// store.ErrNotFound.
	EvidenceFile(ctx context.Context, path string) ([]byte, error)
	// EvidenceSize returns the committed log size.
	EvidenceSize(ctx context.Context) (uint64, error)
}

// Tiles is an [evidence.TileReader] over a store's evidence files.
type Tiles struct{ R Reader }

var _ evidence.TileReader = Tiles{}

// TileKey is the store path of hash tile (level, index): its full-width path.
func TileKey(level, index uint64) string { return evidence.TilePath(level, index, evidence.TileWidth) }

// BundleKey is the store path of entry bundle index: its full-width path.
func BundleKey(index uint64) string { return evidence.EntryBundlePath(index, evidence.TileWidth) }

// ReadTile implements evidence.TileReader.
func (t Tiles) ReadTile(ctx context.Context, level, index uint64) ([]byte, error) {
	return t.read(ctx, TileKey(level, index))
}

// ReadEntryBundle implements evidence.TileReader.
func (t Tiles) ReadEntryBundle(ctx context.Context, index uint64) ([]byte, error) {
	return t.read(ctx, BundleKey(index))
}

func (t Tiles) read(ctx context.Context, path string) ([]byte, error) {
	b, err := t.R.EvidenceFile(ctx, path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("ledgerlog: %s: %w", path, evidence.ErrNotFound)
	}
	return b, err
}

// Options configures a Log.
type Options struct {
	// OnCommitted, when set, is called from the engine's commit goroutine
	// after each batch that added a leaf is durable, with the batch, the
	// log index of its leaf and the log's new size. It must not keep b or
	// its slices (the engine reuses them) and should return quickly.
	OnCommitted func(b *ledger.Batch, logIndex, size uint64)
}

// Log implements ledger.EvidenceLog. One engine uses it at a time: the
// engine calls Prepare and Committed in turn from its commit goroutine.
type Log struct {
	log  *evidence.Log
	opts Options

	mu      sync.Mutex
	pending *evidence.Pending
	err     error // sticky: set when a commit could not be installed

	// Reused from batch to batch.
	leaves []evidence.Hash
	roots  []evidence.Hash
	write  ledger.EvidenceWrite
	files  collector
}

var _ ledger.EvidenceLog = (*Log)(nil)

// New returns a Log appending to log, whose committed state must match the
// store's (a new log for an empty store, or one from [Open]).
func New(log *evidence.Log, opts Options) *Log {
	return &Log{log: log, opts: opts}
}

// Open restores the evidence log at the store's committed size and
// returns a Log appending to it.
func Open(ctx context.Context, r Reader, opts Options) (*Log, error) {
	size, err := r.EvidenceSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: open: %w", err)
	}
	var log *evidence.Log
	if size == 0 {
		log = evidence.NewLog()
	} else if log, err = evidence.OpenLog(ctx, Tiles{r}, size); err != nil {
		return nil, fmt.Errorf("ledgerlog: open at size %d: %w", size, err)
	}
	return New(log, opts), nil
}

// Evidence returns the underlying log (its committed size and root).
func (l *Log) Evidence() *evidence.Log { return l.log }

// Prepare implements ledger.EvidenceLog: it builds the batch's tree and
// entry, prepares the append and sets b.Evidence to the files to write.
func (l *Log) Prepare(b *ledger.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.Evidence = nil
	if l.err != nil {
		return l.err
	}
	if l.pending != nil {
		// The previous batch never reported Committed: its commit failed
		// (the engine stops) or two engines share this Log.
		return errors.New("ledgerlog: prepare: the previous batch is not committed")
	}
	if b.Events() == 0 {
		return nil
	}
	root, count := l.batchRoot(b)
	e := evidence.Entry{Kind: evidence.KindBatch, Batch: &evidence.BatchInfo{Root: root, Count: count}}
	e.ID = "batch-" + strconv.FormatUint(uint64(b.Shard), 10) + "-" + strconv.FormatUint(b.Seq, 10)
	e.Shard, e.Seq = b.Shard, b.Seq
	e.Time = time.Unix(0, int64(b.Timestamp)).UTC()
	entry, err := e.Marshal()
	if err != nil {
		return fmt.Errorf("ledgerlog: batch entry: %w", err)
	}
	p, err := l.log.Prepare([][]byte{entry})
	if err != nil {
		return fmt.Errorf("ledgerlog: prepare: %w", err)
	}
	l.files.files = l.files.files[:0]
	if err := p.Write(context.Background(), &l.files); err != nil {
		return fmt.Errorf("ledgerlog: prepare: %w", err)
	}
	l.write = ledger.EvidenceWrite{Size: p.Size(), Files: l.files.files}
	b.Evidence = &l.write
	l.pending = p
	return nil
}

// Committed implements ledger.EvidenceLog.
func (l *Log) Committed(b *ledger.Batch) {
	l.mu.Lock()
	p := l.pending
	l.pending = nil
	if p == nil {
		l.mu.Unlock()
		return
	}
	if err := l.log.Commit(p); err != nil {
		// Only a misuse (another appender on the evidence.Log) gets here.
		// The store holds the truth: the next Prepare fails, which stops
		// the engine, and a restart reopens the log from the store.
		l.err = fmt.Errorf("ledgerlog: commit batch %d of shard %d: %w", b.Seq, b.Shard, err)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	if l.opts.OnCommitted != nil {
		l.opts.OnCommitted(b, p.FirstIndex(), p.Size())
	}
}

// TransferLeaf appends the batch-tree leaf bytes of transfer r to dst.
func TransferLeaf(dst []byte, r *ledger.TransferRecord) []byte {
	var rec [store.TransferRecordSize]byte
	store.EncodeTransferRecord(rec[:], r)
	return append(append(dst, TagTransfer), rec[:]...)
}

// AccountLeaf appends the batch-tree leaf bytes of account a to dst.
func AccountLeaf(dst []byte, a *ledger.Account) []byte {
	var rec [store.AccountRecordSize]byte
	store.EncodeAccount(rec[:], a)
	return append(append(dst, TagAccount), rec[:]...)
}

// ExpiryLeaf appends the batch-tree leaf bytes of expiry e to dst.
func ExpiryLeaf(dst []byte, e *ledger.Expiry) []byte {
	dst = append(append(dst, TagExpiry), e.PendingID[:]...)
	return binary.BigEndian.AppendUint64(dst, e.Timestamp)
}

// AssetLeaf appends the batch-tree leaf bytes of asset a to dst.
func AssetLeaf(dst []byte, a *ledger.Asset) []byte {
	dst = append(dst, TagAsset)
	dst = binary.BigEndian.AppendUint32(dst, a.Ledger)
	dst = append(dst, a.Scale)
	dst = binary.BigEndian.AppendUint64(dst, a.Timestamp)
	return append(dst, a.Code...)
}

// BatchLeaves returns the leaves of b's batch tree, in tree order.
func BatchLeaves(b *ledger.Batch) [][]byte {
	out := make([][]byte, 0, b.Events())
	for i := range b.Assets {
		out = append(out, AssetLeaf(nil, &b.Assets[i]))
	}
	for i := range b.Accounts {
		out = append(out, AccountLeaf(nil, &b.Accounts[i]))
	}
	for i := range b.Transfers {
		out = append(out, TransferLeaf(nil, &b.Transfers[i]))
	}
	for i := range b.Expiries {
		out = append(out, ExpiryLeaf(nil, &b.Expiries[i]))
	}
	return out
}

// TransferIndex returns the batch-tree leaf index of b.Transfers[i].
func TransferIndex(b *ledger.Batch, i int) uint64 {
	return uint64(len(b.Assets) + len(b.Accounts) + i)
}

// collector is a TileWriter that gathers a Pending's writes as evidence
// files keyed by full-width path. The data are the Pending's own slices:
// the store copies them in the batch's transaction, before the Pending is
// committed or dropped.
type collector struct{ files []ledger.EvidenceFile }

func (c *collector) WriteTile(_ context.Context, level, index uint64, hashes []byte) error {
	c.files = append(c.files, ledger.EvidenceFile{Path: TileKey(level, index), Data: hashes})
	return nil
}

func (c *collector) WriteEntryBundle(_ context.Context, index uint64, _ int, bundle []byte) error {
	c.files = append(c.files, ledger.EvidenceFile{Path: BundleKey(index), Data: bundle})
	return nil
}

// chunkLeaves is how many leaves one worker hashes and reduces to their
// subtree root: a power of two, so chunks are perfect subtrees (the last
// one excepted) and their roots combine into the batch root.
const chunkLeaves = 1024

// batchRoot returns the root and leaf count of b's batch tree (the root
// evidence.BatchTree gives over BatchLeaves(b)) without keeping the tree:
// workers hash and reduce chunks of leaves in place, in parallel.
func (l *Log) batchRoot(b *ledger.Batch) (evidence.Hash, uint64) {
	n := b.Events()
	if cap(l.leaves) < n {
		l.leaves = make([]evidence.Hash, n)
	}
	leaves := l.leaves[:n]
	chunks := (n + chunkLeaves - 1) / chunkLeaves
	l.roots = slices.Grow(l.roots[:0], chunks)[:chunks]
	roots := l.roots
	work := func(c int) {
		lo, hi := c*chunkLeaves, min((c+1)*chunkLeaves, n)
		hashLeaves(leaves[lo:hi], b, lo)
		roots[c] = reduce(leaves[lo:hi])
	}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for c := range chunks {
			work(c)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for c := int(next.Add(1) - 1); c < chunks; c = int(next.Add(1) - 1) {
					work(c)
				}
			})
		}
		wg.Wait()
	}
	return reduce(roots), uint64(n)
}

// hashLeaves sets dst[i] to the leaf hash of tree leaf first+i of b.
func hashLeaves(dst []evidence.Hash, b *ledger.Batch, first int) {
	var buf [2 + store.AccountRecordSize]byte // 0x00 (RFC 6962 leaf prefix), tag, record
	nAssets, nAccounts, nTransfers := len(b.Assets), len(b.Accounts), len(b.Transfers)
	for i := range dst {
		j := first + i
		switch {
		case j < nAssets:
			dst[i] = sha256.Sum256(AssetLeaf(buf[:1], &b.Assets[j]))
		case j < nAssets+nAccounts:
			buf[1] = TagAccount
			store.EncodeAccount(buf[2:], &b.Accounts[j-nAssets])
			dst[i] = sha256.Sum256(buf[:2+store.AccountRecordSize])
		case j < nAssets+nAccounts+nTransfers:
			buf[1] = TagTransfer
			store.EncodeTransferRecord(buf[2:], &b.Transfers[j-nAssets-nAccounts])
			dst[i] = sha256.Sum256(buf[:2+store.TransferRecordSize])
		default:
			dst[i] = sha256.Sum256(ExpiryLeaf(buf[:1], &b.Expiries[j-nAssets-nAccounts-nTransfers]))
		}
	}
}

// reduce returns the RFC 6962 root over the node hashes h (len(h) >= 1),
// overwriting h: bottom-up, pairing neighbours and promoting a lone last
// node, which gives the same root as the recursive definition.
func reduce(h []evidence.Hash) evidence.Hash {
	var buf [1 + 2*evidence.HashSizeBytes]byte
	buf[0] = 1 // RFC 6962 node prefix
	for n := len(h); n > 1; {
		m := 0
		for i := 0; i+1 < n; i += 2 {
			copy(buf[1:], h[i][:])
			copy(buf[1+evidence.HashSizeBytes:], h[i+1][:])
			h[m] = sha256.Sum256(buf[:])
			m++
		}
		if n%2 == 1 {
			h[m] = h[n-1]
			m++
		}
		n = m
	}
	return h[0]
}
