package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
	gocmp "github.com/google/go-cmp/cmp"
)

var bg = context.Background()

func testCommitThenLoad(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(1), 1)

	b := w.batch()
	b.asset(1, "USD", 2)
	b.asset(7, "TOKENS", 9)
	var ids []ledger.ID
	for range 6 {
		ids = append(ids, b.account())
	}
	b.transfer(ids[0], ids[1], 100)
	b.transfer(ids[1], ids[2], 30)
	b.outcome("c1", 10)
	b.commit(t, s)
	checkLoad(t, s, w)

	// The same accounts change in later batches: Load returns their final
	// state, once each.
	b = w.batch()
	b.transfer(ids[2], ids[0], 5)
	b.transfer(ids[0], ids[3], 7)
	b.expiry(ids[4]) // the store does not interpret expiries
	b.commit(t, s)
	b = w.batch()
	ids = append(ids, b.account())
	for i := range 100 {
		b.transfer(ids[i%len(ids)], ids[(i+1)%len(ids)], uint64(i+1))
	}
	b.expiry(w.g.randomID())
	b.expiry(w.g.randomID())
	last := b.commit(t, s)

	checkLoad(t, s, w)
	got := load(t, s, w.shard)
	if got.Seq != 3 || got.Timestamp != last.Timestamp {
		t.Errorf("Load position = (%d, %d), want (3, %d)", got.Seq, got.Timestamp, last.Timestamp)
	}
	checkTransfers(t, s, w)
}

func testLoadEmptyShard(t *testing.T, h Harness) {
	s := h.Open(t)
	got := load(t, s, 3)
	if diff := gocmp.Diff(loaded{}, got, equateEmpty); diff != "" {
		t.Errorf("Load(empty shard) mismatch (-want +got):\n%s", diff)
	}
	// A shard stays empty while another commits.
	w := newWorld(newGen(2), 4)
	b := w.batch()
	b.asset(1, "USD", 2)
	a, c := b.account(), b.account()
	b.transfer(a, c, 1)
	b.commit(t, s)
	got = load(t, s, 3)
	if diff := gocmp.Diff(loaded{}, got, equateEmpty); diff != "" {
		t.Errorf("Load(empty shard) after another shard committed (-want +got):\n%s", diff)
	}
}

func testShardsAreSeparate(t *testing.T, h Harness) {
	s := h.Open(t)
	g := newGen(3)
	w1, w2 := newWorld(g, 1), newWorld(g, 2)
	for i := range 3 {
		for _, w := range []*world{w1, w2} {
			b := w.batch()
			if i == 0 {
				b.asset(1, "USD", 2)
				b.account()
				b.account()
			}
			accts := w.sortedAccounts()
			if i > 0 {
				for j := range 10 {
					b.transfer(accts[j%2].ID, accts[(j+1)%2].ID, uint64(j+1))
				}
			}
			b.commit(t, s)
		}
	}
	// Timestamps of the two shards overlap; each Load sees its own shard.
	checkLoad(t, s, w1)
	checkLoad(t, s, w2)
	checkTransfers(t, s, w1)
	checkTransfers(t, s, w2)
	for _, w := range []*world{w1, w2} {
		for id := range w.accounts {
			if got, want := allAccountTransfers(t, s, id, 0, 7), w.accountTransfers(id, 0); !transfersEqual(want, got, true) {
				t.Errorf("ListAccountTransfers(%v) mismatch (-want +got):\n%s", id, gocmp.Diff(want, got, equateEmpty))
			}
		}
	}
}

func testSeqFence(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(4), 1)

	b := w.batch()
	b.account()
	bad := b.build()
	bad.Seq = 2 // the first batch must be 1
	if err := s.CommitBatch(bg, bad); err == nil {
		t.Fatal("CommitBatch(first batch with seq 2) succeeded, want an error")
	}
	checkLoad(t, s, w)

	first := b.commit(t, s)
	if err := s.CommitBatch(bg, first); err == nil {
		t.Error("CommitBatch(seq 1 again) succeeded, want an error")
	}
	b = w.batch()
	a := b.account()
	b.transfer(a, first.Accounts[0].ID, 1)
	skip := b.build()
	skip.Seq = 3
	if err := s.CommitBatch(bg, skip); err == nil {
		t.Error("CommitBatch(seq 3 after 1) succeeded, want an error")
	}
	checkLoad(t, s, w)
	if _, err := s.GetAccount(bg, a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount(account of a fenced batch) error = %v, want ErrNotFound", err)
	}
	b.commit(t, s) // seq 2 is still next
	checkLoad(t, s, w)
}

