package storetest

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// tsBase is the first timestamp the fixtures assign (late 2023, in ns).
const tsBase = 1_700_000_000_000_000_000

// gen makes ids deterministically from a seed, cycling through three
// kinds so every test sees each: time-ordered (ULID), uniformly random and
// small integers.
type gen struct {
	src  *rand.ChaCha8
	rng  *rand.Rand
	ms   int64
	n    uint64
	kind int
}

func newGen(seed uint64) *gen {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	src := rand.NewChaCha8(s)
	return &gen{src: src, rng: rand.New(src), ms: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()}
}

// id returns a fresh id of the next kind.
func (g *gen) id() ledger.ID {
	g.kind++
	switch g.kind % 3 {
	case 0:
		return g.ulid()
	case 1:
		return g.randomID()
	default:
		g.n++
		return ledger.IDFromUint64(g.n)
	}
}

// ulid returns a time-ordered id; several share a millisecond.
func (g *gen) ulid() ledger.ID {
	if g.rng.IntN(8) == 0 {
		g.ms++
	}
	return ledger.NewID(time.UnixMilli(g.ms), g.src)
}

func (g *gen) randomID() ledger.ID {
	for {
		var id ledger.ID
		g.src.Read(id[:])
		if !id.IsZero() && id != ledger.IDMax {
			return id
		}
	}
}

// world is what a test has committed to one shard, and builds the next
// batches of that shard.
type world struct {
	g         *gen
	shard     uint32
	seq       uint64
	ts        uint64
	assets    []ledger.Asset
	accounts  map[ledger.ID]ledger.Account
	transfers []ledger.TransferRecord
	expiries  []ledger.Expiry
	docs      []ledger.Doc
	outcomes  map[string]ledger.Outcome
}

func newWorld(g *gen, shard uint32) *world {
	return &world{g: g, shard: shard, ts: tsBase, accounts: map[ledger.ID]ledger.Account{},
		outcomes: map[string]ledger.Outcome{}}
}

// builder assembles the world's next batch without changing the world
// until commit.
type builder struct {
	w         *world
	ts        uint64
	assets    []ledger.Asset
	changed   map[ledger.ID]*ledger.Account
	order     []ledger.ID
	transfers []ledger.TransferRecord
	expiries  []ledger.Expiry
	docs      []ledger.Doc
	outcomes  []ledger.Outcome
}

func (w *world) batch() *builder {
	return &builder{w: w, ts: w.ts, changed: map[ledger.ID]*ledger.Account{}}
}

// next assigns the next timestamp.
func (b *builder) next() uint64 {
	b.ts += 1 + b.w.g.rng.Uint64N(1000)
	return b.ts
}

func (b *builder) asset(ledgerNum uint32, code string, scale uint8) {
	b.assets = append(b.assets, ledger.Asset{Ledger: ledgerNum, Code: code, Scale: scale, Timestamp: b.next()})
}

// account creates an account on ledger 1 with varied immutable fields.
func (b *builder) account() ledger.ID {
	g := b.w.g
	a := &ledger.Account{
		ID:          g.id(),
		UserData128: g.randomID(),
		UserData64:  g.rng.Uint64(),
		UserData32:  g.rng.Uint32(),
		Ledger:      1,
		Code:        uint16(1 + g.rng.IntN(100)),
		Flags:       ledger.AccountHistory,
		Timestamp:   b.next(),
	}
	if g.rng.IntN(2) == 0 {
		a.Flags |= ledger.AccountDebitsMustNotExceedCredits
		a.Limit = g.rng.Uint64()
	}
	b.changed[a.ID] = a
	b.order = append(b.order, a.ID)
	return a.ID
}

// acct returns the batch's copy of an account, taking it from the world
// on first use.
func (b *builder) acct(id ledger.ID) *ledger.Account {
	if a, ok := b.changed[id]; ok {
		return a
	}
	a, ok := b.w.accounts[id]
	if !ok {
		panic(fmt.Sprintf("storetest: account %v does not exist", id))
	}
	b.changed[id] = &a
	b.order = append(b.order, id)
	return &a
}

