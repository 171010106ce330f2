// Package audit checks a ledger against its evidence log without trusting
// the operator: it recomputes the log's tree from the entries, checks
// every signed checkpoint against it (signature, root, consistency with
// the one before), rebuilds every batch's tree from the ledger's stored
// records and checks it against the root the log committed to, checks
// that no stored record is outside the log, and replays the logged
// records to check every stored balance. It stops at the first
// divergence, in log order, and says where it is.
//
// A Source gives it the data: a data directory's store (StoreSource) or a
// running server's API (HTTPSource).
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
)

// Source is what an audit reads.
type Source interface {
	// TileReader reads the log's entry bundles and hash tiles.
	evidence.TileReader
	// Size returns the number of log entries to audit.
	Size(ctx context.Context) (uint64, error)
	// Checkpoints returns every stored signed checkpoint (with the size
	// it is stored under), in increasing size.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// BatchLeaves returns the leaf bytes of the batch tree of log entry
	// index (e), rebuilt from the ledger's stored records.
	BatchLeaves(ctx context.Context, index uint64, e *evidence.Entry) ([][]byte, error)
	// Accounts calls fn with every stored account, balances included.
	Accounts(ctx context.Context, fn func(ledger.Account) error) error
}

// Lister is implemented by sources that can stream every stored record
// (a store): the audit then checks that each one is in a logged batch.
type Lister interface {
	Records(ctx context.Context, shard uint32, l ledger.Loader) error
	Docs(ctx context.Context, shard uint32, fn func(ledger.Doc) error) error
}

// Checkpoint is a stored signed checkpoint.
type Checkpoint struct {
	Size uint64 // the size it is stored under
	Note []byte
}

// Options configures Run.
type Options struct {
	// Origin and Verifier check the checkpoints (the log's key, pinned by
	// the auditor).
	Origin   string
	Verifier note.Verifier
	// Shard is the ledger shard the log records (0 today).
	Shard uint32
}

// Divergence is the first place where the ledger and its log disagree.
type Divergence struct {
	Where string // e.g. "log entry 12 (batch-0-13)", "checkpoint at size 40", "account 01J..."
	What  string
}

func (d *Divergence) Error() string { return d.Where + ": " + d.What }

// Report is what an audit found.
type Report struct {
	Size        uint64 // log entries audited
	Checkpoints int    // signed checkpoints checked
	Latest      uint64 // size of the latest checkpoint
	Batches     int
	Assets      int
	Accounts    int // accounts created in the log
	Transfers   int
	Expiries    int
	Docs        int
	Pending     int // pending transfers still active
	Stored      int // stored accounts compared
	Listed      bool
	Divergence  *Divergence // nil when the ledger matches its log
}

// auditor is one run's state.
type auditor struct {
	ctx    context.Context
	src    Source
	opts   Options
	rep    *Report
	replay *ledger.Replay
	ranges [][2]uint64 // record timestamp ranges of the batches, in order
	lastTo uint64
}

// Run audits src. It returns an error when the source cannot be read; a
// ledger that does not match its log is a Report with a Divergence.
func Run(ctx context.Context, src Source, opts Options) (*Report, error) {
	if opts.Verifier == nil || opts.Origin == "" {
		return nil, errors.New("audit: the log's origin and verifier key are required")
	}
	a := &auditor{ctx: ctx, src: src, opts: opts, rep: &Report{}, replay: ledger.NewReplay()}
	d, err := a.run()
	if err != nil {
		return nil, err
	}
	a.rep.Divergence = d
	return a.rep, nil
}

func diverged(where, format string, args ...any) *Divergence {
	return &Divergence{Where: where, What: fmt.Sprintf(format, args...)}
}