func testListAssets(t *testing.T, h Harness) {
	s := h.Open(t)
	got, err := s.ListAssets(bg)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListAssets(empty store) = %v, %v; want none", got, err)
	}
	w := newWorld(newGen(5), 1)
	b := w.batch()
	b.asset(9, "EUR", 2)
	b.asset(1, "USD", 2)
	b.commit(t, s)
	b = w.batch()
	b.asset(4, "TOK_1", 18)
	b.commit(t, s)
	got, err = s.ListAssets(bg)
	if err != nil {
		t.Fatalf("ListAssets: %v", err)
	}
	want := w.want().Assets // sorted by ledger
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("ListAssets mismatch (-want +got):\n%s", diff)
	}
}

func testGetAccount(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(6), 1)
	if _, err := s.GetAccount(bg, ledger.IDFromUint64(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount(empty store) error = %v, want ErrNotFound", err)
	}
	b := w.batch()
	x, y := b.account(), b.account()
	b.commit(t, s)
	b = w.batch()
	b.transfer(x, y, 42)
	b.commit(t, s)
	for _, id := range []ledger.ID{x, y} {
		got, err := s.GetAccount(bg, id)
		if err != nil {
			t.Fatalf("GetAccount(%v): %v", id, err)
		}
		if diff := gocmp.Diff(w.accounts[id], got); diff != "" {
			t.Errorf("GetAccount(%v) mismatch (-want +got):\n%s", id, diff)
		}
	}
	if got := w.accounts[x].DebitsPosted; got != ledger.U128(42) {
		t.Fatalf("fixture: debits posted = %v, want 42", got)
	}
	for _, id := range []ledger.ID{{}, ledger.IDMax, w.g.randomID()} {
		if _, err := s.GetAccount(bg, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetAccount(unknown %v) error = %v, want ErrNotFound", id, err)
		}
	}
}

func testListAccounts(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(7), 1)
	if p, err := s.ListAccounts(bg, ledger.ID{}, 10); err != nil || len(p.Accounts) != 0 || !p.Next.IsZero() {
		t.Errorf("ListAccounts(empty store) = %+v, %v; want an empty last page", p, err)
	}
	b := w.batch()
	for range 25 {
		b.account()
	}
	b.commit(t, s)
	b = w.batch()
	all := w.sortedAccounts()
	b.transfer(all[0].ID, all[24].ID, 3) // balances change after creation
	b.commit(t, s)
	all = w.sortedAccounts()

	for _, limit := range []int{1, 5, 10, 24, 25, 26, store.PageLimitMax} {
		var got []ledger.Account
		after := ledger.ID{}
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("ListAccounts(limit %d): no last page", limit)
			}
			p, err := s.ListAccounts(bg, after, limit)
			if err != nil {
				t.Fatalf("ListAccounts(after %v, limit %d): %v", after, limit, err)
			}
			got = append(got, p.Accounts...)
			if p.Next.IsZero() {
				break
			}
			if len(p.Accounts) != limit || p.Next != p.Accounts[len(p.Accounts)-1].ID {
				t.Fatalf("ListAccounts(limit %d): page of %d with Next %v, want a full page ending at Next", limit, len(p.Accounts), p.Next)
			}
			after = p.Next
		}
		if diff := gocmp.Diff(all, got); diff != "" {
			t.Errorf("ListAccounts(limit %d) pages mismatch (-want +got):\n%s", limit, diff)
		}
	}

	// A page that ends exactly at the last account is the last page.
	p, err := s.ListAccounts(bg, all[19].ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Accounts) != 5 || !p.Next.IsZero() {
		t.Errorf("ListAccounts(last 5, limit 5) = %d accounts, Next %v; want 5 and zero", len(p.Accounts), p.Next)
	}
	// A cursor between two ids starts at the next one.
	if between := idPlusOne(all[10].ID); between != all[11].ID {
		p, err = s.ListAccounts(bg, between, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Accounts) != 1 || p.Accounts[0].ID != all[11].ID {
			t.Errorf("ListAccounts(after %v, 1) = %v, want %v", between, p.Accounts, all[11].ID)
		}
	}
	// After the largest id there is nothing.
	for _, after := range []ledger.ID{all[24].ID, ledger.IDMax} {
		p, err = s.ListAccounts(bg, after, 10)
		if err != nil || len(p.Accounts) != 0 || !p.Next.IsZero() {
			t.Errorf("ListAccounts(after %v) = %+v, %v; want an empty last page", after, p, err)
		}
	}
}

