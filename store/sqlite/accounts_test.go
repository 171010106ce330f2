package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// acctWorld makes small batches of transfers between random accounts of
// two shards, creating accounts now and then, and remembers the committed
// state.
type acctWorld struct {
	rng      *rand.Rand
	nextID   uint64
	nextXfer uint64
	ts       [2]uint64
	seq      [2]uint64
	accounts map[ledger.ID]ledger.Account
	shardOf  map[ledger.ID]uint32
	ids      [2][]ledger.ID
	history  map[ledger.ID][]ledger.Transfer
}

func newAcctWorld(seed uint64) *acctWorld {
	return &acctWorld{
		rng:      rand.New(rand.NewPCG(seed, 7)),
		ts:       [2]uint64{1_700_000_000_000_000_000, 1_700_000_000_000_000_000},
		accounts: map[ledger.ID]ledger.Account{},
		shardOf:  map[ledger.ID]uint32{},
		history:  map[ledger.ID][]ledger.Transfer{},
	}
}

// batch builds shard's next batch: newAccounts new accounts, then
// transfers transfers between random accounts of the shard. Accounts are
// listed in random order. The world changes only in commit.
func (w *acctWorld) batch(shard uint32, newAccounts, transfers int) *ledger.Batch {
	b := &ledger.Batch{Shard: shard, Seq: w.seq[shard] + 1}
	ts := w.ts[shard]
	changed := map[ledger.ID]*ledger.Account{}
	ids := slices.Clone(w.ids[shard])
	for range newAccounts {
		w.nextID++
		ts++
		// Interleave new ids with existing ones: sometimes small, sometimes large.
		id := ledger.IDFromUint64(w.nextID*1000 + w.rng.Uint64N(1000))
		if w.rng.IntN(2) == 0 {
			id = ledger.IDFromUint64(1<<40 - w.nextID*1000)
		}
		changed[id] = &ledger.Account{ID: id, Ledger: 1, Code: uint16(shard + 1), UserData64: w.nextID,
			Flags: ledger.AccountHistory, Timestamp: ts}
		ids = append(ids, id)
	}
	get := func(id ledger.ID) *ledger.Account {
		if a, ok := changed[id]; ok {
			return a
		}
		a := w.accounts[id]
		changed[id] = &a
		return &a
	}
	for i := 0; i < transfers && len(ids) >= 2; i++ {
		d := w.rng.IntN(len(ids))
		c := (d + 1 + w.rng.IntN(len(ids)-1)) % len(ids)
		amount := 1 + w.rng.Uint64N(100)
		da, ca := get(ids[d]), get(ids[c])
		da.DebitsPosted, _ = da.DebitsPosted.AddU64(amount)
		ca.CreditsPosted, _ = ca.CreditsPosted.AddU64(amount)
		ts++
		w.nextXfer++
		b.Transfers = append(b.Transfers, ledger.TransferRecord{Transfer: ledger.Transfer{
			ID: ledger.IDFromUint64(1<<50 + w.nextXfer), DebitAccountID: da.ID, CreditAccountID: ca.ID,
			Amount: amount, Ledger: 1, Code: 1, Timestamp: ts,
		}})
	}
	for _, a := range changed {
		b.Accounts = append(b.Accounts, *a)
	}
	w.rng.Shuffle(len(b.Accounts), func(i, j int) { b.Accounts[i], b.Accounts[j] = b.Accounts[j], b.Accounts[i] })
	b.Timestamp = ts
	return b
}

func (w *acctWorld) commit(t *testing.T, s *Store, b *ledger.Batch) {
	t.Helper()
	if err := s.CommitBatch(context.Background(), b); err != nil {
		t.Fatalf("CommitBatch(shard %d, seq %d): %v", b.Shard, b.Seq, err)
	}
	w.seq[b.Shard], w.ts[b.Shard] = b.Seq, b.Timestamp
	for _, a := range b.Accounts {
		if _, ok := w.accounts[a.ID]; !ok {
			w.ids[b.Shard] = append(w.ids[b.Shard], a.ID)
			w.shardOf[a.ID] = b.Shard
		}
		w.accounts[a.ID] = a
	}
	for _, r := range b.Transfers {
		w.history[r.DebitAccountID] = append(w.history[r.DebitAccountID], r.Transfer)
		w.history[r.CreditAccountID] = append(w.history[r.CreditAccountID], r.Transfer)
	}
}

