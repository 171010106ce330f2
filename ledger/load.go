package ledger

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// loader rebuilds a State from a store's committed data.
type loader struct {
	s   *State
	err error
}

func (l *loader) Position(seq, timestamp uint64) {
	l.s.seq = seq
	l.s.lastTimestamp = timestamp
}

func (l *loader) Asset(a Asset) { l.s.assets[a.Ledger] = a }

func (l *loader) Account(a Account) {
	s := l.s
	if _, dup := s.index[a.ID]; dup {
		l.fail(fmt.Errorf("account %s loaded twice", a.ID))
		return
	}
	s.index[a.ID] = uint32(len(s.accounts))
	s.accounts = append(s.accounts, a)
	s.dirty = append(s.dirty, 0)
}

func (l *loader) Transfer(t TransferRecord) {
	s := l.s
	if _, dup := s.ids[t.ID]; dup {
		l.fail(fmt.Errorf("transfer %s loaded twice", t.ID))
		return
	}
	s.ids[t.ID] = transferRef{timestamp: t.Timestamp, fingerprint: t.Fingerprint}
	if idAbove(t.ID, s.maxID) {
		s.maxID = t.ID
	}
	switch {
	case t.Flags&TransferPending != 0:
		di, ok1 := s.index[t.DebitAccountID]
		ci, ok2 := s.index[t.CreditAccountID]
		if !ok1 || !ok2 {
			l.fail(fmt.Errorf("pending transfer %s names an unknown account", t.ID))
			return
		}
		var expiresAt uint64
		if t.Timeout != 0 {
			expiresAt = t.Timestamp + uint64(t.Timeout)*1_000_000_000
		}
		s.pending[t.ID] = pendingTransfer{
			debit: di, credit: ci, amount: t.Amount, expiresAt: expiresAt,
			status: PendingActive, flags: t.Flags, ledger: t.Ledger, code: t.Code,
		}
	case t.Flags&(TransferPostPending|TransferVoidPending) != 0:
		p, ok := s.pending[t.PendingID]
		if !ok || p.status != PendingActive {
			l.fail(fmt.Errorf("transfer %s resolves %s, which is not pending", t.ID, t.PendingID))
			return
		}
		p.status = PendingVoided
		if t.Flags&TransferPostPending != 0 {
			p.status = PendingPosted
		}
		s.pending[t.PendingID] = p
	}
}

func (l *loader) Expiry(e Expiry) {
	p, ok := l.s.pending[e.PendingID]
	if !ok || p.status != PendingActive {
		l.fail(fmt.Errorf("expiry of %s, which is not pending", e.PendingID))
		return
	}
	p.status = PendingExpired
	l.s.pending[e.PendingID] = p
}

func (l *loader) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// finish rebuilds the timeout heap and checks the loaded state.
func (l *loader) finish() error {
	if l.err != nil {
		return fmt.Errorf("ledger: load: %w", l.err)
	}
	s := l.s
	for id, p := range s.pending {
		if p.status == PendingActive && p.expiresAt != 0 {
			s.timeouts = append(s.timeouts, timeoutEntry{expiresAt: p.expiresAt, id: id})
		}
	}
	heap.Init(&s.timeouts)
	if err := s.CheckInvariants(); err != nil {
		return fmt.Errorf("ledger: load: %w", err)
	}
	return nil
}

