package ledger

import "container/heap"

// undoEntry restores one change when a linked chain fails.
type undoEntry struct {
	kind    undoKind
	pos     uint32
	account Account // undoAccount: the account before the change
	id      ID
	pending pendingTransfer // undoPending: the entry before the change
	existed bool            // undoPending: whether id was in the table
}

type undoKind uint8

const (
	undoAccount undoKind = iota + 1
	undoTransferID
	undoPending
)

// chainMark is the state to return to when a chain fails.
type chainMark struct {
	accounts, changed, transfers, assets, undo int
}

func (s *State) mark() chainMark {
	return chainMark{
		accounts:  len(s.accounts),
		changed:   len(s.changed),
		transfers: len(s.batch.Transfers),
		undo:      len(s.undo),
	}
}

// rollback undoes every change since m, newest first.
func (s *State) rollback(m chainMark) {
	for i := len(s.undo) - 1; i >= m.undo; i-- {
		u := &s.undo[i]
		switch u.kind {
		case undoAccount:
			s.accounts[u.pos] = u.account
		case undoTransferID:
			delete(s.ids, u.id)
		case undoPending:
			if u.existed {
				s.pending[u.id] = u.pending
			} else {
				delete(s.pending, u.id)
			}
		}
	}
	s.undo = s.undo[:m.undo]
	for _, pos := range s.changed[m.changed:] {
		if int(pos) < m.accounts {
			s.dirty[pos] = 0 // recorded again if changed later in the batch
		}
	}
	s.changed = s.changed[:m.changed]
	for _, a := range s.accounts[m.accounts:] {
		delete(s.index, a.ID)
	}
	s.accounts = s.accounts[:m.accounts]
	s.dirty = s.dirty[:m.accounts]
	s.batch.Transfers = s.batch.Transfers[:m.transfers]
}

// applyChains runs apply over events with TigerBeetle's linked-chain rules:
// a run of events whose flags say linked, closed by the first one that
// does not, commits or fails as one. The failing event gets its own result
// and the chain's other events ResultLinkedEventFailed; a chain still open
// at the end of the request fails with ResultLinkedEventChainOpen on its
// last event.
//
// A chain whose every event already exists with the same fields is a
// replay: each event gets ResultExists and nothing changes.
//
// apply must change event i only when it returns ResultOK; restore(i) puts
// event i back as the caller submitted it after its chain failed. apply's
// absent is true when exists(i) has just returned ResultOK for event i and
// nothing changed since: apply need not look its id up again.
func (s *State) applyChains(n int, linked func(i int) bool, exists func(i int) Result,
	apply func(i int, inChain, absent bool) Result, restore func(i int), results []Result) {
	for start := 0; start < n; {
		end := start // inclusive end of the chain
		for end < n-1 && linked(end) {
			end++
		}
		open := linked(end)
		if start == end && !open {
			results[start] = apply(start, false, false)
			start++
			continue
		}
		if open {
			for i := start; i < end; i++ {
				results[i] = ResultLinkedEventFailed
			}
			results[end] = ResultLinkedEventChainOpen
			start = end + 1
			continue
		}
		replay, headAbsent := s.replayChain(start, end, exists, results)
		if replay {
			start = end + 1
			continue
		}
		m := s.mark()
		failed := -1
		for i := start; i <= end; i++ {
			r := apply(i, true, i == start && headAbsent)
			results[i] = r
			if r != ResultOK {
				failed = i
				break
			}
		}
		if failed >= 0 {
			s.rollback(m)
			for i := start; i < failed; i++ {
				restore(i)
			}
			for i := start; i <= end; i++ {
				if i != failed {
					results[i] = ResultLinkedEventFailed
				}
			}
		}
		s.undo = s.undo[:m.undo]
		start = end + 1
	}
}