func (w *acctWorld) sorted(shard int) []ledger.Account {
	var out []ledger.Account
	for id, a := range w.accounts {
		if shard < 0 || w.shardOf[id] == uint32(shard) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y ledger.Account) int { return compareID(x.ID, y.ID) })
	return out
}

// accountLoader collects what Load streams.
type accountLoader struct {
	seq      uint64
	accounts []ledger.Account
}

func (l *accountLoader) Position(seq, _ uint64)         { l.seq = seq }
func (l *accountLoader) Asset(ledger.Asset)             {}
func (l *accountLoader) Account(a ledger.Account)       { l.accounts = append(l.accounts, a) }
func (l *accountLoader) Transfer(ledger.TransferRecord) {}
func (l *accountLoader) Expiry(ledger.Expiry)           {}

// check compares every account read path of s with the world.
func (w *acctWorld) check(t *testing.T, s *Store, what string) {
	t.Helper()
	ctx := context.Background()
	for shard := range 2 {
		var l accountLoader
		if err := s.Load(ctx, uint32(shard), &l); err != nil {
			t.Fatalf("%s: Load(%d): %v", what, shard, err)
		}
		if l.seq != w.seq[shard] {
			t.Fatalf("%s: Load(%d) at seq %d, want %d", what, shard, l.seq, w.seq[shard])
		}
		// Load streams accounts in id order, each once.
		if want := w.sorted(shard); !slices.Equal(want, l.accounts) {
			t.Fatalf("%s: Load(%d) accounts mismatch (-want +got):\n%s", what, shard, gocmp.Diff(want, l.accounts, cmpopts.EquateEmpty()))
		}
	}
	all := w.sorted(-1)
	var got []ledger.Account
	for after := (ledger.ID{}); ; {
		p, err := s.ListAccounts(ctx, after, 7)
		if err != nil {
			t.Fatalf("%s: ListAccounts: %v", what, err)
		}
		got = append(got, p.Accounts...)
		if p.Next.IsZero() {
			break
		}
		after = p.Next
	}
	if !slices.Equal(all, got) {
		t.Fatalf("%s: ListAccounts mismatch (-want +got):\n%s", what, gocmp.Diff(all, got, cmpopts.EquateEmpty()))
	}
	for _, want := range all {
		a, err := s.GetAccount(ctx, want.ID)
		if err != nil || a != want {
			t.Fatalf("%s: GetAccount(%v) = %+v, %v; want %+v", what, want.ID, a, err, want)
		}
	}
	// Accounts created since the last fold have their history.
	for _, a := range all[:min(len(all), 5)] {
		p, err := s.ListAccountTransfers(ctx, a.ID, 0, store.PageLimitMax)
		if err != nil || !slices.Equal(w.history[a.ID], p.Transfers) {
			t.Fatalf("%s: ListAccountTransfers(%v) = %d transfers, %v; want %d", what, a.ID, len(p.Transfers), err, len(w.history[a.ID]))
		}
	}
}

// copyDB copies the database and its WAL while s is open, as a crash
// would leave them: a read transaction keeps the WAL from being rewound
// meanwhile, and no commit runs.
func copyDB(t *testing.T, s *Store, dir string) string {
	t.Helper()
	ctx := context.Background()
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM shard_positions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "copy.db")
	for _, suffix := range []string{"-wal", ""} {
		in, err := os.Open(s.Path() + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// openSmallLog opens a store whose account log folds after a few batches.
func openSmallLog(t *testing.T, path string, rows, records int) *Store {
	t.Helper()
	s := openAt(t, path)
	s.av.rowsMax, s.av.recordsMax = rows, records
	return s
}

// TestAccountLog commits small batches across many folds of the account
// log, of both kinds (too many rows, too many records), and checks every
// read path after each batch, after reopening the database without
// closing the store (as after a crash) and on copies of the files taken
// while the store is open.
func TestAccountLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "agentpay.db")
	s := openSmallLog(t, path, 5, 60)
	w := newAcctWorld(1)
	batches := 120
	if raceEnabled || testing.Short() {
		batches = 45 // still several folds of each kind, reopens and copies
	}
	folds := 0
	for i := range batches {
		shard := uint32(i % 2)
		newAccounts := 0
		switch {
		case i < 2:
			newAccounts = 6
		case i%7 == 0:
			newAccounts = 1 + i%3
		}
		size := 1 + w.rng.IntN(12)
		if i%23 == 0 {
			size = 40 // more accounts than the log may hold: folds at once
		}
		b := w.batch(shard, newAccounts, size)
		rowsBefore := s.av.logRows
		w.commit(t, s, b)
		if s.av.logRows == 0 && rowsBefore > 0 {
			folds++
		}
		w.check(t, s, fmt.Sprint("after batch ", i))
		switch i % 17 {
		case 8:
			// A crash: another store opens the database while this one
			// stays open, idle, and takes over.
			s = openSmallLog(t, path, 5, 60)
			w.check(t, s, fmt.Sprint("reopened after batch ", i))
		case 12:
			copyPath := copyDB(t, s, t.TempDir())
			c := openAt(t, copyPath)
			w.check(t, c, fmt.Sprint("copy after batch ", i))
		}
	}
	if folds < 5 {
		t.Errorf("%d folds, want several", folds)
	}
}

