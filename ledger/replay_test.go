package ledger

import (
	"testing"

	"pgregory.net/rapid"
)

// replayBatch feeds a batch's records to r in timestamp order.
func replayBatch(r *Replay, b *Batch) error {
	for _, a := range b.Accounts {
		if err := r.Account(a); err != nil {
			return err
		}
	}
	i, j := 0, 0
	for i < len(b.Transfers) || j < len(b.Expiries) {
		if j == len(b.Expiries) || (i < len(b.Transfers) && b.Transfers[i].Timestamp < b.Expiries[j].Timestamp) {
			if err := r.Transfer(&b.Transfers[i]); err != nil {
				return err
			}
			i++
			continue
		}
		if err := r.Expiry(b.Expiries[j]); err != nil {
			return err
		}
		j++
	}
	return nil
}

// TestPropertyReplay: replaying the committed records of random requests
// (plain, balancing, pending with timeouts, closing, posts, voids,
// expiries, linked chains with rollbacks) gives exactly the state's
// balances and closed flags.
func TestPropertyReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		accounts := rapid.IntRange(2, 6).Draw(t, "accounts")
		s := NewState(0, nil)
		s.Begin()
		res := make([]Result, 1)
		s.CreateAssets(1, []Asset{{Ledger: usd, Code: "USD", Scale: 2}}, res)
		for i := 1; i <= accounts; i++ {
			a := Account{ID: id(uint64(i)), Ledger: usd, Code: 1}
			if i > 1 && rapid.Bool().Draw(t, "limited") {
				a.Flags = AccountDebitsMustNotExceedCredits
				a.Limit = 100
			}
			s.CreateAccounts(2, []Account{a}, res)
		}
		now := uint64(1_000_000_000)
		for step := rapid.IntRange(1, 60).Draw(t, "steps"); step > 0; step-- {
			now += rapid.Uint64Range(0, 2_000_000_000).Draw(t, "advance")
			s.Expire(now)
			req := make([]Transfer, rapid.IntRange(1, 4).Draw(t, "n"))
			for i := range req {
				req[i] = genTransfer(t, accounts, "")
				if req[i].Flags&TransferPending != 0 && rapid.IntRange(0, 4).Draw(t, "closing") == 0 {
					req[i].Flags |= TransferClosingDebit
				}
			}
			s.CreateTransfers(now, req, make([]Result, len(req)))
		}
		b := s.Finish()
		r := NewReplay()
		if err := replayBatch(r, b); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= accounts; i++ {
			want, _ := s.Account(id(uint64(i)))
			got, ok := r.AccountState(id(uint64(i)))
			if !ok || got != want {
				t.Fatalf("account %d: replayed %+v, state %+v", i, got, want)
			}
		}
		if n := len(r.Accounts()); n != accounts {
			t.Fatalf("replay has %d accounts, want %d", n, accounts)
		}
	})
}

// TestReplayRejects: records that cannot have been committed are refused
// with the record named.
func TestReplayRejects(t *testing.T) {
	fresh := func() *Replay {
		r := NewReplay()
		for i := uint64(1); i <= 2; i++ {
			if err := r.Account(Account{ID: id(i), Ledger: usd, Code: 1, Timestamp: i}); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	tr := func(n uint64, ts uint64, f TransferFlags, pid uint64) *TransferRecord {
		return &TransferRecord{Transfer: Transfer{ID: id(n), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5,
			Ledger: usd, Code: 1, Flags: f, PendingID: func() ID {
				if pid == 0 {
					return ID{}
				}
				return id(pid)
			}(), Timestamp: ts}}
	}
	cases := map[string]func(r *Replay) error{
		"out of order": func(r *Replay) error {
			if err := r.Transfer(tr(10, 5, 0, 0)); err != nil {
				return nil
			}
			return r.Transfer(tr(11, 4, 0, 0))
		},
		"unknown account": func(r *Replay) error {
			x := tr(10, 5, 0, 0)
			x.CreditAccountID = id(9)
			return r.Transfer(x)
		},
		"post of nothing":   func(r *Replay) error { return r.Transfer(tr(10, 5, TransferPostPending, 77)) },
		"expiry of nothing": func(r *Replay) error { return r.Expiry(Expiry{PendingID: id(77), Timestamp: 9}) },
		"post twice": func(r *Replay) error {
			if r.Transfer(tr(10, 5, TransferPending, 0)) != nil || r.Transfer(tr(11, 6, TransferPostPending, 10)) != nil {
				return nil
			}
			return r.Transfer(tr(12, 7, TransferVoidPending, 10))
		},
		"post more than pending": func(r *Replay) error {
			if r.Transfer(tr(10, 5, TransferPending, 0)) != nil {
				return nil
			}
			x := tr(11, 6, TransferPostPending, 10)
			x.Amount = 6
			return r.Transfer(x)
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			if err := fn(fresh()); err == nil {
				t.Fatal("replay accepted it")
			}
		})
	}
}