func (a *auditor) run() (*Divergence, error) {
	size, err := a.src.Size(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: log size: %w", err)
	}
	a.rep.Size = size
	cps, err := a.src.Checkpoints(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoints: %w", err)
	}
	// Every checkpoint must be validly signed for the size it is stored
	// under and within the log.
	opened := make([]evidence.Checkpoint, len(cps))
	for i, c := range cps {
		where := fmt.Sprintf("checkpoint stored at size %d", c.Size)
		cp, _, err := evidence.OpenCheckpoint(c.Note, a.opts.Origin, a.opts.Verifier)
		switch {
		case err != nil:
			return diverged(where, "not a checkpoint of %s signed by its key: %v", a.opts.Origin, err), nil
		case cp.Size != c.Size:
			return diverged(where, "the signed checkpoint is for size %d", cp.Size), nil
		case cp.Size > size:
			return diverged(where, "the log has only %d entries: entries a signed checkpoint covers are missing", size), nil
		case i > 0 && cp.Size <= cps[i-1].Size:
			return diverged(where, "checkpoints are not in increasing size order"), nil
		}
		opened[i] = cp
	}
	a.rep.Checkpoints = len(cps)
	if n := len(cps); n > 0 {
		a.rep.Latest = cps[n-1].Size
	}

	// Walk the entries in order: the tree grows from them alone; each
	// checkpoint is checked when the tree reaches its size, each batch
	// when its entry is read.
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	next := 0 // next checkpoint to check
	var prev *evidence.Checkpoint
	check := func() *Divergence {
		for next < len(opened) && opened[next].Size == tree.End() {
			cp := opened[next]
			root := emptyRootOr(tree)
			where := fmt.Sprintf("checkpoint at size %d", cp.Size)
			if cp.Root != root {
				return diverged(where, "it commits to root %s; the log's entries give %s", cp.Root, root)
			}
			if prev != nil {
				p, err := evidence.ConsistencyProof(a.ctx, a.src, prev.Size, cp.Size)
				if err != nil {
					return diverged(where, "no consistency proof from size %d: %v", prev.Size, err)
				}
				if err := evidence.VerifyConsistency(prev.Size, cp.Size, p, prev.Root, cp.Root); err != nil {
					return diverged(where, "not consistent with the checkpoint at size %d: %v", prev.Size, err)
				}
			}
			prev = &opened[next]
			next++
		}
		return nil
	}
	if d := check(); d != nil {
		return d, nil
	}
	for b := uint64(0); b*evidence.TileWidth < size; b++ {
		want := int(min(size-b*evidence.TileWidth, evidence.TileWidth))
		bundle, err := a.src.ReadEntryBundle(a.ctx, b)
		if err != nil {
			return nil, fmt.Errorf("audit: entry bundle %d: %w", b, err)
		}
		entries, err := evidence.SplitBundle(bundle)
		if err != nil || len(entries) < want {
			return diverged(fmt.Sprintf("entry bundle %d", b), "holds %d readable entries, the log size implies %d (%v)", len(entries), want, err), nil
		}
		for k, entry := range entries[:want] {
			index := b*evidence.TileWidth + uint64(k)
			h := evidence.LeafHash(entry)
			if err := tree.Append(h[:], nil); err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
			if d, err := a.entry(index, entry); d != nil || err != nil {
				return d, err
			}
			if d := check(); d != nil {
				return d, nil
			}
		}
	}
	// The stored tiles must give the same tree as the entries.
	if size > 0 {
		root, err := evidence.RootAt(a.ctx, a.src, size)
		if err != nil {
			return diverged("hash tiles", "cannot compute the root at size %d: %v", size, err), nil
		}
		if root != emptyRootOr(tree) {
			return diverged("hash tiles", "they give root %s at size %d; the entries give %s", root, size, emptyRootOr(tree)), nil
		}
	}
	if l, ok := a.src.(Lister); ok {
		a.rep.Listed = true
		if d, err := a.unlogged(l); d != nil || err != nil {
			return d, err
		}
	}
	return a.balances()
}

func emptyRootOr(r *compact.Range) evidence.Hash {
	var h evidence.Hash
	if r.End() == 0 {
		copy(h[:], rfc6962.DefaultHasher.EmptyRoot())
		return h
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		panic(err) // a non-empty range always has a root
	}
	copy(h[:], root)
	return h
}

// entry checks one log entry; batches are rebuilt and replayed.
func (a *auditor) entry(index uint64, b []byte) (*Divergence, error) {
	where := fmt.Sprintf("log entry %d", index)
	e, err := evidence.ParseEntry(b)
	if err != nil {
		return diverged(where, "not a valid entry: %v", err), nil
	}
	if e.Kind != evidence.KindBatch || e.Shard != a.opts.Shard {
		return nil, nil
	}
	where += " (" + e.ID + ")"
	if e.Batch.To == 0 {
		return diverged(where, "batch entry without a record timestamp range"), nil
	}
	if e.Batch.From <= a.lastTo {
		return diverged(where, "its records [%d, %d] do not follow the previous batch's (up to %d)", e.Batch.From, e.Batch.To, a.lastTo), nil
	}
	a.lastTo = e.Batch.To
	a.ranges = append(a.ranges, [2]uint64{e.Batch.From, e.Batch.To})
	a.rep.Batches++
	where += fmt.Sprintf(", records [%d, %d]", e.Batch.From, e.Batch.To)
	leaves, err := a.src.BatchLeaves(a.ctx, index, e)
	if err != nil {
		return nil, fmt.Errorf("audit: %s: %w", where, err)
	}
	if uint64(len(leaves)) != e.Batch.Count {
		return diverged(where, "the ledger stores %d records in its range; the log committed to %d", len(leaves), e.Batch.Count), nil
	}
	if root := evidence.BatchTree(leaves).Root(); root != e.Batch.Root {
		return diverged(where, "the ledger's %d stored records hash to root %s; the log committed to %s: a record of this batch was changed, removed, added or moved",
			len(leaves), root, e.Batch.Root), nil
	}
	decoded := make([]ledgerlog.Leaf, len(leaves))
	for i, l := range leaves {
		if decoded[i], err = ledgerlog.DecodeLeaf(l); err != nil {
			return diverged(where, "leaf %d: %v", i, err), nil
		}
		if ts := decoded[i].Timestamp(); ts < e.Batch.From || ts > e.Batch.To {
			return diverged(where, "leaf %d has timestamp %d, outside the batch", i, ts), nil
		}
	}
	slices.SortStableFunc(decoded, func(x, y ledgerlog.Leaf) int {
		return cmp.Compare(x.Timestamp(), y.Timestamp())
	})
	for i := range decoded {
		l := &decoded[i]
		var err error
		switch l.Tag {
		case ledgerlog.TagAsset:
			a.rep.Assets++
		case ledgerlog.TagAccount:
			a.rep.Accounts++
			err = a.replay.Account(l.Account)
		case ledgerlog.TagTransfer:
			a.rep.Transfers++
			err = a.replay.Transfer(&l.Transfer)
		case ledgerlog.TagExpiry:
			a.rep.Expiries++
			err = a.replay.Expiry(l.Expiry)
		case ledgerlog.TagDoc:
			a.rep.Docs++
		}
		if err != nil {
			return diverged(where, "its records do not follow from the log's earlier records: %v", err), nil
		}
	}
	return nil, nil
}

