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
// root and count of the batch's own RFC 6962 tree and the first and last
// timestamps of its records. That tree has one leaf per record the batch
// created, in this order: every asset, every account (as created: zero
// balances, not closed), every transfer, every expiry, each list in
// timestamp order. Every one of these records is kept by the store with
// its timestamp, and nothing else is in the tree, so the tree of any batch
// can be rebuilt from the store ([Rebuild]) to prove one transfer or to
// audit the whole ledger; balances are not leaves because they follow from
// the transfers. A leaf's bytes are a one-byte tag and a fixed binary
// record, so a leaf costs one SHA-256 over at most 133 bytes and no JSON:
//
//	'T' (0x54) transfer: the 128-byte store.EncodeTransferRecord record
//	'A' (0x41) account:  the 132-byte store.EncodeAccount record of the
//	                     account as created
//	'X' (0x58) expiry:   pending id (16), timestamp (8, big-endian)
//	'S' (0x53) asset:    ledger (4), scale (1), timestamp (8), all
//	                     big-endian, then the code (1-16 ASCII bytes)
//	'D' (0x44) doc:      kind length (1), kind, key length (1), key,
//	                     timestamp (8, big-endian), SHA-256 of the body (32)
//
// Docs (ledger.Doc: mandates, agent keys, approvals, risk decisions) come
// last in the tree, in timestamp order; the log holds their body's hash,
// never the body, so it carries no personal data and the store keeps the
// bytes it proves.
//
// These layouts never change; a new layout needs a new tag. The leaf hash
// is the RFC 6962 leaf hash of these bytes ([evidence.LeafHash]), so an
// [evidence.BatchProof] over them proves one transfer into the log.
// A batch that created nothing (only idempotency outcomes) adds no leaf.
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
	"cmp"
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
	TagDoc      byte = 'D'
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
	// after each batch that added a leaf is durable, with the records of
	// its batch tree, the log index of its leaf and the log's new size. It
	// must not keep r's slices (they alias the engine's batch, which the
	// engine reuses) and should return quickly.
	OnCommitted func(r *Records, logIndex, size uint64)
}

// Log implements ledger.EvidenceLog. One engine uses it at a time: the
// engine calls Prepare and Committed in turn from its commit goroutine.
type Log struct {
	log  *evidence.Log
	opts Options

	mu      sync.Mutex
	pending *evidence.Pending
	err     error // sticky: set when a commit could not be installed
	// lastTS is the last record timestamp of the last committed batch
	// entry: accounts of a batch with a later timestamp were created by it.
	lastTS uint64
	next   recentBatch // the pending batch's
	recent recentBatches

	// Reused from batch to batch.
	leaves  []evidence.Hash
	roots   []evidence.Hash
	created []int32 // positions in b.Accounts of the accounts b created
	write   ledger.EvidenceWrite
	files   collector
}

var _ ledger.EvidenceLog = (*Log)(nil)

// New returns a Log appending to a new, empty log (for an empty store);
// [Open] restores one from a store.
func New(opts Options) *Log {
	return &Log{log: evidence.NewLog(), opts: opts}
}

// Open restores the evidence log at the store's committed size and
// returns a Log appending to it.
func Open(ctx context.Context, r Reader, opts Options) (*Log, error) {
	size, err := r.EvidenceSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: open: %w", err)
	}
	if size == 0 {
		return New(opts), nil
	}
	log, err := evidence.OpenLog(ctx, Tiles{r}, size)
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: open at size %d: %w", size, err)
	}
	last, err := evidence.ReadEntry(ctx, Tiles{r}, size-1)
	if err != nil {
		return nil, fmt.Errorf("ledgerlog: open: last entry: %w", err)
	}
	e, err := evidence.ParseEntry(last)
	if err != nil || e.Batch == nil || e.Batch.To == 0 {
		return nil, fmt.Errorf("ledgerlog: open: last entry %d is not a batch entry with a timestamp range (%v)", size-1, err)
	}
	return &Log{log: log, opts: opts, lastTS: e.Batch.To}, nil
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
	l.createdAccounts(b)
	if len(b.Assets)+len(l.created)+len(b.Transfers)+len(b.Expiries)+len(b.Docs) == 0 {
		return nil
	}
	root, count := l.batchRoot(b)
	from, to := l.timestampRange(b)
	e := evidence.Entry{Kind: evidence.KindBatch, Batch: &evidence.BatchInfo{Root: root, Count: count, From: from, To: to}}
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
	l.next = recentBatch{from: from, to: to, index: p.FirstIndex(), entry: evidence.LeafHash(entry)}
	return nil
}

