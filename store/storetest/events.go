package storetest

import (
	"cmp"
	"slices"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// eventsWant returns what Events(shard, from, to) must stream for the
// world: its records in [from, to], accounts as they are now, each kind in
// timestamp order.
func (w *world) eventsWant(from, to uint64) loaded {
	in := func(ts uint64) bool { return ts >= from && ts <= to }
	var l loaded
	for _, a := range w.assets {
		if in(a.Timestamp) {
			l.Assets = append(l.Assets, a)
		}
	}
	for _, a := range w.accounts {
		if in(a.Timestamp) {
			l.Accounts = append(l.Accounts, a)
		}
	}
	slices.SortFunc(l.Accounts, func(x, y ledger.Account) int { return cmp.Compare(x.Timestamp, y.Timestamp) })
	for _, t := range w.transfers {
		if in(t.Timestamp) {
			l.Transfers = append(l.Transfers, t)
		}
	}
	for _, e := range w.expiries {
		if in(e.Timestamp) {
			l.Expiries = append(l.Expiries, e)
		}
	}
	return l
}

// events runs Events and returns what it streamed, in call order.
func events(t *testing.T, s store.Store, shard uint32, from, to uint64) loaded {
	t.Helper()
	r := recorder{phase: 1}
	if err := s.Events(bg, shard, from, to, &r); err != nil {
		t.Fatalf("Events(shard %d, [%d, %d]): %v", shard, from, to, err)
	}
	if r.positions != 0 {
		t.Errorf("Events called Position")
	}
	for _, e := range r.errs {
		t.Errorf("Events(shard %d, [%d, %d]): %s", shard, from, to, e)
	}
	return r.got
}

// testEvents: Events returns exactly the records of a timestamp range,
// each kind in timestamp order, whichever batches they came from (so a
// batch's records can be read back by the range of its timestamps), and
// nothing of another shard.
func testEvents(t *testing.T, h Harness) {
	s := h.Open(t)
	g := newGen(77)
	w, other := newWorld(g, 0), newWorld(g, 1)
	var bounds [][2]uint64 // each batch's first and last record timestamps
	var accts []ledger.ID
	for i := range 40 {
		b := w.batch()
		first := b.ts + 1
		if i == 0 {
			b.asset(1, "USD", 2)
		}
		if i%7 == 3 {
			b.asset(uint32(10+i), "X"+string(rune('A'+i%26)), 0)
		}
		for range 2 + i%3 {
			accts = append(accts, b.account())
		}
		for j := range 1 + (i*37)%150 { // some batches span several transfer chunks
			d, c := (i+j)%len(accts), (i+2*j+1)%len(accts)
			if d == c {
				c = (c + 1) % len(accts)
			}
			b.transfer(accts[d], accts[c], uint64(1+j))
		}
		if i%5 == 4 {
			b.expiry(b.w.g.randomID())
		}
		batch := b.commit(t, s)
		bounds = append(bounds, [2]uint64{first, batch.Timestamp})
		ob := other.batch()
		ob.ts = batch.Timestamp // interleave timestamps with shard 0's
		x, y := ob.account(), ob.account()
		ob.transfer(x, y, 1)
		ob.commit(t, s)
	}
	check := func(from, to uint64) {
		t.Helper()
		got, want := events(t, s, 0, from, to), w.eventsWant(from, to)
		if d := diffLoaded(want, got); d != "" {
			t.Fatalf("Events(0, [%d, %d]): %s", from, to, d)
		}
	}
	for _, bd := range bounds {
		check(bd[0], bd[1])
	}
	check(bounds[3][0], bounds[9][1])
	check(bounds[5][0]+1, bounds[5][1]-1)
	check(0, bounds[len(bounds)-1][1]+1000)
	check(bounds[len(bounds)-1][1]+1, bounds[len(bounds)-1][1]+5)
	if got := events(t, s, 2, 0, 1<<62); got.Assets != nil || got.Accounts != nil || got.Transfers != nil || got.Expiries != nil {
		t.Fatalf("Events of an empty shard = %+v", got)
	}
	// Balances change; the accounts streamed are the current ones.
	b := w.batch()
	b.transfer(accts[0], accts[1], 99)
	b.commit(t, s)
	check(bounds[0][0], bounds[0][1])
}

// testDocs: docs commit with their batch and are read back exactly by
// timestamp range, by kind and key (history, oldest first) and by kind;
// an empty body reads back empty; docs out of timestamp order are refused.
func testDocs(t *testing.T, h Harness) {
	s := h.Open(t)
	g := newGen(91)
	w, other := newWorld(g, 0), newWorld(g, 1)
	var firsts []uint64
	for i := range 12 {
		b := w.batch()
		firsts = append(firsts, b.ts+1)
		x, y := b.account(), b.account()
		b.transfer(x, y, 5)
		b.doc("mandate_issued", "mdt_"+string(rune('a'+i)), []byte(`{"n":`+string(rune('0'+i%10))+`}`))
		if i%3 == 0 {
			b.doc("mandate_revoked", "mdt_"+string(rune('a'+i)), nil)
		}
		b.commit(t, s)
		ob := other.batch()
		ob.ts = b.ts
		ob.doc("mandate_issued", "mdt_other", []byte("x"))
		ob.commit(t, s)
	}
	list := func(shard uint32, from, to uint64) []ledger.Doc {
		t.Helper()
		var out []ledger.Doc
		if err := s.ListDocs(bg, shard, from, to, func(d ledger.Doc) error { out = append(out, d); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	equal := func(what string, got, want []ledger.Doc) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d docs, want %d", what, len(got), len(want))
		}
		for i := range want {
			if got[i].Kind != want[i].Kind || got[i].Key != want[i].Key || got[i].Timestamp != want[i].Timestamp ||
				string(got[i].Body) != string(want[i].Body) {
				t.Fatalf("%s: doc %d = %+v, want %+v", what, i, got[i], want[i])
			}
		}
	}
	equal("all of shard 0", list(0, 0, 1<<62), w.docs)
	var want []ledger.Doc
	for _, d := range w.docs {
		if d.Timestamp >= firsts[4] && d.Timestamp < firsts[7] {
			want = append(want, d)
		}
	}
	equal("a range", list(0, firsts[4], firsts[7]-1), want)
	hist, err := s.DocHistory(bg, "mandate_issued", "mdt_d")
	if err != nil {
		t.Fatal(err)
	}
	equal("history", hist, []ledger.Doc{w.docs[4]})
	if hist, err := s.DocHistory(bg, "mandate_revoked", "mdt_nope"); err != nil || len(hist) != 0 {
		t.Fatalf("history of an unknown key: %v, %v", hist, err)
	}
	var revoked []ledger.Doc
	if err := s.DocsOfKind(bg, "mandate_revoked", 0, func(d ledger.Doc) error { revoked = append(revoked, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 4 || len(revoked[0].Body) != 0 {
		t.Fatalf("revoked docs %+v, want 4 with empty bodies", revoked)
	}
	// Out of order: refused, nothing written.
	b := w.batch()
	d1 := b.doc("approval", "ap_1", []byte("1"))
	b.doc("approval", "ap_2", []byte("2"))
	batch := b.build()
	batch.Docs[1].Timestamp = d1.Timestamp
	if err := s.CommitBatch(bg, batch); err == nil {
		t.Fatal("CommitBatch accepted docs out of timestamp order")
	}
	if hist, _ := s.DocHistory(bg, "approval", "ap_1"); len(hist) != 0 {
		t.Fatalf("a refused batch wrote docs: %+v", hist)
	}
}