// unlogged checks that every stored record lies in a logged batch and
// that the store holds no more records than the log committed to.
type unloggedCheck struct {
	a     *auditor
	count int
	first *Divergence
}

func (u *unloggedCheck) see(kind string, id string, ts uint64) {
	u.count++
	if u.first != nil {
		return
	}
	r := u.a.ranges
	i := sort.Search(len(r), func(i int) bool { return r[i][1] >= ts })
	if i == len(r) || r[i][0] > ts {
		u.first = diverged(kind+" "+id, "stored with timestamp %d, which no logged batch covers: it was added outside the log", ts)
	}
}

func (u *unloggedCheck) Position(uint64, uint64) {}
func (u *unloggedCheck) Asset(a ledger.Asset) {
	u.see("asset", fmt.Sprint(a.Ledger), a.Timestamp)
}
func (u *unloggedCheck) Account(a ledger.Account) { u.see("account", a.ID.String(), a.Timestamp) }
func (u *unloggedCheck) Transfer(t ledger.TransferRecord) {
	u.see("transfer", t.ID.String(), t.Timestamp)
}
func (u *unloggedCheck) Expiry(e ledger.Expiry) {
	u.see("expiry of", e.PendingID.String(), e.Timestamp)
}

func (a *auditor) unlogged(l Lister) (*Divergence, error) {
	u := &unloggedCheck{a: a}
	if err := l.Records(a.ctx, a.opts.Shard, u); err != nil {
		return nil, fmt.Errorf("audit: listing stored records: %w", err)
	}
	if err := l.Docs(a.ctx, a.opts.Shard, func(d ledger.Doc) error {
		u.see("doc", d.Kind+"/"+d.Key, d.Timestamp)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("audit: listing stored docs: %w", err)
	}
	if u.first != nil {
		return u.first, nil
	}
	logged := a.rep.Assets + a.rep.Accounts + a.rep.Transfers + a.rep.Expiries + a.rep.Docs
	if u.count != logged {
		return diverged("stored records", "the ledger stores %d records; the log covers %d", u.count, logged), nil
	}
	return nil, nil
}

// balances compares every stored account with its replayed state.
func (a *auditor) balances() (*Divergence, error) {
	seen := map[ledger.ID]bool{}
	var first *Divergence
	err := a.src.Accounts(a.ctx, func(s ledger.Account) error {
		a.rep.Stored++
		seen[s.ID] = true
		if first != nil {
			return nil
		}
		where := "account " + s.ID.String()
		r, ok := a.replay.AccountState(s.ID)
		if !ok {
			first = diverged(where, "stored, but the log never created it")
			return nil
		}
		for _, f := range []struct {
			name         string
			stored, want ledger.Uint128
		}{
			{"debits_pending", s.DebitsPending, r.DebitsPending},
			{"debits_posted", s.DebitsPosted, r.DebitsPosted},
			{"credits_pending", s.CreditsPending, r.CreditsPending},
			{"credits_posted", s.CreditsPosted, r.CreditsPosted},
		} {
			if f.stored != f.want {
				first = diverged(where, "stored %s is %s; the logged transfers give %s", f.name, f.stored, f.want)
				return nil
			}
		}
		if s != r {
			first = diverged(where, "stored fields %+v differ from the logged account %+v", s, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: reading accounts: %w", err)
	}
	if first != nil {
		return first, nil
	}
	for _, id := range a.replay.Accounts() {
		if !seen[id] {
			return diverged("account "+id.String(), "the log created it; the ledger does not store it"), nil
		}
	}
	a.rep.Pending = a.replay.Pending()
	return nil, nil
}