func testListAccountsLimits(t *testing.T, h Harness) {
	s := h.Open(t)
	for _, limit := range []int{0, -1, store.PageLimitMax + 1, math.MaxInt} {
		if _, err := s.ListAccounts(bg, ledger.ID{}, limit); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("ListAccounts(limit %d) error = %v, want ErrInvalidArgument", limit, err)
		}
	}
	w := newWorld(newGen(8), 1)
	b := w.batch()
	for range store.PageLimitMax + 1 {
		b.account()
	}
	b.commit(t, s)
	p, err := s.ListAccounts(bg, ledger.ID{}, store.PageLimitMax)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Accounts) != store.PageLimitMax || p.Next != p.Accounts[store.PageLimitMax-1].ID {
		t.Errorf("ListAccounts(limit PageLimitMax) = %d accounts, Next %v; want %d and a cursor", len(p.Accounts), p.Next, store.PageLimitMax)
	}
}

func testGetTransfer(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(9), 1)
	if _, err := s.GetTransfer(bg, ledger.IDFromUint64(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTransfer(empty store) error = %v, want ErrNotFound", err)
	}
	b := w.batch()
	var accts []ledger.ID
	for range 5 {
		accts = append(accts, b.account())
	}
	b.commit(t, s)
	// Many batches of ids of every kind, time-ordered ids sharing
	// milliseconds across batches.
	for i := range 6 {
		b = w.batch()
		for j := range 50 + 40*i {
			b.transfer(accts[j%5], accts[(j+2)%5], uint64(j+1))
		}
		b.commit(t, s)
	}
	checkTransfers(t, s, w)

	// Unknown ids: near known ones (same 48-bit prefix), extremes, random.
	unknown := []ledger.ID{{}, ledger.IDMax, w.g.randomID(), w.g.ulid(), ledger.IDFromUint64(1 << 40)}
	for _, r := range w.transfers[:30] {
		id := r.ID
		id[15] ^= 0x80
		unknown = append(unknown, id)
	}
	known := map[ledger.ID]bool{}
	for _, r := range w.transfers {
		known[r.ID] = true
	}
	for _, a := range accts {
		unknown = append(unknown, a) // an account id is not a transfer id
	}
	for _, id := range unknown {
		if known[id] {
			continue
		}
		if _, err := s.GetTransfer(bg, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTransfer(unknown %v) error = %v, want ErrNotFound", id, err)
		}
	}
}

func testListAccountTransfers(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(10), 1)
	b := w.batch()
	var accts []ledger.ID
	for range 4 {
		accts = append(accts, b.account())
	}
	idle := b.account()
	b.commit(t, s)
	for i := range 4 {
		b = w.batch()
		for range 60 + 50*i { // crosses any chunking of a batch's records
			d := w.g.rng.IntN(4)
			c := (d + 1 + w.g.rng.IntN(3)) % 4
			b.transfer(accts[d], accts[c], 1+w.g.rng.Uint64N(100))
		}
		b.commit(t, s)
	}
	for _, id := range accts {
		want := w.accountTransfers(id, 0)
		if len(want) == 0 {
			t.Fatalf("fixture: account %v has no transfers", id)
		}
		for _, limit := range []int{1, 7, 64, len(want), store.PageLimitMax} {
			got := allAccountTransfers(t, s, id, 0, limit)
			if !transfersEqual(want, got, false) {
				t.Errorf("ListAccountTransfers(%v, limit %d) mismatch (-want +got):\n%s", id, limit, gocmp.Diff(want, got))
			}
		}
		// A cursor in the middle, and one between two timestamps.
		mid := want[len(want)/2].Timestamp
		for _, after := range []uint64{mid, mid - 1, want[0].Timestamp - 1} {
			got := allAccountTransfers(t, s, id, after, 10)
			if want := w.accountTransfers(id, after); !transfersEqual(want, got, true) {
				t.Errorf("ListAccountTransfers(%v, after %d) mismatch (-want +got):\n%s", id, after, gocmp.Diff(want, got, equateEmpty))
			}
		}
		// A page that ends exactly at the last transfer is the last page.
		p, err := s.ListAccountTransfers(bg, id, want[len(want)-3].Timestamp, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Transfers) != 2 || p.Next != 0 {
			t.Errorf("ListAccountTransfers(last 2, limit 2) = %d transfers, Next %d; want 2 and 0", len(p.Transfers), p.Next)
		}
		// After the last there is nothing.
		for _, after := range []uint64{want[len(want)-1].Timestamp, math.MaxInt64, math.MaxUint64} {
			p, err := s.ListAccountTransfers(bg, id, after, 10)
			if err != nil || len(p.Transfers) != 0 || p.Next != 0 {
				t.Errorf("ListAccountTransfers(after %d) = %+v, %v; want an empty last page", after, p, err)
			}
		}
	}
	for _, id := range []ledger.ID{idle, w.g.randomID(), {}} {
		p, err := s.ListAccountTransfers(bg, id, 0, 10)
		if err != nil || len(p.Transfers) != 0 || p.Next != 0 {
			t.Errorf("ListAccountTransfers(account %v without transfers) = %+v, %v; want an empty last page", id, p, err)
		}
	}
}

