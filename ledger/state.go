package ledger

import (
	"container/heap"
	"fmt"
	"slices"
)

// State is the deterministic ledger state machine of one shard. It holds
// every account and its balances, the id and fingerprint of every transfer,
// and every pending transfer with its status.
//
// State never reads the clock or randomness: each apply method takes the
// sequencer's time (now, nanoseconds) and assigns strictly increasing
// timestamps max(last+1, now). Applying the same calls with the same
// arguments to two States yields equal States.
//
// Memory bound: about 200 bytes per account, 40 bytes per transfer and 100
// bytes per pending transfer; a shard with 10 million transfers holds about
// 0.5 GiB.
//
// State is not safe for concurrent use; the Engine owns it.
type State struct {
	shard    uint32
	shardOf  func(ID) uint32 // nil: every account is on this shard
	assets   map[uint32]Asset
	accounts []Account
	index    map[ID]uint32 // account id -> position in accounts
	dirty    []uint64      // per account: the batch generation it was last recorded in
	changed  []uint32      // positions of the accounts changed in the open batch
	ids      map[ID]transferRef
	// maxID is at least every id in ids (it is not lowered when a chain
	// rolls back), so an id above it needs no probe of ids: time-ordered
	// ids, the usual case, skip one hash lookup per transfer.
	maxID    ID
	pending  map[ID]pendingTransfer
	timeouts timeoutHeap

	lastTimestamp uint64
	seq           uint64 // last batch sequence number handed out

	batch *Batch // the batch being built; nil outside Begin/Finish
	spare *Batch // a committed batch whose buffers Begin reuses
	gen   uint64 // generation of the batch being built
	undo  []undoEntry
	saved []savedTransfer // transfers of the current chain as submitted
}

type transferRef struct {
	timestamp   uint64
	fingerprint uint64
}

type pendingTransfer struct {
	debit, credit uint32 // account positions
	amount        uint64
	expiresAt     uint64 // 0: never
	status        PendingStatus
	flags         TransferFlags
	ledger        uint32
	code          uint16
}

// NewState returns an empty State for shard. shardOf maps an account id to
// its shard; nil means every account belongs to this shard.
func NewState(shard uint32, shardOf func(ID) uint32) *State {
	return &State{
		shard:   shard,
		shardOf: shardOf,
		assets:  make(map[uint32]Asset),
		index:   make(map[ID]uint32),
		ids:     make(map[ID]transferRef),
		pending: make(map[ID]pendingTransfer),
	}
}

// Shard returns the shard the state belongs to.
func (s *State) Shard() uint32 { return s.shard }

// LastTimestamp returns the largest timestamp assigned so far.
func (s *State) LastTimestamp() uint64 { return s.lastTimestamp }

// Seq returns the sequence number of the last batch begun.
func (s *State) Seq() uint64 { return s.seq }

// Account returns the current (applied, maybe not yet committed) state of
// an account.
func (s *State) Account(id ID) (Account, bool) {
	i, ok := s.index[id]
	if !ok {
		return Account{}, false
	}
	return s.accounts[i], true
}

// Accounts calls fn for every account in creation order.
func (s *State) Accounts(fn func(a *Account)) {
	for i := range s.accounts {
		fn(&s.accounts[i])
	}
}

// Asset returns the asset of a ledger.
func (s *State) Asset(ledger uint32) (Asset, bool) {
	a, ok := s.assets[ledger]
	return a, ok
}

// TransferCount returns how many transfers the state holds.
func (s *State) TransferCount() int { return len(s.ids) }

// PendingStatus returns the status of a pending transfer (PendingNone if id
// is not a pending transfer).
func (s *State) PendingStatus(id ID) PendingStatus {
	return s.pending[id].status
}

// Begin starts a new batch. Every change applied until Finish is recorded
// in it. It panics if a batch is already open.
func (s *State) Begin() {
	if s.batch != nil {
		panic("ledger: Begin with a batch open")
	}
	s.seq++
	s.gen++
	b := s.spare
	s.spare = nil
	if b == nil {
		b = &Batch{}
	}
	*b = Batch{
		Shard: s.shard, Seq: s.seq,
		Assets: b.Assets[:0], Accounts: b.Accounts[:0], Transfers: b.Transfers[:0],
		Expiries: b.Expiries[:0], Docs: b.Docs[:0], DocHashes: b.DocHashes[:0], Outcomes: b.Outcomes[:0],
	}
	s.batch = b
}

// Recycle hands a committed batch back so its buffers serve a later batch.
// The caller must not use b afterwards.
func (s *State) Recycle(b *Batch) {
	if b != nil && b != s.batch {
		s.spare = b
	}
}

// Finish closes the open batch and returns it.
func (s *State) Finish() *Batch {
	b := s.batch
	if b == nil {
		panic("ledger: Finish without Begin")
	}
	b.Timestamp = s.lastTimestamp
	b.Accounts = slices.Grow(b.Accounts[:0], len(s.changed))
	for _, pos := range s.changed {
		b.Accounts = append(b.Accounts, s.accounts[pos])
	}
	s.changed = s.changed[:0]
	s.batch = nil
	return b
}