// replayChain reports whether events start..end all exist with the same
// fields, and if so marks them ResultExists. Otherwise headAbsent reports
// whether exists(start) was the last call to exists and returned ResultOK.
func (s *State) replayChain(start, end int, exists func(i int) Result, results []Result) (replay, headAbsent bool) {
	for i := start; i <= end; i++ {
		if r := exists(i); r != ResultExists {
			return false, i == start && r == ResultOK
		}
	}
	for i := start; i <= end; i++ {
		results[i] = ResultExists
	}
	return true, false
}

// CreateAccounts applies account creations with linked-chain rules and
// writes one result per account. An account is changed only when its
// result is ResultOK: its Timestamp is set.
func (s *State) CreateAccounts(now uint64, accounts []Account, results []Result) {
	s.mustBeOpen()
	s.applyChains(len(accounts),
		func(i int) bool { return accounts[i].Flags&AccountLinked != 0 },
		func(i int) Result { return s.accountExists(&accounts[i]) },
		func(i int, _, absent bool) Result { return s.createAccount(now, &accounts[i], absent) },
		func(i int) { accounts[i].Timestamp = 0 },
		results)
}

func (s *State) accountExists(a *Account) Result {
	pos, ok := s.index[a.ID]
	if !ok {
		return ResultOK
	}
	e := &s.accounts[pos]
	if e.Ledger != a.Ledger || e.Code != a.Code || e.UserData128 != a.UserData128 ||
		e.UserData64 != a.UserData64 || e.UserData32 != a.UserData32 || e.Limit != a.Limit ||
		(e.Flags^a.Flags)&^(AccountLinked|AccountClosed) != 0 {
		return ResultExistsWithDifferentFields
	}
	return ResultExists
}

// createAccount creates a; absent means accountExists(a) is known to
// return ResultOK.
func (s *State) createAccount(now uint64, a *Account, absent bool) Result {
	switch {
	case a.Timestamp != 0:
		return ResultTimestampMustBeZero
	case a.Flags&^accountFlagsKnown != 0 || a.Flags&AccountClosed != 0:
		return ResultReservedFlag
	case a.ID.IsZero():
		return ResultIDMustNotBeZero
	case a.ID == IDMax:
		return ResultIDMustNotBeIntMax
	}
	if !absent {
		if r := s.accountExists(a); r != ResultOK {
			return r
		}
	}
	both := AccountDebitsMustNotExceedCredits | AccountCreditsMustNotExceedDebits
	switch {
	case a.Flags&both == both:
		return ResultFlagsAreMutuallyExclusive
	case !a.DebitsPending.IsZero() || !a.DebitsPosted.IsZero() ||
		!a.CreditsPending.IsZero() || !a.CreditsPosted.IsZero():
		return ResultBalancesMustBeZero
	case a.Ledger == 0:
		return ResultLedgerMustNotBeZero
	case a.Code == 0:
		return ResultCodeMustNotBeZero
	case a.Limit != 0 && a.Flags&both == 0:
		return ResultLimitRequiresOneBalanceFlag
	case s.shardOf != nil && s.shardOf(a.ID) != s.shard:
		return ResultAccountOnOtherShard
	}
	if _, ok := s.assets[a.Ledger]; !ok {
		return ResultLedgerNotFound
	}
	a.Timestamp = s.tick(now)
	stored := *a
	stored.Flags &^= AccountLinked
	pos := uint32(len(s.accounts))
	s.accounts = append(s.accounts, stored)
	s.dirty = append(s.dirty, 0)
	s.index[a.ID] = pos
	s.markDirty(pos)
	return ResultOK
}