func testListAccountTransfersLimits(t *testing.T, h Harness) {
	s := h.Open(t)
	for _, limit := range []int{0, -1, store.PageLimitMax + 1} {
		if _, err := s.ListAccountTransfers(bg, ledger.IDFromUint64(1), 0, limit); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("ListAccountTransfers(limit %d) error = %v, want ErrInvalidArgument", limit, err)
		}
	}
	w := newWorld(newGen(11), 1)
	b := w.batch()
	x, y := b.account(), b.account()
	for range store.PageLimitMax + 1 {
		b.transfer(x, y, 1)
	}
	b.commit(t, s)
	p, err := s.ListAccountTransfers(bg, y, 0, store.PageLimitMax)
	if err != nil {
		t.Fatal(err)
	}
	want := w.accountTransfers(y, 0)[:store.PageLimitMax]
	if diff := gocmp.Diff(want, p.Transfers); diff != "" || p.Next != want[len(want)-1].Timestamp {
		t.Errorf("ListAccountTransfers(limit PageLimitMax): Next %d, want %d; transfers (-want +got):\n%s", p.Next, want[len(want)-1].Timestamp, diff)
	}
}

func testExtremeValues(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(12), 1)
	b := w.batch()
	x, y := b.account(), b.account()
	ax := b.acct(x)
	ax.DebitsPending = ledger.Uint128{Hi: math.MaxUint64, Lo: math.MaxUint64}
	ax.CreditsPending = ledger.Uint128{Hi: 1 << 63}
	ax.CreditsPosted = ledger.Uint128{Hi: 1, Lo: 1 << 63}
	ax.UserData64, ax.UserData32, ax.Limit, ax.Code = math.MaxUint64, math.MaxUint32, math.MaxUint64, math.MaxUint16
	ax.UserData128 = ledger.IDMax
	ax.Flags = ledger.AccountDebitsMustNotExceedCredits | ledger.AccountHistory | ledger.AccountClosed
	ay := b.acct(y)
	ay.Ledger = math.MaxUint32
	b.transfer(x, y, math.MaxUint64)
	last := &b.transfers[len(b.transfers)-1]
	last.UserData64, last.UserData32, last.Timeout, last.Code = math.MaxUint64, math.MaxUint32, math.MaxUint32, math.MaxUint16
	last.Fingerprint = math.MaxUint64
	last.Flags = ledger.TransferPending | ledger.TransferClosingDebit | ledger.TransferClosingCredit
	last.PendingID = ledger.IDMax
	b.asset(math.MaxUint32, "ABCDEFGHIJKLMNOP", 18)
	b.commit(t, s)
	checkLoad(t, s, w)
	checkTransfers(t, s, w)
	for _, id := range []ledger.ID{x, y} {
		got, err := s.GetAccount(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(w.accounts[id], got); diff != "" {
			t.Errorf("GetAccount(%v) mismatch (-want +got):\n%s", id, diff)
		}
	}
}

