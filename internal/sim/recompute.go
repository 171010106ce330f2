package sim

import (
	"context"
	"fmt"

	"github.com/agentpay/agentpay/ledger"
)

// Recompute reads a shard's committed transfers and expiries from st and
// checks that every account's four balances equal what those transfers
// imply, independently of the engine's own loading code.
func Recompute(ctx context.Context, st ledger.Store, shard uint32) error {
	r := &recomputer{
		accounts: map[ledger.ID]ledger.Account{},
		implied:  map[ledger.ID]*[4]ledger.Uint128{},
		pending:  map[ledger.ID]ledger.Transfer{},
	}
	if err := st.Load(ctx, shard, r); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	for id, a := range r.accounts {
		got := [4]ledger.Uint128{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
		want := [4]ledger.Uint128{}
		if w := r.implied[id]; w != nil {
			want = *w
		}
		if got != want {
			return fmt.Errorf("account %v: stored balances %v, committed transfers imply %v", id, got, want)
		}
	}
	return nil
}

type recomputer struct {
	accounts map[ledger.ID]ledger.Account
	implied  map[ledger.ID]*[4]ledger.Uint128 // dp, dpo, cp, cpo
	pending  map[ledger.ID]ledger.Transfer
	err      error
}

func (r *recomputer) Position(uint64, uint64)  {}
func (r *recomputer) Asset(ledger.Asset)       {}
func (r *recomputer) Account(a ledger.Account) { r.accounts[a.ID] = a }

func (r *recomputer) add(id ledger.ID, i int, amount uint64, sub bool) {
	b := r.implied[id]
	if b == nil {
		b = &[4]ledger.Uint128{}
		r.implied[id] = b
	}
	var bad bool
	if sub {
		b[i], bad = b[i].SubU64(amount)
	} else {
		b[i], bad = b[i].AddU64(amount)
	}
	if bad && r.err == nil {
		r.err = fmt.Errorf("account %v: balance %d over- or underflows", id, i)
	}
}

func (r *recomputer) Transfer(t ledger.TransferRecord) {
	switch {
	case t.Flags&ledger.TransferPending != 0:
		r.pending[t.ID] = t.Transfer
		r.add(t.DebitAccountID, 0, t.Amount, false)
		r.add(t.CreditAccountID, 2, t.Amount, false)
	case t.Flags&(ledger.TransferPostPending|ledger.TransferVoidPending) != 0:
		p, ok := r.pending[t.PendingID]
		if !ok {
			if r.err == nil {
				r.err = fmt.Errorf("transfer %v resolves %v, which is not pending", t.ID, t.PendingID)
			}
			return
		}
		delete(r.pending, t.PendingID)
		r.add(p.DebitAccountID, 0, p.Amount, true)
		r.add(p.CreditAccountID, 2, p.Amount, true)
		if t.Flags&ledger.TransferPostPending != 0 {
			r.add(p.DebitAccountID, 1, t.Amount, false)
			r.add(p.CreditAccountID, 3, t.Amount, false)
		}
	default:
		r.add(t.DebitAccountID, 1, t.Amount, false)
		r.add(t.CreditAccountID, 3, t.Amount, false)
	}
}

func (r *recomputer) Expiry(e ledger.Expiry) {
	p, ok := r.pending[e.PendingID]
	if !ok {
		if r.err == nil {
			r.err = fmt.Errorf("expiry of %v, which is not pending", e.PendingID)
		}
		return
	}
	delete(r.pending, e.PendingID)
	r.add(p.DebitAccountID, 0, p.Amount, true)
	r.add(p.CreditAccountID, 2, p.Amount, true)
}
