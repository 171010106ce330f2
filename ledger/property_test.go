package ledger

import (
	"testing"

	"pgregory.net/rapid"
)

// genTransfer draws a transfer over a small account and id space so that
// collisions, chains, posts of unknown pendings, limits and replays are
// all common.
func genTransfer(t *rapid.T, accounts int, label string) Transfer {
	kind := rapid.IntRange(0, 9).Draw(t, label+"kind")
	tr := Transfer{
		ID:     id(rapid.Uint64Range(1, 400).Draw(t, label+"id")),
		Ledger: usd,
		Code:   1,
	}
	acct := func(name string) ID { return id(rapid.Uint64Range(1, uint64(accounts)).Draw(t, label+name)) }
	switch {
	case kind <= 4: // plain, sometimes balancing
		tr.DebitAccountID, tr.CreditAccountID = acct("dr"), acct("cr")
		tr.Amount = rapid.Uint64Range(0, 300).Draw(t, label+"amount")
		if rapid.IntRange(0, 5).Draw(t, label+"bal") == 0 {
			tr.Flags |= TransferBalancingDebit
		}
	case kind <= 6: // pending
		tr.DebitAccountID, tr.CreditAccountID = acct("dr"), acct("cr")
		tr.Amount = rapid.Uint64Range(0, 300).Draw(t, label+"amount")
		tr.Flags |= TransferPending
		tr.Timeout = uint32(rapid.IntRange(0, 3).Draw(t, label+"timeout"))
	case kind <= 8: // post, partial or full
		tr.PendingID = id(rapid.Uint64Range(1, 400).Draw(t, label+"pid"))
		tr.Flags |= TransferPostPending
		tr.Amount = rapid.SampledFrom([]uint64{0, 10, 100, AmountMax}).Draw(t, label+"amount")
	default: // void
		tr.PendingID = id(rapid.Uint64Range(1, 400).Draw(t, label+"pid"))
		tr.Flags |= TransferVoidPending
	}
	if rapid.IntRange(0, 3).Draw(t, label+"link") == 0 {
		tr.Flags |= TransferLinked
	}
	return tr
}

type pendingObservation struct{ resolved int }

// TestPropertyInvariants applies random requests and checks after every
// step: debits equal credits per ledger, no limit is violated, pending
// balances equal the active pending transfers, a pending transfer resolves
// at most once, and replaying a request that committed returns exists.
func TestPropertyInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		accounts := rapid.IntRange(2, 6).Draw(t, "accounts")
		s := NewState(0, nil)
		s.Begin()
		res := make([]Result, 1)
		s.CreateAssets(1, []Asset{{Ledger: usd, Code: "USD", Scale: 2}}, res)
		for i := 1; i <= accounts; i++ {
			a := Account{ID: id(uint64(i)), Ledger: usd, Code: 1}
			if i > 1 {
				a.Flags = AccountDebitsMustNotExceedCredits
				a.Limit = uint64(rapid.SampledFrom([]int{0, 0, 50}).Draw(t, "limit"))
			}
			s.CreateAccounts(1, []Account{a}, res)
			if res[0] != ResultOK {
				t.Fatalf("account: %v", res[0])
			}
		}
		now := uint64(1_000_000_000)
		resolved := map[ID]PendingStatus{}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			now += rapid.Uint64Range(0, 2_000_000_000).Draw(t, "advance")
			s.Expire(now)
			n := rapid.IntRange(1, 5).Draw(t, "n")
			req := make([]Transfer, n)
			for i := range req {
				req[i] = genTransfer(t, accounts, "")
			}
			orig := append([]Transfer(nil), req...)
			results := make([]Result, n)
			s.CreateTransfers(now, req, results)
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			for i, r := range results {
				if r != ResultOK && req[i] != orig[i] {
					t.Fatalf("step %d: rejected transfer %d (%v) was changed", step, i, r)
				}
			}
			// Resolution happens at most once and never changes afterwards.
			for pid, was := range resolved {
				if now := s.PendingStatus(pid); now != was {
					t.Fatalf("pending %v changed from %v to %v", pid, was, now)
				}
			}
			for pid, p := range s.pending {
				if p.status != PendingActive {
					resolved[pid] = p.status
				}
			}
			// Replay: a request whose every event committed now returns exists.
			allOK := true
			for _, r := range results {
				allOK = allOK && r == ResultOK
			}
			if allOK {
				replay := append([]Transfer(nil), orig...)
				again := make([]Result, n)
				s.CreateTransfers(now, replay, again)
				for i, r := range again {
					if r != ResultExists {
						t.Fatalf("step %d: replay of %d returned %v, want exists", step, i, r)
					}
				}
			}
		}
	})
}

// TestPropertyDeterministic applies the same random requests to two
// states and checks they end equal.
func TestPropertyDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := NewState(0, nil), NewState(0, nil)
		for _, s := range []*State{a, b} {
			s.Begin()
			res := make([]Result, 3)
			s.CreateAssets(1, []Asset{{Ledger: usd, Code: "USD", Scale: 2}}, res[:1])
			s.CreateAccounts(1, []Account{
				{ID: id(1), Ledger: usd, Code: 1},
				{ID: id(2), Ledger: usd, Code: 1, Flags: AccountDebitsMustNotExceedCredits},
				{ID: id(3), Ledger: usd, Code: 1, Flags: AccountDebitsMustNotExceedCredits},
			}, res)
		}
		now := uint64(1)
		for step := rapid.IntRange(1, 40).Draw(t, "steps"); step > 0; step-- {
			now += rapid.Uint64Range(0, 3e9).Draw(t, "advance")
			req := []Transfer{genTransfer(t, 3, "")}
			ra, rb := make([]Result, 1), make([]Result, 1)
			a.Expire(now)
			b.Expire(now)
			ca := append([]Transfer(nil), req...)
			a.CreateTransfers(now, ca, ra)
			b.CreateTransfers(now, req, rb)
			if ra[0] != rb[0] || ca[0] != req[0] {
				t.Fatalf("diverged: %v vs %v", ra[0], rb[0])
			}
		}
		for i := range a.accounts {
			if a.accounts[i] != b.accounts[i] {
				t.Fatalf("account %d differs", i)
			}
		}
		if a.lastTimestamp != b.lastTimestamp || len(a.ids) != len(b.ids) {
			t.Fatal("states differ")
		}
	})
}