func testLargeBatch(t *testing.T, h Harness) {
	if testing.Short() {
		t.Skip("large batch in -short mode")
	}
	s := h.Open(t)
	w := newWorld(newGen(13), 1)
	b := w.batch()
	var accts []ledger.ID
	for range 300 {
		accts = append(accts, b.account())
	}
	b.commit(t, s)
	for range 2 {
		b = w.batch()
		for j := range ledger.BatchEventsMax {
			d := w.g.rng.IntN(len(accts))
			if j%3 == 0 {
				d = 0 // a hot account, in every third transfer
			}
			c := (d + 1 + w.g.rng.IntN(len(accts)-1)) % len(accts)
			b.transfer(accts[d], accts[c], 1+w.g.rng.Uint64N(1000))
		}
		b.commit(t, s)
	}
	checkLoad(t, s, w)
	checkTransfers(t, s, w)
	for _, id := range []ledger.ID{accts[0], accts[1], accts[299]} {
		want := w.accountTransfers(id, 0)
		got := allAccountTransfers(t, s, id, 0, store.PageLimitMax)
		if !transfersEqual(want, got, false) {
			t.Errorf("ListAccountTransfers(%v) mismatch (-want +got):\n%s", id, gocmp.Diff(want, got))
		}
	}
}

// testManyBatches commits many small batches, so a driver that reorganizes
// data every few batches (compaction, partitions) is checked across those
// boundaries, with reads between the commits.
func testManyBatches(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(22), 3)
	b := w.batch()
	var accts []ledger.ID
	for range 6 {
		accts = append(accts, b.account())
	}
	b.commit(t, s)
	for i := range 70 {
		b = w.batch()
		for j := range 1 + i%9 {
			d := (i + j) % 6
			b.transfer(accts[d], accts[(d+1+j%5)%6], uint64(1+j))
		}
		if i%10 == 0 {
			b.outcome("m"+string(rune('a'+i/10)), uint64(i))
		}
		b.commit(t, s)
		if i%13 == 0 {
			for _, id := range accts[:2] {
				want := w.accountTransfers(id, 0)
				if got := allAccountTransfers(t, s, id, 0, 5); !transfersEqual(want, got, true) {
					t.Fatalf("after batch %d: ListAccountTransfers(%v) mismatch (-want +got):\n%s", w.seq, id, gocmp.Diff(want, got, equateEmpty))
				}
			}
		}
	}
	checkLoad(t, s, w)
	checkTransfers(t, s, w)
	for _, id := range accts {
		want := w.accountTransfers(id, 0)
		for _, after := range []uint64{0, want[len(want)/3].Timestamp, want[len(want)-2].Timestamp} {
			if got := allAccountTransfers(t, s, id, after, 11); !transfersEqual(w.accountTransfers(id, after), got, true) {
				t.Errorf("ListAccountTransfers(%v, after %d) mismatch (-want +got):\n%s", id, after, gocmp.Diff(w.accountTransfers(id, after), got, equateEmpty))
			}
		}
		a, err := s.GetAccount(bg, id)
		if err != nil || !gocmp.Equal(w.accounts[id], a) {
			t.Errorf("GetAccount(%v) = %+v, %v; want %+v", id, a, err, w.accounts[id])
		}
	}
}

// failingBatch builds, on a world with one committed batch, a batch that
// touches everything: new asset and accounts, changed accounts, transfers,
// expiries and outcomes.
func failingBatch(t *testing.T, s store.Store, w *world) *builder {
	t.Helper()
	b := w.batch()
	b.asset(1, "USD", 2)
	x, y := b.account(), b.account()
	b.transfer(x, y, 5)
	b.outcome("first", 100)
	b.commit(t, s)

	b = w.batch()
	b.asset(2, "EUR", 2)
	z := b.account()
	for i := range 100 {
		b.transfer([]ledger.ID{x, y, z}[i%3], []ledger.ID{y, z, x}[i%3], uint64(i+1))
	}
	b.expiry(w.g.randomID())
	b.outcome("second", 200)
	return b
}