// transfer moves amount between two accounts (posted) and returns the
// record, every field filled.
func (b *builder) transfer(debit, credit ledger.ID, amount uint64) ledger.TransferRecord {
	g := b.w.g
	d, c := b.acct(debit), b.acct(credit)
	d.DebitsPosted, _ = d.DebitsPosted.AddU64(amount)
	c.CreditsPosted, _ = c.CreditsPosted.AddU64(amount)
	r := ledger.TransferRecord{
		Transfer: ledger.Transfer{
			ID:              g.id(),
			DebitAccountID:  debit,
			CreditAccountID: credit,
			Amount:          amount,
			UserData128:     g.randomID(),
			UserData64:      g.rng.Uint64(),
			UserData32:      g.rng.Uint32(),
			Ledger:          d.Ledger,
			Code:            uint16(1 + g.rng.IntN(1000)),
			Timestamp:       b.next(),
		},
		Fingerprint: g.rng.Uint64(),
	}
	if g.rng.IntN(4) == 0 {
		r.Flags = ledger.TransferPostPending
		r.PendingID = g.randomID()
	}
	b.transfers = append(b.transfers, r)
	return r
}

func (b *builder) expiry(pending ledger.ID) {
	b.expiries = append(b.expiries, ledger.Expiry{PendingID: pending, Timestamp: b.next()})
}

func (b *builder) doc(kind, key string, body []byte) ledger.Doc {
	d := ledger.Doc{Kind: kind, Key: key, Body: body, Timestamp: b.next()}
	b.docs = append(b.docs, d)
	return d
}

func (b *builder) outcome(key string, createdAt uint64) ledger.Outcome {
	o := ledger.Outcome{Key: key, Status: 200 + len(b.outcomes), Body: []byte(`{"key":"` + key + `"}`), CreatedAt: createdAt}
	b.w.g.src.Read(o.RequestHash[:])
	b.outcomes = append(b.outcomes, o)
	return o
}

// build returns the batch as the engine would hand it to the store.
func (b *builder) build() *ledger.Batch {
	batch := &ledger.Batch{
		Shard:     b.w.shard,
		Seq:       b.w.seq + 1,
		Timestamp: b.ts,
		Assets:    slices.Clone(b.assets),
		Transfers: slices.Clone(b.transfers),
		Expiries:  slices.Clone(b.expiries),
		Docs:      slices.Clone(b.docs),
		Outcomes:  slices.Clone(b.outcomes),
	}
	for _, id := range b.order {
		batch.Accounts = append(batch.Accounts, *b.changed[id])
	}
	return batch
}

// commit commits the batch, failing the test on an error, and adds it to
// the world.
func (b *builder) commit(t *testing.T, s store.Store) *ledger.Batch {
	t.Helper()
	batch := b.build()
	if err := s.CommitBatch(context.Background(), batch); err != nil {
		t.Fatalf("CommitBatch(shard %d, seq %d): %v", batch.Shard, batch.Seq, err)
	}
	b.w.apply(batch)
	return batch
}

// apply adds a committed batch to the world.
func (w *world) apply(b *ledger.Batch) {
	w.seq, w.ts = b.Seq, b.Timestamp
	w.assets = append(w.assets, b.Assets...)
	for _, a := range b.Accounts {
		w.accounts[a.ID] = a
	}
	w.transfers = append(w.transfers, b.Transfers...)
	w.expiries = append(w.expiries, b.Expiries...)
	w.docs = append(w.docs, b.Docs...)
	for _, o := range b.Outcomes {
		w.outcomes[o.Key] = o
	}
}

// accountTransfers returns the world's transfers of account with a
// timestamp above after, in timestamp order.
func (w *world) accountTransfers(account ledger.ID, after uint64) []ledger.Transfer {
	var out []ledger.Transfer
	for _, r := range w.transfers {
		if r.Timestamp > after && (r.DebitAccountID == account || r.CreditAccountID == account) {
			out = append(out, r.Transfer)
		}
	}
	return out
}