// createdAccounts sets l.created to the positions in b.Accounts of the
// accounts b created, in timestamp order.
func (l *Log) createdAccounts(b *ledger.Batch) {
	l.created = l.created[:0]
	for i := range b.Accounts {
		if b.Accounts[i].Timestamp > l.lastTS {
			l.created = append(l.created, int32(i))
		}
	}
	byTS := func(x, y int32) int { return cmp.Compare(b.Accounts[x].Timestamp, b.Accounts[y].Timestamp) }
	if !slices.IsSortedFunc(l.created, byTS) {
		slices.SortFunc(l.created, byTS)
	}
}

// timestampRange returns the first and last timestamps of b's records.
func (l *Log) timestampRange(b *ledger.Batch) (from, to uint64) {
	from = ^uint64(0)
	see := func(first, last uint64) {
		from, to = min(from, first), max(to, last)
	}
	if n := len(b.Assets); n > 0 {
		see(b.Assets[0].Timestamp, b.Assets[n-1].Timestamp)
	}
	if n := len(l.created); n > 0 {
		see(b.Accounts[l.created[0]].Timestamp, b.Accounts[l.created[n-1]].Timestamp)
	}
	if n := len(b.Transfers); n > 0 {
		see(b.Transfers[0].Timestamp, b.Transfers[n-1].Timestamp)
	}
	if n := len(b.Expiries); n > 0 {
		see(b.Expiries[0].Timestamp, b.Expiries[n-1].Timestamp)
	}
	if n := len(b.Docs); n > 0 {
		see(b.Docs[0].Timestamp, b.Docs[n-1].Timestamp)
	}
	return from, to
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
	var recs *Records
	if l.opts.OnCommitted != nil {
		recs = BatchRecords(b, l.lastTS)
	}
	l.lastTS = l.next.to
	l.recent.add(l.next)
	l.mu.Unlock()
	if recs != nil {
		l.opts.OnCommitted(recs, p.FirstIndex(), p.Size())
	}
}

// TransferLeaf appends the batch-tree leaf bytes of transfer r to dst.
func TransferLeaf(dst []byte, r *ledger.TransferRecord) []byte {
	var rec [store.TransferRecordSize]byte
	store.EncodeTransferRecord(rec[:], r)
	return append(append(dst, TagTransfer), rec[:]...)
}

// TransferLeafHash returns the batch-tree leaf hash of transfer r: the
// entry hash a receipt for r carries.
func TransferLeafHash(r *ledger.TransferRecord) evidence.Hash {
	var buf [2 + store.TransferRecordSize]byte
	buf[1] = TagTransfer
	store.EncodeTransferRecord(buf[2:], r)
	return sha256.Sum256(buf[:])
}

// AsCreated returns account a as it was created: zero balances and not
// closed (closing is the effect of a transfer). Its other fields never
// change.
func AsCreated(a ledger.Account) ledger.Account {
	a.DebitsPending, a.DebitsPosted = ledger.Uint128{}, ledger.Uint128{}
	a.CreditsPending, a.CreditsPosted = ledger.Uint128{}, ledger.Uint128{}
	a.Flags &^= ledger.AccountClosed
	return a
}

// AccountLeaf appends the batch-tree leaf bytes of account a, as created
// (see AsCreated), to dst.
func AccountLeaf(dst []byte, a *ledger.Account) []byte {
	var rec [store.AccountRecordSize]byte
	c := AsCreated(*a)
	store.EncodeAccount(rec[:], &c)
	return append(append(dst, TagAccount), rec[:]...)
}