// checkNothingOf checks that nothing of batch is visible.
func checkNothingOf(t *testing.T, s store.Store, w *world, batch *ledger.Batch) {
	t.Helper()
	checkLoad(t, s, w)
	for _, r := range batch.Transfers {
		if _, err := s.GetTransfer(bg, r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTransfer(%v of the failed batch) error = %v, want ErrNotFound", r.ID, err)
		}
	}
	for _, a := range batch.Accounts {
		got, err := s.GetAccount(bg, a.ID)
		old, existed := w.accounts[a.ID]
		switch {
		case !existed && !errors.Is(err, store.ErrNotFound):
			t.Errorf("GetAccount(%v created by the failed batch) error = %v, want ErrNotFound", a.ID, err)
		case existed && err != nil:
			t.Errorf("GetAccount(%v): %v", a.ID, err)
		case existed && !gocmp.Equal(old, got):
			t.Errorf("GetAccount(%v) shows the failed batch (-before +got):\n%s", a.ID, gocmp.Diff(old, got))
		}
		want := w.accountTransfers(a.ID, 0)
		if got := allAccountTransfers(t, s, a.ID, 0, 100); !transfersEqual(want, got, true) {
			t.Errorf("ListAccountTransfers(%v) shows the failed batch (-want +got):\n%s", a.ID, gocmp.Diff(want, got, equateEmpty))
		}
	}
	for _, o := range batch.Outcomes {
		if _, stored := w.outcomes[o.Key]; stored {
			continue
		}
		if _, err := s.GetOutcome(bg, o.Key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetOutcome(%q of the failed batch) error = %v, want ErrNotFound", o.Key, err)
		}
	}
	assets, err := s.ListAssets(bg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(w.want().Assets, assets, equateEmpty); diff != "" {
		t.Errorf("ListAssets shows the failed batch (-want +got):\n%s", diff)
	}
}

func testFailedBatchOutcomeConflict(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(14), 1)
	b := failingBatch(t, s, w)
	dup := b.build()
	dup.Outcomes = append(dup.Outcomes, ledger.Outcome{Key: "first", Status: 201, CreatedAt: 300})
	err := s.CommitBatch(bg, dup)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CommitBatch(outcome key already stored) error = %v, want ErrConflict", err)
	}
	checkNothingOf(t, s, w, dup)
	stored, err := s.GetOutcome(bg, "first")
	if err != nil || stored.Status != w.outcomes["first"].Status {
		t.Errorf("GetOutcome(first) = %+v, %v; want the first batch's", stored, err)
	}
	// The store is still usable and the same seq commits once fixed.
	b.commit(t, s)
	checkLoad(t, s, w)
	checkTransfers(t, s, w)
}

func testFailedBatchDuplicateOutcomeInBatch(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(15), 1)
	b := failingBatch(t, s, w)
	b.outcome("twice", 1)
	b.outcome("twice", 2)
	batch := b.build()
	if err := s.CommitBatch(bg, batch); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CommitBatch(one key twice) error = %v, want ErrConflict", err)
	}
	checkNothingOf(t, s, w, batch)
}

func testFailedBatchCancelledContext(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(16), 1)
	b := failingBatch(t, s, w)
	batch := b.build()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := s.CommitBatch(ctx, batch); err == nil {
		t.Fatal("CommitBatch(cancelled context) succeeded, want an error")
	}
	checkNothingOf(t, s, w, batch)
	b.commit(t, s)
	checkLoad(t, s, w)
}

func testOutcomes(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(17), 1)
	if _, err := s.GetOutcome(bg, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOutcome(unknown) error = %v, want ErrNotFound", err)
	}
	b := w.batch()
	o1 := b.outcome("caller/POST /v1/transfers/k1", 100)
	o2 := b.outcome("k2", 200)
	o3 := b.outcome("k3 with ünïcode", 300)
	o3.Body = nil
	b.outcomes[2].Body = nil // an empty body
	b.commit(t, s)
	b = w.batch() // outcomes can come with no ledger events
	o4 := b.outcome("k4", 400)
	b.commit(t, s)
	for _, want := range []ledger.Outcome{o1, o2, o3, o4} {
		got, err := s.GetOutcome(bg, want.Key)
		if err != nil {
			t.Fatalf("GetOutcome(%q): %v", want.Key, err)
		}
		if diff := gocmp.Diff(want, got, equateEmpty); diff != "" {
			t.Errorf("GetOutcome(%q) mismatch (-want +got):\n%s", want.Key, diff)
		}
	}
	for _, tc := range []struct {
		before uint64
		want   int
	}{{0, 0}, {100, 0}, {200, 1}, {200, 0}, {301, 2}, {math.MaxUint64, 1}} {
		n, err := s.DeleteOutcomesBefore(bg, tc.before)
		if err != nil || n != tc.want {
			t.Errorf("DeleteOutcomesBefore(%d) = %d, %v; want %d", tc.before, n, err, tc.want)
		}
		if tc.before == 200 && tc.want == 1 {
			if _, err := s.GetOutcome(bg, o1.Key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetOutcome(deleted) error = %v, want ErrNotFound", err)
			}
			if _, err := s.GetOutcome(bg, o2.Key); err != nil {
				t.Errorf("GetOutcome(created at the bound) error = %v, want kept", err)
			}
		}
	}
	// A deleted key can be stored again.
	b = w.batch()
	b.outcome(o1.Key, 500)
	b.commit(t, s)
}