// sortedAccounts returns the world's accounts in id order.
func (w *world) sortedAccounts() []ledger.Account {
	out := make([]ledger.Account, 0, len(w.accounts))
	for _, a := range w.accounts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y ledger.Account) int { return compareIDs(x.ID, y.ID) })
	return out
}

func compareIDs(x, y ledger.ID) int {
	if c := cmp.Compare(x.Hi(), y.Hi()); c != 0 {
		return c
	}
	return cmp.Compare(x.Lo(), y.Lo())
}

// idPlusOne returns id+1 (id must not be IDMax).
func idPlusOne(id ledger.ID) ledger.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

// loaded is what Load streamed, or what it should stream.
type loaded struct {
	Seq, Timestamp uint64
	Assets         []ledger.Asset // in ledger order
	Accounts       []ledger.Account
	Transfers      []ledger.TransferRecord
	Expiries       []ledger.Expiry
}

// want returns what Load of the world's shard must stream (accounts in id
// order, as the recorder sorts them).
func (w *world) want() loaded {
	l := loaded{
		Seq: w.seq, Timestamp: w.ts,
		Assets:    slices.Clone(w.assets),
		Accounts:  w.sortedAccounts(),
		Transfers: w.transfers,
		Expiries:  w.expiries,
	}
	if w.seq == 0 {
		l.Timestamp = 0
	}
	slices.SortFunc(l.Assets, func(x, y ledger.Asset) int { return cmp.Compare(x.Ledger, y.Ledger) })
	return l
}

// recorder is a ledger.Loader that records what it is given and checks
// the order of the calls.
type recorder struct {
	got       loaded
	positions int
	phase     int // 0 before Position, 1 assets and accounts, 2 transfers and expiries
	errs      []string
}

func (r *recorder) Position(seq, ts uint64) {
	if r.positions > 0 || r.phase != 0 {
		r.errs = append(r.errs, "Position called twice or not first")
	}
	r.positions++
	r.phase = 1
	r.got.Seq, r.got.Timestamp = seq, ts
}

func (r *recorder) Asset(a ledger.Asset) {
	if r.phase != 1 {
		r.errs = append(r.errs, fmt.Sprintf("Asset(%d) called before Position or after a transfer or expiry", a.Ledger))
	}
	r.got.Assets = append(r.got.Assets, a)
}

func (r *recorder) Account(a ledger.Account) {
	if r.phase != 1 {
		r.errs = append(r.errs, fmt.Sprintf("Account(%v) called before Position or after a transfer or expiry", a.ID))
	}
	r.got.Accounts = append(r.got.Accounts, a)
}

func (r *recorder) Transfer(t ledger.TransferRecord) {
	if r.phase == 0 {
		r.errs = append(r.errs, "Transfer called before Position")
	}
	r.phase = 2
	r.got.Transfers = append(r.got.Transfers, t)
}

func (r *recorder) Expiry(e ledger.Expiry) {
	if r.phase == 0 {
		r.errs = append(r.errs, "Expiry called before Position")
	}
	r.phase = 2
	r.got.Expiries = append(r.got.Expiries, e)
}

// load runs Load and returns what it streamed, assets sorted by ledger and
// accounts by id (the contract leaves their order open).
func load(t *testing.T, s store.Store, shard uint32) loaded {
	t.Helper()
	var r recorder
	if err := s.Load(context.Background(), shard, &r); err != nil {
		t.Fatalf("Load(shard %d): %v", shard, err)
	}
	for _, e := range r.errs {
		t.Errorf("Load(shard %d): %s", shard, e)
	}
	if r.positions != 1 {
		t.Errorf("Load(shard %d) called Position %d times, want 1", shard, r.positions)
	}
	slices.SortFunc(r.got.Assets, func(x, y ledger.Asset) int { return cmp.Compare(x.Ledger, y.Ledger) })
	slices.SortFunc(r.got.Accounts, func(x, y ledger.Account) int { return compareIDs(x.ID, y.ID) })
	return r.got
}