// Fingerprint hashes the fields of a transfer as submitted (everything but
// the timestamp). Equal transfers have equal fingerprints; the engine uses
// it to tell a retry from a different transfer with the same id.
func Fingerprint(t *Transfer) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	mix := func(v uint64) {
		h ^= v
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	mix(t.ID.Hi())
	mix(t.ID.Lo())
	mix(t.DebitAccountID.Hi())
	mix(t.DebitAccountID.Lo())
	mix(t.CreditAccountID.Hi())
	mix(t.CreditAccountID.Lo())
	mix(t.Amount)
	mix(t.PendingID.Hi())
	mix(t.PendingID.Lo())
	mix(t.UserData128.Hi())
	mix(t.UserData128.Lo())
	mix(t.UserData64)
	mix(uint64(t.UserData32)<<32 | uint64(t.Timeout))
	mix(uint64(t.Ledger)<<32 | uint64(t.Code)<<16 | uint64(t.Flags))
	h ^= h >> 29
	h *= 0x94d049bb133111eb
	h ^= h >> 32
	return h
}

// CreateTransfers applies transfers with linked-chain rules and writes one
// result per transfer. A transfer is changed only when its result is
// ResultOK: its engine-assigned fields are filled in (timestamp; for post
// and void the accounts, ledger and code of the pending transfer and the
// amount moved; for balancing transfers the amount moved).
func (s *State) CreateTransfers(now uint64, transfers []Transfer, results []Result) {
	s.mustBeOpen()
	s.saved = s.saved[:0]
	var fp uint64 // the fingerprint of the transfer exists saw last
	s.applyChains(len(transfers),
		func(i int) bool { return transfers[i].Flags&TransferLinked != 0 },
		func(i int) Result {
			fp = Fingerprint(&transfers[i])
			return s.transferExists(&transfers[i], fp)
		},
		func(i int, inChain, absent bool) Result {
			t := transfers[i]
			var r Result
			if absent {
				r = s.createTransfer(now, &t, fp, true, inChain)
			} else {
				r = s.createTransfer(now, &t, Fingerprint(&t), false, inChain)
			}
			if r == ResultOK {
				if inChain {
					s.saved = append(s.saved, savedTransfer{i, transfers[i]})
				}
				transfers[i] = t
			}
			return r
		},
		func(i int) {
			for j := len(s.saved) - 1; j >= 0; j-- {
				if s.saved[j].index == i {
					transfers[i] = s.saved[j].transfer
					return
				}
			}
		},
		results)
}

type savedTransfer struct {
	index    int
	transfer Transfer
}

func (s *State) transferExists(t *Transfer, fp uint64) Result {
	if idAbove(t.ID, s.maxID) {
		return ResultOK // above every id ever recorded: no probe needed
	}
	ref, ok := s.ids[t.ID]
	if !ok {
		return ResultOK
	}
	if ref.fingerprint != fp {
		return ResultExistsWithDifferentFields
	}
	return ResultExists
}

// createTransfer creates t, whose fingerprint is fp; absent means
// transferExists(t, fp) is known to return ResultOK.
func (s *State) createTransfer(now uint64, t *Transfer, fp uint64, absent, inChain bool) Result {
	switch {
	case t.Timestamp != 0:
		return ResultTimestampMustBeZero
	case t.Flags&^transferFlagsKnown != 0:
		return ResultReservedFlag
	case t.ID.IsZero():
		return ResultIDMustNotBeZero
	case t.ID == IDMax:
		return ResultIDMustNotBeIntMax
	}
	if !absent {
		if r := s.transferExists(t, fp); r != ResultOK {
			return r
		}
	}
	if r := validateTransferFlags(t.Flags); r != ResultOK {
		return r
	}
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		return s.postOrVoid(now, t, fp, inChain)
	}
	return s.createPlain(now, t, fp, inChain)
}

func validateTransferFlags(f TransferFlags) Result {
	count := 0
	for _, x := range []TransferFlags{TransferPending, TransferPostPending, TransferVoidPending} {
		if f&x != 0 {
			count++
		}
	}
	if count > 1 {
		return ResultFlagsAreMutuallyExclusive
	}
	balancing := f&(TransferBalancingDebit|TransferBalancingCredit) != 0
	closing := f&(TransferClosingDebit|TransferClosingCredit) != 0
	if (balancing || closing) && f&(TransferPostPending|TransferVoidPending) != 0 {
		return ResultFlagsAreMutuallyExclusive
	}
	if closing && f&TransferPending == 0 {
		return ResultClosingTransferMustBePending
	}
	return ResultOK
}

