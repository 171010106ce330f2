package ledger

import (
	"testing"
)

const usd = 1

func newTestState(t *testing.T) *State {
	t.Helper()
	s := NewState(0, nil)
	s.Begin()
	res := make([]Result, 1)
	s.CreateAssets(1, []Asset{{Ledger: usd, Code: "USD", Scale: 2}}, res)
	if res[0] != ResultOK {
		t.Fatalf("create asset: got %v, want ok", res[0])
	}
	return s
}

func id(n uint64) ID { return IDFromUint64(n) }

func mustAccounts(t *testing.T, s *State, accounts ...Account) {
	t.Helper()
	res := make([]Result, len(accounts))
	s.CreateAccounts(10, accounts, res)
	for i, r := range res {
		if r != ResultOK {
			t.Fatalf("account %d: got %v, want ok", i, r)
		}
	}
}

func apply(s *State, transfers ...Transfer) []Result {
	res := make([]Result, len(transfers))
	s.CreateTransfers(100, transfers, res)
	return res
}

func balances(t *testing.T, s *State, a ID) (dp, dpo, cp, cpo uint64) {
	t.Helper()
	acc, ok := s.Account(a)
	if !ok {
		t.Fatalf("account %v not found", a)
	}
	return acc.DebitsPending.Lo, acc.DebitsPosted.Lo, acc.CreditsPending.Lo, acc.CreditsPosted.Lo
}

func TestTransferLimitsAndChains(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s,
		Account{ID: id(1), Ledger: usd, Code: 1},
		Account{ID: id(2), Ledger: usd, Code: 1, Flags: AccountDebitsMustNotExceedCredits},
		Account{ID: id(3), Ledger: usd, Code: 1},
	)
	// Fund account 2 with 100.
	if r := apply(s, Transfer{ID: id(100), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 100, Ledger: usd, Code: 1}); r[0] != ResultOK {
		t.Fatalf("fund: got %v", r[0])
	}
	// Overdraw: rejected.
	if r := apply(s, Transfer{ID: id(101), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 101, Ledger: usd, Code: 1}); r[0] != ResultExceedsCredits {
		t.Fatalf("overdraw: got %v, want exceeds_credits", r[0])
	}
	// A chain whose second leg fails leaves nothing behind.
	r := apply(s,
		Transfer{ID: id(102), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 60, Ledger: usd, Code: 1, Flags: TransferLinked},
		Transfer{ID: id(103), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 60, Ledger: usd, Code: 1},
	)
	if r[0] != ResultLinkedEventFailed || r[1] != ResultExceedsCredits {
		t.Fatalf("chain: got %v %v, want linked_event_failed exceeds_credits", r[0], r[1])
	}
	if _, dpo, _, _ := balances(t, s, id(2)); dpo != 0 {
		t.Fatalf("after failed chain debits_posted = %d, want 0", dpo)
	}
	if s.TransferCount() != 1 {
		t.Fatalf("transfer count %d, want 1", s.TransferCount())
	}
	// The same id again is "exists"; with other fields a conflict.
	if r := apply(s, Transfer{ID: id(100), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 100, Ledger: usd, Code: 1}); r[0] != ResultExists {
		t.Fatalf("retry: got %v, want exists", r[0])
	}
	if r := apply(s, Transfer{ID: id(100), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 99, Ledger: usd, Code: 1}); r[0] != ResultExistsWithDifferentFields {
		t.Fatalf("retry changed: got %v, want exists_with_different_fields", r[0])
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestOverdraftLimit(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s,
		Account{ID: id(1), Ledger: usd, Code: 1, Flags: AccountDebitsMustNotExceedCredits, Limit: 50},
		Account{ID: id(2), Ledger: usd, Code: 1},
	)
	if r := apply(s, Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 51, Ledger: usd, Code: 1}); r[0] != ResultExceedsCredits {
		t.Fatalf("over limit: got %v", r[0])
	}
	if r := apply(s, Transfer{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 50, Ledger: usd, Code: 1}); r[0] != ResultOK {
		t.Fatalf("at limit: got %v", r[0])
	}
}