// checkLoad checks that Load of the world's shard streams exactly what the
// world committed.
func checkLoad(t *testing.T, s store.Store, w *world) {
	t.Helper()
	got := load(t, s, w.shard)
	if diff := diffLoaded(w.want(), got); diff != "" {
		t.Errorf("Load(shard %d) mismatch (-want +got):\n%s", w.shard, diff)
	}
}

// diffLoaded returns the difference between two loads, or "". Slices are
// compared element by element first (go-cmp is slow on large loads) and
// only the first differing element is diffed.
func diffLoaded(want, got loaded) string {
	if want.Seq != got.Seq || want.Timestamp != got.Timestamp {
		return fmt.Sprintf("position: want (%d, %d), got (%d, %d)", want.Seq, want.Timestamp, got.Seq, got.Timestamp)
	}
	return firstDiff("assets", want.Assets, got.Assets) +
		firstDiff("accounts", want.Accounts, got.Accounts) +
		firstDiff("transfers", want.Transfers, got.Transfers) +
		firstDiff("expiries", want.Expiries, got.Expiries)
}

func firstDiff[T comparable](what string, want, got []T) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			return fmt.Sprintf("%s[%d]:\n%s", what, i, gocmp.Diff(want[i], got[i]))
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("%s: want %d, got %d\n", what, len(want), len(got))
	}
	return ""
}

// checkTransfers checks that GetTransfer returns every committed transfer
// of the world.
func checkTransfers(t *testing.T, s store.Store, w *world) {
	t.Helper()
	for _, want := range w.transfers {
		got, err := s.GetTransfer(context.Background(), want.ID)
		if err != nil {
			t.Errorf("GetTransfer(%v): %v", want.ID, err)
			continue
		}
		if got != want {
			t.Errorf("GetTransfer(%v) mismatch (-want +got):\n%s", want.ID, gocmp.Diff(want, got))
		}
	}
}

// allAccountTransfers pages through ListAccountTransfers with limit and
// returns the concatenation, checking every page's size and cursor.
func allAccountTransfers(t *testing.T, s store.Store, account ledger.ID, after uint64, limit int) []ledger.Transfer {
	t.Helper()
	var out []ledger.Transfer
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatalf("ListAccountTransfers(%v): no last page after %d pages", account, pages)
		}
		p, err := s.ListAccountTransfers(context.Background(), account, after, limit)
		if err != nil {
			t.Fatalf("ListAccountTransfers(%v, after %d, limit %d): %v", account, after, limit, err)
		}
		if len(p.Transfers) > limit {
			t.Fatalf("ListAccountTransfers(limit %d) returned %d transfers", limit, len(p.Transfers))
		}
		out = append(out, p.Transfers...)
		if p.Next == 0 {
			return out
		}
		if len(p.Transfers) != limit {
			t.Fatalf("ListAccountTransfers(limit %d): page of %d transfers has Next %d, want a full page", limit, len(p.Transfers), p.Next)
		}
		if last := p.Transfers[len(p.Transfers)-1].Timestamp; p.Next != last {
			t.Fatalf("ListAccountTransfers: Next = %d, want the page's last timestamp %d", p.Next, last)
		}
		after = p.Next
	}
}

// equateEmpty treats nil and empty slices alike.
var equateEmpty = cmpopts.EquateEmpty()

// transfersEqual is gocmp.Equal(want, got), with equateEmpty if
// emptyEqual, without go-cmp's reflection: the suite compares long lists
// of transfers many times, which go-cmp makes slow, above all under the
// race detector. Callers diff with go-cmp only on a mismatch.
func transfersEqual(want, got []ledger.Transfer, emptyEqual bool) bool {
	if !emptyEqual && (want == nil) != (got == nil) {
		return false
	}
	return slices.Equal(want, got)
}