func testAPIKeys(t *testing.T, h Harness) {
	s := h.Open(t)
	g := newGen(18)
	if keys, err := s.ListAPIKeys(bg); err != nil || len(keys) != 0 {
		t.Errorf("ListAPIKeys(empty store) = %v, %v; want none", keys, err)
	}
	mk := func(secret string, role store.Role, created uint64) store.APIKey {
		return store.APIKey{ID: g.ulid(), Hash: sha256.Sum256([]byte(secret)), Prefix: secret[:4],
			Party: "merchant_" + secret, Role: role, Name: "key " + secret, CreatedAt: created}
	}
	k1, k2, k3 := mk("sk_live_1", store.RoleAdmin, 100), mk("sk_live_2", store.RoleWriter, 200), mk("sk_live_3", store.RoleReader, 300)
	k3.RevokedAt = 350
	for _, k := range []store.APIKey{k1, k2, k3} {
		if err := s.CreateAPIKey(bg, k); err != nil {
			t.Fatalf("CreateAPIKey(%s): %v", k.Name, err)
		}
	}
	sameHash := mk("sk_live_1", store.RoleReader, 400)
	if err := s.CreateAPIKey(bg, sameHash); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateAPIKey(duplicate hash) error = %v, want ErrConflict", err)
	}
	sameID := mk("sk_live_4", store.RoleReader, 400)
	sameID.ID = k2.ID
	if err := s.CreateAPIKey(bg, sameID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateAPIKey(duplicate id) error = %v, want ErrConflict", err)
	}
	for _, want := range []store.APIKey{k1, k2, k3} {
		got, err := s.GetAPIKeyByHash(bg, want.Hash)
		if err != nil {
			t.Fatalf("GetAPIKeyByHash(%s): %v", want.Name, err)
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("GetAPIKeyByHash(%s) mismatch (-want +got):\n%s", want.Name, diff)
		}
	}
	if _, err := s.GetAPIKeyByHash(bg, sha256.Sum256([]byte("unknown"))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAPIKeyByHash(unknown) error = %v, want ErrNotFound", err)
	}

	if err := s.RevokeAPIKey(bg, k1.ID, 500); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	if err := s.RevokeAPIKey(bg, k1.ID, 600); err != nil {
		t.Fatalf("RevokeAPIKey(again): %v", err)
	}
	if err := s.RevokeAPIKey(bg, k3.ID, 700); err != nil {
		t.Fatalf("RevokeAPIKey(revoked at creation): %v", err)
	}
	if err := s.RevokeAPIKey(bg, g.ulid(), 500); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeAPIKey(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.RevokeAPIKey(bg, k2.ID, 0); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("RevokeAPIKey(at 0) error = %v, want ErrInvalidArgument", err)
	}
	k1.RevokedAt = 500 // the first revocation stays
	got, err := s.ListAPIKeys(bg)
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	if diff := gocmp.Diff([]store.APIKey{k1, k2, k3}, got); diff != "" {
		t.Errorf("ListAPIKeys mismatch (-want +got):\n%s", diff)
	}
	revoked, err := s.GetAPIKeyByHash(bg, k1.Hash)
	if err != nil || revoked.RevokedAt != 500 {
		t.Errorf("GetAPIKeyByHash(revoked) = %+v, %v; want RevokedAt 500", revoked, err)
	}
}