func (s *State) createPlain(now uint64, t *Transfer, fp uint64, inChain bool) Result {
	switch {
	case t.DebitAccountID.IsZero():
		return ResultDebitAccountIDMustNotBeZero
	case t.CreditAccountID.IsZero():
		return ResultCreditAccountIDMustNotBeZero
	case t.DebitAccountID == t.CreditAccountID:
		return ResultAccountsMustBeDifferent
	case !t.PendingID.IsZero():
		return ResultPendingIDMustBeZero
	case t.Timeout != 0 && t.Flags&TransferPending == 0:
		return ResultTimeoutReservedForPendingTransfer
	case t.Ledger == 0:
		return ResultLedgerMustNotBeZero
	case t.Code == 0:
		return ResultCodeMustNotBeZero
	}
	di, ok := s.index[t.DebitAccountID]
	if !ok {
		if s.shardOf != nil && s.shardOf(t.DebitAccountID) != s.shard {
			return ResultAccountOnOtherShard
		}
		return ResultDebitAccountNotFound
	}
	ci, ok := s.index[t.CreditAccountID]
	if !ok {
		if s.shardOf != nil && s.shardOf(t.CreditAccountID) != s.shard {
			return ResultAccountOnOtherShard
		}
		return ResultCreditAccountNotFound
	}
	dr, cr := &s.accounts[di], &s.accounts[ci]
	switch {
	case dr.Ledger != cr.Ledger:
		return ResultAccountsMustHaveTheSameLedger
	case t.Ledger != dr.Ledger:
		return ResultTransferMustHaveTheSameLedgerAsAccounts
	case dr.Flags&AccountClosed != 0:
		return ResultDebitAccountAlreadyClosed
	case cr.Flags&AccountClosed != 0:
		return ResultCreditAccountAlreadyClosed
	}
	amount := t.Amount
	if t.Flags&TransferBalancingDebit != 0 {
		amount = minU64(amount, debitRoom(dr))
	}
	if t.Flags&TransferBalancingCredit != 0 {
		amount = minU64(amount, creditRoom(cr))
	}
	if r := checkLimits(dr, cr, amount); r != ResultOK {
		return r
	}
	pending := t.Flags&TransferPending != 0
	var expiresAt uint64
	ts := s.lastTimestamp + 1
	if now > ts {
		ts = now
	}
	if pending && t.Timeout != 0 {
		var over bool
		expiresAt, over = addU64(ts, uint64(t.Timeout)*1_000_000_000)
		if over {
			return ResultOverflowsTimeout
		}
	}
	// Overflow checks: all before any mutation.
	var ndp, ncp, ndpo, ncpo Uint128
	var over bool
	if pending {
		if ndp, over = dr.DebitsPending.AddU64(amount); over {
			return ResultOverflowsDebitsPending
		}
		if ncp, over = cr.CreditsPending.AddU64(amount); over {
			return ResultOverflowsCreditsPending
		}
	} else {
		if ndpo, over = dr.DebitsPosted.AddU64(amount); over {
			return ResultOverflowsDebitsPosted
		}
		if ncpo, over = cr.CreditsPosted.AddU64(amount); over {
			return ResultOverflowsCreditsPosted
		}
	}
	if r := checkTotals(dr, cr, amount); r != ResultOK {
		return r
	}

	// Every check passed: mutate.
	if inChain {
		s.saveAccount(di)
		s.saveAccount(ci)
	}
	t.Amount = amount
	t.Timestamp = s.tick(now)
	if pending {
		dr.DebitsPending, cr.CreditsPending = ndp, ncp
		if t.Flags&TransferClosingDebit != 0 {
			dr.Flags |= AccountClosed
		}
		if t.Flags&TransferClosingCredit != 0 {
			cr.Flags |= AccountClosed
		}
		s.putPending(t.ID, pendingTransfer{
			debit: di, credit: ci, amount: amount, expiresAt: expiresAt,
			status: PendingActive, flags: t.Flags, ledger: t.Ledger, code: t.Code,
		}, inChain)
		if expiresAt != 0 {
			heap.Push(&s.timeouts, timeoutEntry{expiresAt: expiresAt, id: t.ID})
		}
	} else {
		dr.DebitsPosted, cr.CreditsPosted = ndpo, ncpo
	}
	s.markDirty(di)
	s.markDirty(ci)
	s.record(t, fp, inChain)
	return ResultOK
}