// ExpiryLeaf appends the batch-tree leaf bytes of expiry e to dst.
func ExpiryLeaf(dst []byte, e *ledger.Expiry) []byte {
	dst = append(append(dst, TagExpiry), e.PendingID[:]...)
	return binary.BigEndian.AppendUint64(dst, e.Timestamp)
}

// DocLeaf appends the batch-tree leaf bytes of doc d to dst.
func DocLeaf(dst []byte, d *ledger.Doc) []byte {
	return appendDocLeaf(dst, d, sha256.Sum256(d.Body))
}

func appendDocLeaf(dst []byte, d *ledger.Doc, bodyHash evidence.Hash) []byte {
	dst = append(dst, TagDoc, byte(len(d.Kind)))
	dst = append(dst, d.Kind...)
	dst = append(dst, byte(len(d.Key)))
	dst = append(dst, d.Key...)
	dst = binary.BigEndian.AppendUint64(dst, d.Timestamp)
	return append(dst, bodyHash[:]...)
}

// AssetLeaf appends the batch-tree leaf bytes of asset a to dst.
func AssetLeaf(dst []byte, a *ledger.Asset) []byte {
	dst = append(dst, TagAsset)
	dst = binary.BigEndian.AppendUint32(dst, a.Ledger)
	dst = append(dst, a.Scale)
	dst = binary.BigEndian.AppendUint64(dst, a.Timestamp)
	return append(dst, a.Code...)
}

// Records are the records of one batch tree, each list in timestamp
// order: what a batch created, as the engine committed it or as read back
// from the store ([Rebuild]). Accounts may carry later balances and the
// closed flag; their leaves use the form as created.
type Records struct {
	Assets    []ledger.Asset
	Accounts  []ledger.Account
	Transfers []ledger.TransferRecord
	Expiries  []ledger.Expiry
	Docs      []ledger.Doc
}

// Count returns the number of leaves.
func (r *Records) Count() int {
	return len(r.Assets) + len(r.Accounts) + len(r.Transfers) + len(r.Expiries) + len(r.Docs)
}

// Leaves returns the leaf bytes of the batch tree, in tree order.
func (r *Records) Leaves() [][]byte {
	out := make([][]byte, 0, r.Count())
	for i := range r.Assets {
		out = append(out, AssetLeaf(nil, &r.Assets[i]))
	}
	for i := range r.Accounts {
		out = append(out, AccountLeaf(nil, &r.Accounts[i]))
	}
	for i := range r.Transfers {
		out = append(out, TransferLeaf(nil, &r.Transfers[i]))
	}
	for i := range r.Expiries {
		out = append(out, ExpiryLeaf(nil, &r.Expiries[i]))
	}
	for i := range r.Docs {
		out = append(out, DocLeaf(nil, &r.Docs[i]))
	}
	return out
}

// Tree returns the batch tree.
func (r *Records) Tree() *evidence.Tree { return evidence.BatchTree(r.Leaves()) }

// TransferIndex returns the batch-tree leaf index of r.Transfers[i].
func (r *Records) TransferIndex(i int) uint64 {
	return uint64(len(r.Assets) + len(r.Accounts) + i)
}

// DocIndex returns the batch-tree leaf index of r.Docs[i].
func (r *Records) DocIndex(i int) uint64 {
	return uint64(len(r.Assets) + len(r.Accounts) + len(r.Transfers) + len(r.Expiries) + i)
}

// DocLeafHash returns the batch-tree leaf hash of doc d: the entry hash a
// receipt for it carries.
func DocLeafHash(d *ledger.Doc) evidence.Hash { return evidence.LeafHash(DocLeaf(nil, d)) }

// FindTransfer returns the position in r.Transfers of the transfer with
// id, or -1.
func (r *Records) FindTransfer(id ledger.ID) int {
	for i := range r.Transfers {
		if r.Transfers[i].ID == id {
			return i
		}
	}
	return -1
}