// TestAccountLogFailedCommit checks that a failed commit leaves the overlay
// as it was: the batch's accounts are not visible, and the next batch
// commits (and folds) correctly.
func TestAccountLogFailedCommit(t *testing.T) {
	t.Parallel()
	s := openSmallLog(t, filepath.Join(t.TempDir(), "agentpay.db"), 3, 1000)
	w := newAcctWorld(2)
	w.commit(t, s, w.batch(0, 8, 0))
	w.commit(t, s, w.batch(0, 0, 5))
	ctx := context.Background()
	for _, fold := range []bool{false, true} {
		b := w.batch(0, 2, 5)
		b.Outcomes = []ledger.Outcome{{Key: "k", CreatedAt: 1}, {Key: "k", CreatedAt: 2}} // conflict
		if err := s.CommitBatch(ctx, b); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CommitBatch(duplicate outcome) = %v, want ErrConflict", err)
		}
		w.check(t, s, "after a failed batch")
		b.Outcomes = nil
		w.commit(t, s, b)
		w.check(t, s, "after the batch committed")
		if fold {
			for range 4 {
				w.commit(t, s, w.batch(0, 0, 3))
				w.check(t, s, "after a later batch")
			}
		}
	}
}

// TestListAccountsDuringFolds reads every account with ListAccounts and
// one with GetAccount while small batches commit and fold: a page must
// show one committed batch (total debits equal total credits) and balances
// never go back.
func TestListAccountsDuringFolds(t *testing.T) {
	t.Parallel()
	s := openSmallLog(t, filepath.Join(t.TempDir(), "agentpay.db"), 4, 50)
	w := newAcctWorld(3)
	w.commit(t, s, w.batch(0, 30, 0))
	watched := w.ids[0][0]
	batches := 150
	if raceEnabled || testing.Short() {
		batches = 60
	}
	ctx := context.Background()
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			var lastDebits, lastCredits ledger.Uint128
			for !done.Load() {
				if r == 0 {
					p, err := s.ListAccounts(ctx, ledger.ID{}, store.PageLimitMax)
					if err != nil {
						t.Errorf("ListAccounts: %v", err)
						return
					}
					var debits, credits ledger.Uint128
					for _, a := range p.Accounts {
						debits, _ = debits.Add(a.DebitsPosted)
						credits, _ = credits.Add(a.CreditsPosted)
					}
					if debits != credits {
						t.Errorf("ListAccounts sees debits %v and credits %v: part of a batch", debits, credits)
						return
					}
					continue
				}
				a, err := s.GetAccount(ctx, watched)
				if err != nil {
					t.Errorf("GetAccount: %v", err)
					return
				}
				if a.DebitsPosted.Cmp(lastDebits) < 0 || a.CreditsPosted.Cmp(lastCredits) < 0 {
					t.Errorf("GetAccount went back from (%v, %v) to (%v, %v)", lastDebits, lastCredits, a.DebitsPosted, a.CreditsPosted)
					return
				}
				lastDebits, lastCredits = a.DebitsPosted, a.CreditsPosted
			}
		})
	}
	for i := range batches {
		w.commit(t, s, w.batch(0, i%5/4, 1+w.rng.IntN(10)))
	}
	done.Store(true)
	wg.Wait()
	w.check(t, s, "at the end")
}