func (s *State) postOrVoid(now uint64, t *Transfer, fp uint64, inChain bool) Result {
	switch {
	case t.PendingID.IsZero():
		return ResultPendingIDMustNotBeZero
	case t.PendingID == t.ID:
		return ResultPendingIDMustBeDifferent
	case t.Timeout != 0:
		return ResultTimeoutReservedForPendingTransfer
	}
	p, ok := s.pending[t.PendingID]
	if !ok {
		if _, isTransfer := s.ids[t.PendingID]; isTransfer {
			return ResultPendingTransferNotPending
		}
		return ResultPendingTransferNotFound
	}
	dr, cr := &s.accounts[p.debit], &s.accounts[p.credit]
	switch {
	case !t.DebitAccountID.IsZero() && t.DebitAccountID != dr.ID:
		return ResultPendingTransferHasDifferentDebitAccountID
	case !t.CreditAccountID.IsZero() && t.CreditAccountID != cr.ID:
		return ResultPendingTransferHasDifferentCreditAccountID
	case t.Ledger != 0 && t.Ledger != p.ledger:
		return ResultPendingTransferHasDifferentLedger
	case t.Code != 0 && t.Code != p.code:
		return ResultPendingTransferHasDifferentCode
	}
	post := t.Flags&TransferPostPending != 0
	amount := t.Amount
	if post {
		if amount == AmountMax {
			amount = p.amount
		} else if amount > p.amount {
			return ResultExceedsPendingTransferAmount
		}
	} else if amount != 0 && amount != p.amount {
		return ResultPendingTransferHasDifferentAmount
	} else {
		amount = p.amount // a void records the amount it released
	}
	switch p.status {
	case PendingPosted:
		return ResultPendingTransferAlreadyPosted
	case PendingVoided:
		return ResultPendingTransferAlreadyVoided
	case PendingExpired:
		return ResultPendingTransferExpired
	}
	assert(p.status == PendingActive, "pending transfer status")
	if p.expiresAt != 0 && p.expiresAt <= now {
		return ResultPendingTransferExpired
	}
	closing := p.flags & (TransferClosingDebit | TransferClosingCredit)
	if post && closing == 0 {
		// A closing transfer's own post is allowed on the account it closed.
		if dr.Flags&AccountClosed != 0 {
			return ResultDebitAccountAlreadyClosed
		}
		if cr.Flags&AccountClosed != 0 {
			return ResultCreditAccountAlreadyClosed
		}
	}
	var ndpo, ncpo Uint128
	if post {
		var over bool
		if ndpo, over = dr.DebitsPosted.AddU64(amount); over {
			return ResultOverflowsDebitsPosted
		}
		if ncpo, over = cr.CreditsPosted.AddU64(amount); over {
			return ResultOverflowsCreditsPosted
		}
	}

	if inChain {
		s.saveAccount(p.debit)
		s.saveAccount(p.credit)
	}
	// Release the reservation; a void of a closing transfer reopens.
	var borrow bool
	dr.DebitsPending, borrow = dr.DebitsPending.SubU64(p.amount)
	assert(!borrow, "debits_pending underflow")
	cr.CreditsPending, borrow = cr.CreditsPending.SubU64(p.amount)
	assert(!borrow, "credits_pending underflow")
	if post {
		dr.DebitsPosted, cr.CreditsPosted = ndpo, ncpo
	} else {
		if closing&TransferClosingDebit != 0 {
			dr.Flags &^= AccountClosed
		}
		if closing&TransferClosingCredit != 0 {
			cr.Flags &^= AccountClosed
		}
	}
	resolved := p
	if post {
		resolved.status = PendingPosted
	} else {
		resolved.status = PendingVoided
	}
	s.putPending(t.PendingID, resolved, inChain)
	t.DebitAccountID, t.CreditAccountID = dr.ID, cr.ID
	t.Ledger, t.Code, t.Amount = p.ledger, p.code, amount
	t.Timestamp = s.tick(now)
	s.markDirty(p.debit)
	s.markDirty(p.credit)
	s.record(t, fp, inChain)
	return ResultOK
}