func TestTwoPhase(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s,
		Account{ID: id(1), Ledger: usd, Code: 1},
		Account{ID: id(2), Ledger: usd, Code: 1},
	)
	if r := apply(s, Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 100, Ledger: usd, Code: 1, Flags: TransferPending, Timeout: 5}); r[0] != ResultOK {
		t.Fatalf("pending: %v", r[0])
	}
	if dp, _, _, _ := balances(t, s, id(1)); dp != 100 {
		t.Fatalf("debits_pending %d, want 100", dp)
	}
	post := []Transfer{{ID: id(11), PendingID: id(10), Amount: 30, Flags: TransferPostPending}}
	if r := apply(s, post...); r[0] != ResultOK {
		t.Fatalf("post: %v", r[0])
	}
	if post[0].DebitAccountID != id(1) || post[0].Amount != 30 || post[0].Ledger != usd {
		t.Fatalf("post not filled in: %+v", post[0])
	}
	dp, dpo, _, _ := balances(t, s, id(1))
	if dp != 0 || dpo != 30 {
		t.Fatalf("after partial post: pending %d posted %d, want 0 30", dp, dpo)
	}
	if r := apply(s, Transfer{ID: id(12), PendingID: id(10), Flags: TransferVoidPending}); r[0] != ResultPendingTransferAlreadyPosted {
		t.Fatalf("void after post: %v", r[0])
	}
	// Expiry.
	if r := apply(s, Transfer{ID: id(20), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 7, Ledger: usd, Code: 1, Flags: TransferPending, Timeout: 1}); r[0] != ResultOK {
		t.Fatalf("pending 2: %v", r[0])
	}
	acc, _ := s.Account(id(1))
	if n := s.Expire(acc.Timestamp + 2e9); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	if dp, _, _, _ := balances(t, s, id(1)); dp != 0 {
		t.Fatalf("after expiry pending %d", dp)
	}
	if s.PendingStatus(id(20)) != PendingExpired {
		t.Fatalf("status %v", s.PendingStatus(id(20)))
	}
	if r := apply(s, Transfer{ID: id(21), PendingID: id(20), Flags: TransferPostPending, Amount: AmountMax}); r[0] != ResultPendingTransferExpired {
		t.Fatalf("post expired: %v", r[0])
	}
	b := s.Finish()
	if len(b.Expiries) != 1 || b.Expiries[0].PendingID != id(20) {
		t.Fatalf("batch expiries %+v", b.Expiries)
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestChainReplayAndOpenChain(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s, Account{ID: id(1), Ledger: usd, Code: 1}, Account{ID: id(2), Ledger: usd, Code: 1})
	chain := func() []Transfer {
		return []Transfer{
			{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: usd, Code: 1, Flags: TransferLinked},
			{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 2, Ledger: usd, Code: 1},
		}
	}
	if r := apply(s, chain()...); r[0] != ResultOK || r[1] != ResultOK {
		t.Fatalf("chain: %v", r)
	}
	if r := apply(s, chain()...); r[0] != ResultExists || r[1] != ResultExists {
		t.Fatalf("replayed chain: %v, want exists exists", r)
	}
	open := chain()
	open[1].Flags = TransferLinked
	open[0].ID, open[1].ID = id(12), id(13)
	if r := apply(s, open...); r[0] != ResultLinkedEventFailed || r[1] != ResultLinkedEventChainOpen {
		t.Fatalf("open chain: %v", r)
	}
}

func TestClosingTransfer(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s, Account{ID: id(1), Ledger: usd, Code: 1}, Account{ID: id(2), Ledger: usd, Code: 1})
	if r := apply(s, Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Ledger: usd, Code: 1, Flags: TransferPending | TransferClosingDebit}); r[0] != ResultOK {
		t.Fatalf("close: %v", r[0])
	}
	if r := apply(s, Transfer{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: usd, Code: 1}); r[0] != ResultDebitAccountAlreadyClosed {
		t.Fatalf("on closed: %v", r[0])
	}
	if r := apply(s, Transfer{ID: id(12), PendingID: id(10), Flags: TransferVoidPending}); r[0] != ResultOK {
		t.Fatalf("reopen: %v", r[0])
	}
	if r := apply(s, Transfer{ID: id(13), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: usd, Code: 1}); r[0] != ResultOK {
		t.Fatalf("after reopen: %v", r[0])
	}
}

func TestBalancingDebit(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s,
		Account{ID: id(1), Ledger: usd, Code: 1},
		Account{ID: id(2), Ledger: usd, Code: 1, Flags: AccountDebitsMustNotExceedCredits},
		Account{ID: id(3), Ledger: usd, Code: 1})
	apply(s, Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 40, Ledger: usd, Code: 1})
	tr := []Transfer{{ID: id(11), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 100, Ledger: usd, Code: 1, Flags: TransferBalancingDebit}}
	if r := apply(s, tr...); r[0] != ResultOK || tr[0].Amount != 40 {
		t.Fatalf("balancing: %v amount %d, want ok 40", r[0], tr[0].Amount)
	}
	// Retrying with the submitted fields is a replay even though the stored amount differs.
	if r := apply(s, Transfer{ID: id(11), DebitAccountID: id(2), CreditAccountID: id(3), Amount: 100, Ledger: usd, Code: 1, Flags: TransferBalancingDebit}); r[0] != ResultExists {
		t.Fatalf("balancing retry: %v", r[0])
	}
}

