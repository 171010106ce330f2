package ledger

import (
	"fmt"
	"maps"
	"slices"
)

// Replay recomputes account balances from committed records alone: the
// accounts as created (zero balances) and every transfer and expiry, fed
// in timestamp order. An auditor uses it to check that the balances a
// store holds are exactly what its transfers imply. It does not re-check
// the ledger's rules (limits, ledgers, codes); it checks only what the
// records must satisfy to be replayable, and reports the first record that
// is not, with its id.
type Replay struct {
	accounts map[ID]*Account
	pending  map[ID]replayPending
	last     uint64
}

type replayPending struct {
	debit, credit ID
	amount        uint64
	flags         TransferFlags
}

// NewReplay returns an empty replay.
func NewReplay() *Replay {
	return &Replay{accounts: map[ID]*Account{}, pending: map[ID]replayPending{}}
}

func (r *Replay) tick(ts uint64, what string) error {
	if ts <= r.last {
		return fmt.Errorf("ledger: replay: %s at timestamp %d is not after %d", what, ts, r.last)
	}
	r.last = ts
	return nil
}

// Account adds an account as created; its balances and closed flag are
// ignored (they start at zero and open).
func (r *Replay) Account(a Account) error {
	if err := r.tick(a.Timestamp, "account "+a.ID.String()); err != nil {
		return err
	}
	if _, ok := r.accounts[a.ID]; ok {
		return fmt.Errorf("ledger: replay: account %s created twice", a.ID)
	}
	a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted = Uint128{}, Uint128{}, Uint128{}, Uint128{}
	a.Flags &^= AccountClosed
	r.accounts[a.ID] = &a
	return nil
}

// Transfer applies a committed transfer record.
func (r *Replay) Transfer(t *TransferRecord) error {
	if err := r.tick(t.Timestamp, "transfer "+t.ID.String()); err != nil {
		return err
	}
	dr, cr := r.accounts[t.DebitAccountID], r.accounts[t.CreditAccountID]
	if dr == nil || cr == nil || dr == cr {
		return fmt.Errorf("ledger: replay: transfer %s: accounts %s and %s are not two created accounts", t.ID, t.DebitAccountID, t.CreditAccountID)
	}
	add := func(u *Uint128, v uint64) bool {
		var over bool
		*u, over = u.AddU64(v)
		return !over
	}
	ok := true
	switch {
	case t.Flags&TransferPending != 0:
		if _, dup := r.pending[t.ID]; dup {
			return fmt.Errorf("ledger: replay: pending transfer %s twice", t.ID)
		}
		ok = add(&dr.DebitsPending, t.Amount) && add(&cr.CreditsPending, t.Amount)
		r.pending[t.ID] = replayPending{debit: dr.ID, credit: cr.ID, amount: t.Amount, flags: t.Flags}
		if t.Flags&TransferClosingDebit != 0 {
			dr.Flags |= AccountClosed
		}
		if t.Flags&TransferClosingCredit != 0 {
			cr.Flags |= AccountClosed
		}
	case t.Flags&(TransferPostPending|TransferVoidPending) != 0:
		p, found := r.pending[t.PendingID]
		if !found || p.debit != dr.ID || p.credit != cr.ID {
			return fmt.Errorf("ledger: replay: transfer %s resolves %s, which is not an active pending transfer between the same accounts", t.ID, t.PendingID)
		}
		if err := r.release(t.PendingID, p, t.Flags&TransferPostPending != 0); err != nil {
			return fmt.Errorf("ledger: replay: transfer %s: %w", t.ID, err)
		}
		if t.Flags&TransferPostPending != 0 {
			if t.Amount > p.amount {
				return fmt.Errorf("ledger: replay: transfer %s posts %d of pending %d", t.ID, t.Amount, p.amount)
			}
			ok = add(&dr.DebitsPosted, t.Amount) && add(&cr.CreditsPosted, t.Amount)
		}
	default:
		ok = add(&dr.DebitsPosted, t.Amount) && add(&cr.CreditsPosted, t.Amount)
	}
	if !ok {
		return fmt.Errorf("ledger: replay: transfer %s overflows a balance", t.ID)
	}
	return nil
}

// release removes an active pending transfer from the pending balances;
// a void (not a post) reopens the accounts it closed.
func (r *Replay) release(id ID, p replayPending, post bool) error {
	dr, cr := r.accounts[p.debit], r.accounts[p.credit]
	var b1, b2 bool
	dr.DebitsPending, b1 = dr.DebitsPending.SubU64(p.amount)
	cr.CreditsPending, b2 = cr.CreditsPending.SubU64(p.amount)
	if b1 || b2 {
		return fmt.Errorf("pending balances of %s underflow", id)
	}
	if !post {
		if p.flags&TransferClosingDebit != 0 {
			dr.Flags &^= AccountClosed
		}
		if p.flags&TransferClosingCredit != 0 {
			cr.Flags &^= AccountClosed
		}
	}
	delete(r.pending, id)
	return nil
}

// Expiry applies the expiry of a pending transfer.
func (r *Replay) Expiry(e Expiry) error {
	if err := r.tick(e.Timestamp, "expiry of "+e.PendingID.String()); err != nil {
		return err
	}
	p, ok := r.pending[e.PendingID]
	if !ok {
		return fmt.Errorf("ledger: replay: expiry of %s, which is not an active pending transfer", e.PendingID)
	}
	if err := r.release(e.PendingID, p, false); err != nil {
		return fmt.Errorf("ledger: replay: expiry: %w", err)
	}
	return nil
}

// Account returns the replayed state of an account.
func (r *Replay) AccountState(id ID) (Account, bool) {
	a, ok := r.accounts[id]
	if !ok {
		return Account{}, false
	}
	return *a, true
}

// Accounts returns the ids of every replayed account, in id order.
func (r *Replay) Accounts() []ID {
	ids := slices.Collect(maps.Keys(r.accounts))
	slices.SortFunc(ids, func(x, y ID) int {
		switch {
		case idAbove(y, x):
			return -1
		case idAbove(x, y):
			return 1
		}
		return 0
	})
	return ids
}

// Pending returns how many pending transfers are active.
func (r *Replay) Pending() int { return len(r.pending) }