// LoadState rebuilds shard's State from what st has committed and checks
// its invariants.
func LoadState(ctx context.Context, st Store, shard uint32, shardOf func(ID) uint32) (*State, error) {
	s := NewState(shard, shardOf)
	l := &loader{s: s}
	if err := st.Load(ctx, shard, l); err != nil {
		return nil, fmt.Errorf("ledger: load shard %d: %w", shard, err)
	}
	if err := l.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// CheckInvariants verifies the double-entry and limit invariants:
// per ledger, posted debits equal posted credits and pending debits equal
// pending credits; every account respects its balance constraint; and each
// account's pending balances equal the sum of its active pending transfers.
func (s *State) CheckInvariants() error {
	type sums struct{ dp, dpo, cp, cpo Uint128 }
	perLedger := make(map[uint32]*sums)
	for i := range s.accounts {
		a := &s.accounts[i]
		t := perLedger[a.Ledger]
		if t == nil {
			t = &sums{}
			perLedger[a.Ledger] = t
		}
		t.dp, _ = t.dp.Add(a.DebitsPending)
		t.dpo, _ = t.dpo.Add(a.DebitsPosted)
		t.cp, _ = t.cp.Add(a.CreditsPending)
		t.cpo, _ = t.cpo.Add(a.CreditsPosted)
		if a.Flags&AccountDebitsMustNotExceedCredits != 0 {
			d, _ := a.DebitsPending.Add(a.DebitsPosted)
			limit, _ := a.CreditsPosted.AddU64(a.Limit)
			if d.Cmp(limit) > 0 {
				return fmt.Errorf("account %s: debits %s exceed credits_posted+limit %s", a.ID, d, limit)
			}
		}
		if a.Flags&AccountCreditsMustNotExceedDebits != 0 {
			c, _ := a.CreditsPending.Add(a.CreditsPosted)
			limit, _ := a.DebitsPosted.AddU64(a.Limit)
			if c.Cmp(limit) > 0 {
				return fmt.Errorf("account %s: credits %s exceed debits_posted+limit %s", a.ID, c, limit)
			}
		}
	}
	for ledger, t := range perLedger {
		if t.dpo != t.cpo {
			return fmt.Errorf("ledger %d: posted debits %s != posted credits %s", ledger, t.dpo, t.cpo)
		}
		if t.dp != t.cp {
			return fmt.Errorf("ledger %d: pending debits %s != pending credits %s", ledger, t.dp, t.cp)
		}
	}
	pd := make([]Uint128, len(s.accounts))
	pc := make([]Uint128, len(s.accounts))
	for _, p := range s.pending {
		if p.status == PendingActive {
			pd[p.debit], _ = pd[p.debit].AddU64(p.amount)
			pc[p.credit], _ = pc[p.credit].AddU64(p.amount)
		}
	}
	for i := range s.accounts {
		a := &s.accounts[i]
		if a.DebitsPending != pd[i] || a.CreditsPending != pc[i] {
			return fmt.Errorf("account %s: pending balances %s/%s != active pending transfers %s/%s",
				a.ID, a.DebitsPending, a.CreditsPending, pd[i], pc[i])
		}
	}
	return nil
}

// Digest returns a SHA-256 over the whole state (accounts with balances,
// every transfer id with its timestamp and fingerprint, every pending
// transfer with its status, assets and the last timestamp), independent of
// map order. Two states are equal exactly when their digests are.
func (s *State) Digest() [32]byte {
	h := sha256.New()
	var buf [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	put(s.lastTimestamp)
	ledgers := make([]uint32, 0, len(s.assets))
	for l := range s.assets {
		ledgers = append(ledgers, l)
	}
	slices.Sort(ledgers)
	for _, l := range ledgers {
		a := s.assets[l]
		put(uint64(a.Ledger))
		h.Write([]byte(a.Code))
		put(uint64(a.Scale))
	}
	accounts := slices.Clone(s.accounts)
	slices.SortFunc(accounts, func(a, b Account) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for _, a := range accounts {
		h.Write(a.ID[:])
		for _, v := range []Uint128{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted} {
			put(v.Hi)
			put(v.Lo)
		}
		h.Write(a.UserData128[:])
		put(a.UserData64)
		put(uint64(a.UserData32)<<32 | uint64(a.Ledger))
		put(uint64(a.Code)<<16 | uint64(a.Flags))
		put(a.Limit)
		put(a.Timestamp)
	}
	ids := make([]ID, 0, len(s.ids))
	for id := range s.ids {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		ref := s.ids[id]
		h.Write(id[:])
		put(ref.timestamp)
		put(ref.fingerprint)
		if p, ok := s.pending[id]; ok {
			put(uint64(p.status))
			put(p.amount)
			put(p.expiresAt)
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