func testMigrate(t *testing.T, h Harness) {
	s := h.Open(t)
	v, err := s.SchemaVersion(bg)
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want at least 1", v, err)
	}
	w := newWorld(newGen(19), 1)
	b := w.batch()
	x, y := b.account(), b.account()
	b.transfer(x, y, 9)
	b.commit(t, s)
	for range 2 {
		if err := s.Migrate(bg); err != nil {
			t.Fatalf("Migrate(migrated store): %v", err)
		}
	}
	if got, err := s.SchemaVersion(bg); err != nil || got != v {
		t.Errorf("SchemaVersion after Migrate = %d, %v; want %d", got, err, v)
	}
	checkLoad(t, s, w)
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the harness cannot reopen a store")
	}
	s := h.Open(t)
	w := newWorld(newGen(20), 2)
	b := w.batch()
	b.asset(1, "USD", 2)
	var accts []ledger.ID
	for range 10 {
		accts = append(accts, b.account())
	}
	b.commit(t, s)
	for i := range 3 {
		b = w.batch()
		for j := range 100 {
			b.transfer(accts[j%10], accts[(j+i+1)%10], uint64(j+1))
		}
		b.expiry(w.g.randomID())
		b.outcome("k"+string(rune('a'+i)), uint64(i+1))
		b.commit(t, s)
	}
	key := store.APIKey{ID: w.g.ulid(), Hash: sha256.Sum256([]byte("s")), Prefix: "s", Party: "operator",
		Role: store.RoleAdmin, Name: "root", CreatedAt: 1}
	if err := s.CreateAPIKey(bg, key); err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(bg)
	if err != nil {
		t.Fatal(err)
	}

	s = h.Reopen(t, s)
	if got, err := s.SchemaVersion(bg); err != nil || got != v {
		t.Errorf("SchemaVersion after reopen = %d, %v; want %d", got, err, v)
	}
	checkLoad(t, s, w)
	checkTransfers(t, s, w)
	for _, id := range accts {
		if got := allAccountTransfers(t, s, id, 0, 33); !transfersEqual(w.accountTransfers(id, 0), got, false) {
			t.Errorf("ListAccountTransfers(%v) after reopen mismatch (-want +got):\n%s", id, gocmp.Diff(w.accountTransfers(id, 0), got))
		}
	}
	for k, want := range w.outcomes {
		if got, err := s.GetOutcome(bg, k); err != nil || !gocmp.Equal(want, got) {
			t.Errorf("GetOutcome(%q) after reopen = %+v, %v; want %+v", k, got, err, want)
		}
	}
	if got, err := s.GetAPIKeyByHash(bg, key.Hash); err != nil || got != key {
		t.Errorf("GetAPIKeyByHash after reopen = %+v, %v; want %+v", got, err, key)
	}
	// The fence survives: the last batch cannot be applied again, the
	// next one commits.
	again := w.batch().build()
	again.Seq = w.seq
	if err := s.CommitBatch(bg, again); err == nil {
		t.Error("CommitBatch(last seq again) after reopen succeeded, want an error")
	}
	b = w.batch()
	b.transfer(accts[0], accts[1], 1)
	b.commit(t, s)
	checkLoad(t, s, w)
}

func testConcurrentReaders(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(21), 5)
	b := w.batch()
	x, y := b.account(), b.account()
	b.commit(t, s)
	// Every later batch moves 1 from x to y perTransfers times, so a reader
	// that sees part of a batch sees a count that is not a multiple.
	const (
		batches      = 10
		perBatch     = 97
		readers      = 3
		readsPerLoop = 3
	)
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lastSeen uint64
			for i := 0; ; i++ {
				stop := done.Load() // read once more after the writer is done
				switch (r + i) % readsPerLoop {
				case 0:
					a, err := s.GetAccount(bg, x)
					if err != nil {
						t.Errorf("GetAccount: %v", err)
						return
					}
					if n := a.DebitsPosted.Lo; n%perBatch != 0 || n < lastSeen || a.DebitsPosted.Hi != 0 {
						t.Errorf("GetAccount sees debits posted %v, want a multiple of %d and at least %d", a.DebitsPosted, perBatch, lastSeen)
					} else {
						lastSeen = n
					}
				case 1:
					p, err := s.ListAccountTransfers(bg, y, 0, store.PageLimitMax)
					if err != nil {
						t.Errorf("ListAccountTransfers: %v", err)
						return
					}
					if len(p.Transfers)%perBatch != 0 {
						t.Errorf("ListAccountTransfers sees %d transfers, want a multiple of %d", len(p.Transfers), perBatch)
					}
				case 2:
					var rec recorder
					if err := s.Load(bg, w.shard, &rec); err != nil {
						t.Errorf("Load: %v", err)
						return
					}
					want := (rec.got.Seq - 1) * perBatch
					var debits uint64
					for _, a := range rec.got.Accounts {
						if a.ID == x {
							debits = a.DebitsPosted.Lo
						}
					}
					if uint64(len(rec.got.Transfers)) != want || debits != want {
						t.Errorf("Load at seq %d sees %d transfers and debits %d, want %d of each", rec.got.Seq, len(rec.got.Transfers), debits, want)
					}
				}
				if stop {
					return
				}
			}
		}()
	}
	for range batches {
		b := w.batch()
		for range perBatch {
			b.transfer(x, y, 1)
		}
		b.commit(t, s)
	}
	done.Store(true)
	wg.Wait()
	checkLoad(t, s, w)
}