// BatchRecords returns the records of b's batch tree given the last
// record timestamp of the batch logged before it (accounts of b with a
// later timestamp are the ones b created). The slices alias b's.
func BatchRecords(b *ledger.Batch, lastTS uint64) *Records {
	r := &Records{Assets: b.Assets, Transfers: b.Transfers, Expiries: b.Expiries, Docs: b.Docs}
	for i := range b.Accounts {
		if b.Accounts[i].Timestamp > lastTS {
			r.Accounts = append(r.Accounts, b.Accounts[i])
		}
	}
	slices.SortStableFunc(r.Accounts, func(x, y ledger.Account) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
	return r
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
// BatchRecords(b, l.lastTS).Tree() gives) without keeping the tree:
// chunks of leaves are hashed and reduced in place, in parallel. The
// calling goroutine (the engine's committer, the one serial step of every
// commit) hashes chunks itself and waits only for a chunk a helper has
// taken: on a busy machine a helper may start long after it is asked to,
// and the commit does not wait for it to start.
func (l *Log) batchRoot(b *ledger.Batch) (evidence.Hash, uint64) {
	n := len(b.Assets) + len(l.created) + len(b.Transfers) + len(b.Expiries) + len(b.Docs)
	if cap(l.leaves) < n {
		l.leaves = make([]evidence.Hash, n)
	}
	leaves := l.leaves[:n]
	chunks := (n + chunkLeaves - 1) / chunkLeaves
	l.roots = slices.Grow(l.roots[:0], chunks)[:chunks]
	roots := l.roots
	var next, left atomic.Int64
	left.Store(int64(chunks))
	finished := make(chan struct{})
	// hash hashes chunks until none is left to take; whoever hashes the
	// last one closes finished.
	hash := func() {
		for c := int(next.Add(1) - 1); c < chunks; c = int(next.Add(1) - 1) {
			lo, hi := c*chunkLeaves, min((c+1)*chunkLeaves, n)
			l.hashLeaves(leaves[lo:hi], b, lo)
			roots[c] = reduce(leaves[lo:hi])
			if left.Add(-1) == 0 {
				close(finished)
			}
		}
	}
	for range min(runtime.GOMAXPROCS(0), chunks) - 1 {
		go hash()
	}
	hash()
	<-finished
	return reduce(roots), uint64(n)
}

// hashLeaves sets dst[i] to the leaf hash of tree leaf first+i of b.
func (l *Log) hashLeaves(dst []evidence.Hash, b *ledger.Batch, first int) {
	var buf [2 + store.AccountRecordSize + 2*256]byte // 0x00 (RFC 6962 leaf prefix), tag, record
	nAssets, nAccounts, nTransfers, nExpiries := len(b.Assets), len(l.created), len(b.Transfers), len(b.Expiries)
	for i := range dst {
		j := first + i
		switch {
		case j < nAssets:
			dst[i] = sha256.Sum256(AssetLeaf(buf[:1], &b.Assets[j]))
		case j < nAssets+nAccounts:
			buf[1] = TagAccount
			a := AsCreated(b.Accounts[l.created[j-nAssets]])
			store.EncodeAccount(buf[2:], &a)
			dst[i] = sha256.Sum256(buf[:2+store.AccountRecordSize])
		case j < nAssets+nAccounts+nTransfers:
			buf[1] = TagTransfer
			store.EncodeTransferRecord(buf[2:], &b.Transfers[j-nAssets-nAccounts])
			dst[i] = sha256.Sum256(buf[:2+store.TransferRecordSize])
		case j < nAssets+nAccounts+nTransfers+nExpiries:
			dst[i] = sha256.Sum256(ExpiryLeaf(buf[:1], &b.Expiries[j-nAssets-nAccounts-nTransfers]))
		default:
			k := j - nAssets - nAccounts - nTransfers - nExpiries
			if k < len(b.DocHashes) && b.DocHashes[k] != ([32]byte{}) {
				// The body was hashed by its submitter (Batch.DocHashes).
				dst[i] = sha256.Sum256(appendDocLeaf(buf[:1], &b.Docs[k], b.DocHashes[k]))
			} else {
				dst[i] = sha256.Sum256(DocLeaf(buf[:1], &b.Docs[k]))
			}
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