// Open reports whether a batch is open.
func (s *State) Open() bool { return s.batch != nil }

func (s *State) tick(now uint64) uint64 {
	ts := s.lastTimestamp + 1
	if now > ts {
		ts = now
	}
	s.lastTimestamp = ts
	return ts
}

func (s *State) markDirty(i uint32) {
	if s.dirty[i] != s.gen {
		s.dirty[i] = s.gen
		s.changed = append(s.changed, i)
	}
}

// CreateAssets applies asset creations (not chainable) and writes one
// result per asset.
func (s *State) CreateAssets(now uint64, assets []Asset, results []Result) {
	s.mustBeOpen()
	for i := range assets {
		a := &assets[i]
		r := s.validateAsset(a)
		if r == ResultOK {
			a.Timestamp = s.tick(now)
			s.assets[a.Ledger] = *a
			s.batch.Assets = append(s.batch.Assets, *a)
		} else if r == ResultExists {
			a.Timestamp = s.assets[a.Ledger].Timestamp
		}
		results[i] = r
	}
}

func (s *State) validateAsset(a *Asset) Result {
	if a.Timestamp != 0 {
		return ResultTimestampMustBeZero
	}
	if a.Ledger == 0 {
		return ResultLedgerMustNotBeZero
	}
	if len(a.Code) == 0 || len(a.Code) > 16 {
		return ResultAssetCodeInvalid
	}
	for i := 0; i < len(a.Code); i++ {
		c := a.Code[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return ResultAssetCodeInvalid
		}
	}
	if a.Scale > 18 {
		return ResultAssetScaleTooLarge
	}
	if old, ok := s.assets[a.Ledger]; ok {
		if old.Code == a.Code && old.Scale == a.Scale {
			return ResultExists
		}
		return ResultExistsWithDifferentFields
	}
	return ResultOK
}

func (s *State) mustBeOpen() {
	if s.batch == nil {
		panic("ledger: apply without an open batch")
	}
}

// String describes the state's size (for logs).
func (s *State) String() string {
	return fmt.Sprintf("shard %d: %d accounts, %d transfers, %d pending, seq %d",
		s.shard, len(s.accounts), len(s.ids), len(s.timeouts), s.seq)
}

// timeoutHeap is a min-heap of pending expiries. Entries are checked
// against the pending table when popped, so entries of rolled-back or
// resolved transfers are skipped instead of removed.
type timeoutHeap []timeoutEntry

type timeoutEntry struct {
	expiresAt uint64
	id        ID
}

func (h timeoutHeap) Len() int { return len(h) }
func (h timeoutHeap) Less(i, j int) bool {
	if h[i].expiresAt != h[j].expiresAt {
		return h[i].expiresAt < h[j].expiresAt
	}
	return string(h[i].id[:]) < string(h[j].id[:])
}
func (h timeoutHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timeoutHeap) Push(x any)   { *h = append(*h, x.(timeoutEntry)) }
func (h *timeoutHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// NextExpiry returns the earliest time a pending transfer expires, and
// false if none will.
func (s *State) NextExpiry() (uint64, bool) {
	for len(s.timeouts) > 0 {
		e := s.timeouts[0]
		p, ok := s.pending[e.id]
		if ok && p.status == PendingActive && p.expiresAt == e.expiresAt {
			return e.expiresAt, true
		}
		heap.Pop(&s.timeouts)
	}
	return 0, false
}

// Expire expires every pending transfer whose timeout is at or before now,
// in expiry order, releasing its amounts, and returns how many expired.
func (s *State) Expire(now uint64) int {
	s.mustBeOpen()
	n := 0
	for {
		at, ok := s.NextExpiry()
		if !ok || at > now {
			return n
		}
		e := heap.Pop(&s.timeouts).(timeoutEntry)
		p := s.pending[e.id]
		s.releasePending(&p)
		p.status = PendingExpired
		s.pending[e.id] = p
		s.batch.Expiries = append(s.batch.Expiries, Expiry{PendingID: e.id, Timestamp: s.tick(now)})
		n++
	}
}

// releasePending removes a pending transfer's amount from the pending
// balances and reopens accounts its closing flags closed.
func (s *State) releasePending(p *pendingTransfer) {
	dr, cr := &s.accounts[p.debit], &s.accounts[p.credit]
	var borrow bool
	dr.DebitsPending, borrow = dr.DebitsPending.SubU64(p.amount)
	assert(!borrow, "debits_pending underflow")
	cr.CreditsPending, borrow = cr.CreditsPending.SubU64(p.amount)
	assert(!borrow, "credits_pending underflow")
	if p.flags&TransferClosingDebit != 0 {
		dr.Flags &^= AccountClosed
	}
	if p.flags&TransferClosingCredit != 0 {
		cr.Flags &^= AccountClosed
	}
	s.markDirty(p.debit)
	s.markDirty(p.credit)
}

func assert(ok bool, what string) {
	if !ok {
		panic("ledger: invariant violated: " + what)
	}
}