func TestIDText(t *testing.T) {
	for _, v := range []ID{{}, IDMax, id(1), id(1 << 63)} {
		got, err := ParseID(v.String())
		if err != nil || got != v {
			t.Fatalf("round trip %x: got %x, %v", v, got, err)
		}
	}
	if _, err := ParseID("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"); err == nil {
		t.Fatal("ParseID accepted a value above 2^128")
	}
}

// TestChainHeadResults: a chain's first event is looked up once before
// the chain applies; its result is the same as when each event is looked
// up as it applies, for ids above and below every recorded id.
func TestChainHeadResults(t *testing.T) {
	s := newTestState(t)
	mustAccounts(t, s, Account{ID: id(1), Ledger: usd, Code: 1}, Account{ID: id(2), Ledger: usd, Code: 1})
	tr := func(n uint64, amount uint64, linked bool) Transfer {
		t := Transfer{ID: id(n), DebitAccountID: id(1), CreditAccountID: id(2), Amount: amount, Ledger: usd, Code: 1}
		if linked {
			t.Flags = TransferLinked
		}
		return t
	}
	if r := apply(s, tr(1000, 1, true), tr(20, 1, false)); r[0] != ResultOK || r[1] != ResultOK {
		t.Fatalf("setup: %v", r)
	}
	stamped := tr(21, 1, true)
	stamped.Timestamp = 5
	for _, c := range []struct {
		name  string
		chain []Transfer
		want  []Result
	}{
		{"head exists", []Transfer{tr(1000, 1, true), tr(22, 1, false)}, []Result{ResultExists, ResultLinkedEventFailed}},
		{"head differs", []Transfer{tr(20, 2, true), tr(22, 1, false)}, []Result{ResultExistsWithDifferentFields, ResultLinkedEventFailed}},
		{"second exists", []Transfer{tr(22, 1, true), tr(20, 1, false)}, []Result{ResultLinkedEventFailed, ResultExists}},
		{"second repeats head", []Transfer{tr(22, 1, true), tr(22, 1, false)}, []Result{ResultLinkedEventFailed, ResultExistsWithDifferentFields}},
		{"second repeats head above max", []Transfer{tr(2000, 1, true), tr(2000, 2, false)}, []Result{ResultLinkedEventFailed, ResultExistsWithDifferentFields}},
		{"head stamped", []Transfer{stamped, tr(22, 1, false)}, []Result{ResultTimestampMustBeZero, ResultLinkedEventFailed}},
		{"replay", []Transfer{tr(1000, 1, true), tr(20, 1, false)}, []Result{ResultExists, ResultExists}},
	} {
		before := s.TransferCount()
		_, dpo, _, _ := balances(t, s, id(1))
		r := apply(s, c.chain...)
		for i := range c.want {
			if r[i] != c.want[i] {
				t.Fatalf("%s: got %v, want %v", c.name, r, c.want)
			}
		}
		_, after, _, _ := balances(t, s, id(1))
		if s.TransferCount() != before || after != dpo {
			t.Fatalf("%s: transfers %d -> %d, debits %d -> %d", c.name, before, s.TransferCount(), dpo, after)
		}
		if c.chain[0].Timestamp != 0 && c.name != "head stamped" {
			t.Fatalf("%s: head not restored: %+v", c.name, c.chain[0])
		}
	}
	if r := apply(s, tr(23, 1, true), tr(24, 1, false)); r[0] != ResultOK || r[1] != ResultOK {
		t.Fatalf("new chain below max: %v", r)
	}
	if r := apply(s, tr(23, 1, true), tr(24, 1, false)); r[0] != ResultExists || r[1] != ResultExists {
		t.Fatalf("replayed chain below max: %v", r)
	}

	accts := func(a, b Account) []Result {
		a.Flags |= AccountLinked
		res := make([]Result, 2)
		s.CreateAccounts(200, []Account{a, b}, res)
		return res
	}
	if r := accts(Account{ID: id(1), Ledger: usd, Code: 2}, Account{ID: id(3), Ledger: usd, Code: 1}); r[0] != ResultExistsWithDifferentFields || r[1] != ResultLinkedEventFailed {
		t.Fatalf("account head differs: %v", r)
	}
	if r := accts(Account{ID: id(3), Ledger: usd, Code: 1}, Account{ID: id(3), Ledger: usd, Code: 1}); r[0] != ResultLinkedEventFailed || r[1] != ResultExists {
		t.Fatalf("account repeats head: %v", r)
	}
	if _, ok := s.Account(id(3)); ok {
		t.Fatal("account of a failed chain was kept")
	}
	if r := accts(Account{ID: id(3), Ledger: usd, Code: 1}, Account{ID: id(4), Ledger: usd, Code: 1}); r[0] != ResultOK || r[1] != ResultOK {
		t.Fatalf("account chain: %v", r)
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}