func (s *State) saveAccount(pos uint32) {
	s.undo = append(s.undo, undoEntry{kind: undoAccount, pos: pos, account: s.accounts[pos]})
}

func (s *State) putPending(id ID, p pendingTransfer, inChain bool) {
	if inChain {
		old, existed := s.pending[id]
		s.undo = append(s.undo, undoEntry{kind: undoPending, id: id, pending: old, existed: existed})
	}
	s.pending[id] = p
}

func (s *State) record(t *Transfer, fp uint64, inChain bool) {
	if inChain {
		s.undo = append(s.undo, undoEntry{kind: undoTransferID, id: t.ID})
	}
	s.ids[t.ID] = transferRef{timestamp: t.Timestamp, fingerprint: fp}
	if idAbove(t.ID, s.maxID) {
		s.maxID = t.ID
	}
	s.batch.Transfers = append(s.batch.Transfers, TransferRecord{Transfer: *t, Fingerprint: fp})
}

// debitRoom is how much more an account may be debited under its
// DebitsMustNotExceedCredits constraint (or, without the flag, how much it
// may be debited before debits exceed credits, as TigerBeetle's balancing
// debit does).
func debitRoom(a *Account) uint64 {
	limit, _ := a.CreditsPosted.AddU64(a.Limit)
	used, _ := a.DebitsPending.Add(a.DebitsPosted)
	return room(limit, used)
}

func creditRoom(a *Account) uint64 {
	limit, _ := a.DebitsPosted.AddU64(a.Limit)
	used, _ := a.CreditsPending.Add(a.CreditsPosted)
	return room(limit, used)
}

func room(limit, used Uint128) uint64 {
	free, borrow := limit.Sub(used)
	if borrow {
		return 0
	}
	if free.Hi != 0 {
		return AmountMax
	}
	return free.Lo
}

func checkLimits(dr, cr *Account, amount uint64) Result {
	if dr.Flags&AccountDebitsMustNotExceedCredits != 0 && amount > debitRoom(dr) {
		return ResultExceedsCredits
	}
	if cr.Flags&AccountCreditsMustNotExceedDebits != 0 && amount > creditRoom(cr) {
		return ResultExceedsDebits
	}
	return ResultOK
}

// checkTotals rejects a transfer that would overflow an account's total
// debits or credits (pending + posted).
func checkTotals(dr, cr *Account, amount uint64) Result {
	d, over := dr.DebitsPending.Add(dr.DebitsPosted)
	if !over {
		_, over = d.AddU64(amount)
	}
	if over {
		return ResultOverflowsDebits
	}
	c, over := cr.CreditsPending.Add(cr.CreditsPosted)
	if !over {
		_, over = c.AddU64(amount)
	}
	if over {
		return ResultOverflowsCredits
	}
	return ResultOK
}

func minU64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

func addU64(a, b uint64) (uint64, bool) {
	c := a + b
	return c, c < a
}

// idAbove reports whether a > b as 128-bit numbers.
func idAbove(a, b ID) bool {
	ah, bh := a.Hi(), b.Hi()
	return ah > bh || ah == bh && a.Lo() > b.Lo()
}
