package ledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/internal/bench"
	"github.com/agentpay/agentpay/internal/sim"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store/sqlite"
)

const usd = 1

func openStore(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}

func startEngine(tb testing.TB, st ledger.Store, clock ledger.Clock) *ledger.Engine {
	tb.Helper()
	e, err := ledger.Open(context.Background(), ledger.Config{Store: st, Clock: clock})
	if err != nil {
		tb.Fatal(err)
	}
	e.Start()
	return e
}

func mustOK(tb testing.TB, res []ledger.Result, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	for i, r := range res {
		if r != ledger.ResultOK {
			tb.Fatalf("event %d: got %v, want ok", i, r)
		}
	}
}

// must returns a checker for a call's results: must(t)(e.CreateTransfers(...)).
func must(tb testing.TB) func([]ledger.Result, error) {
	return func(res []ledger.Result, err error) {
		tb.Helper()
		mustOK(tb, res, err)
	}
}

func setup(tb testing.TB, e *ledger.Engine, accounts []ledger.Account) {
	tb.Helper()
	ctx := context.Background()
	res, err := e.CreateAssets(ctx, []ledger.Asset{{Ledger: usd, Code: "USD", Scale: 2}}, nil)
	mustOK(tb, res, err)
	for len(accounts) > 0 {
		n := min(len(accounts), ledger.BatchEventsMax)
		res, err = e.CreateAccounts(ctx, accounts[:n], nil)
		mustOK(tb, res, err)
		accounts = accounts[n:]
	}
}

// TestConcurrentOverrun: 64 goroutines race 2,000 debits of 3 against an
// account funded with 500; exactly 166 may succeed and the balance never
// goes below zero.
func TestConcurrentOverrun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer st.Close()
	e := startEngine(t, st, nil)
	bank, wallet, shop := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)
	setup(t, e, []ledger.Account{
		{ID: bank, Ledger: usd, Code: 1},
		{ID: wallet, Ledger: usd, Code: 1, Flags: ledger.AccountDebitsMustNotExceedCredits},
		{ID: shop, Ledger: usd, Code: 1},
	})
	must(t)(e.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(10), DebitAccountID: bank,
		CreditAccountID: wallet, Amount: 500, Ledger: usd, Code: 1}}, nil))
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Uint64{}
	next.Store(1000)
	for g := 0; g < 64; g++ {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > 3000 {
					return
				}
				res, err := e.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(n),
					DebitAccountID: wallet, CreditAccountID: shop, Amount: 3, Ledger: usd, Code: 1}}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				switch res[0] {
				case ledger.ResultOK:
					ok.Add(1)
				case ledger.ResultExceedsCredits:
					refused.Add(1)
				default:
					t.Errorf("unexpected result %v", res[0])
				}
			}
		})
	}
	wg.Wait()
	if got := ok.Load(); got != 166 {
		t.Fatalf("succeeded %d debits of 3 from 500, want 166", got)
	}
	if got := refused.Load(); got != 2000-166 {
		t.Fatalf("refused %d, want %d", got, 2000-166)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := st.GetAccount(ctx, wallet)
	if err != nil {
		t.Fatal(err)
	}
	if a.DebitsPosted != ledger.U128(498) || a.CreditsPosted != ledger.U128(500) {
		t.Fatalf("wallet debits %v credits %v, want 498 500", a.DebitsPosted, a.CreditsPosted)
	}
	if err := sim.Recompute(ctx, st, 0); err != nil {
		t.Fatal(err)
	}
}

// TestRestartKeepsEverything commits, stops, reopens and checks the state
// digest and the expiry of a pending transfer across the restart.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	clock := sim.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := openStore(t, path)
	e := startEngine(t, st, clock)
	a, b := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	setup(t, e, []ledger.Account{{ID: a, Ledger: usd, Code: 1}, {ID: b, Ledger: usd, Code: 1}})
	must(t)(e.CreateTransfers(ctx, []ledger.Transfer{
		{ID: ledger.IDFromUint64(10), DebitAccountID: a, CreditAccountID: b, Amount: 5, Ledger: usd, Code: 1},
		{ID: ledger.IDFromUint64(11), DebitAccountID: a, CreditAccountID: b, Amount: 7, Ledger: usd, Code: 1,
			Flags: ledger.TransferPending, Timeout: 10},
	}, nil))
	var before [32]byte
	if err := e.Inspect(ctx, func(s *ledger.State) error { before = s.Digest(); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = openStore(t, path)
	defer st.Close()
	e = startEngine(t, st, clock)
	defer e.Stop(ctx)
	var after [32]byte
	if err := e.Inspect(ctx, func(s *ledger.State) error { after = s.Digest(); return nil }); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Fatal("state after restart differs")
	}
	// The pending transfer expires after the restart, driven by the clock.
	clock.Advance(11 * time.Second)
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	acct, err := st.GetAccount(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !acct.DebitsPending.IsZero() || acct.DebitsPosted != ledger.U128(5) {
		t.Fatalf("after expiry: pending %v posted %v, want 0 5", acct.DebitsPending, acct.DebitsPosted)
	}
	res, err := e.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(12), PendingID: ledger.IDFromUint64(11),
		Flags: ledger.TransferPostPending, Amount: ledger.AmountMax}}, nil)
	if err != nil || res[0] != ledger.ResultPendingTransferExpired {
		t.Fatalf("post after expiry: %v %v, want pending_transfer_expired", res, err)
	}
}

// TestExpiryWithoutCaller: with the real clock, a pending transfer with a
// 1 s timeout expires on its own.
func TestExpiryWithoutCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer st.Close()
	e := startEngine(t, st, nil)
	defer e.Stop(ctx)
	a, b := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	setup(t, e, []ledger.Account{{ID: a, Ledger: usd, Code: 1}, {ID: b, Ledger: usd, Code: 1}})
	must(t)(e.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(10), DebitAccountID: a,
		CreditAccountID: b, Amount: 9, Ledger: usd, Code: 1, Flags: ledger.TransferPending, Timeout: 1}}, nil))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		acct, err := st.GetAccount(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if acct.DebitsPending.IsZero() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("pending transfer did not expire within 10 s of its 1 s timeout")
}

// TestStopDrains: requests queued before Stop are all committed; requests
// after Stop are refused with ErrStopped.
func TestStopDrains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer st.Close()
	e := startEngine(t, st, nil)
	a, b := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	setup(t, e, []ledger.Account{{ID: a, Ledger: usd, Code: 1}, {ID: b, Ledger: usd, Code: 1}})
	var wg sync.WaitGroup
	var acked atomic.Int64
	for i := 0; i < 200; i++ {
		wg.Go(func() {
			res, err := e.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(uint64(100 + i)),
				DebitAccountID: a, CreditAccountID: b, Amount: 1, Ledger: usd, Code: 1}}, nil)
			if err == nil && res[0] == ledger.ResultOK {
				acked.Add(1)
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	acct, err := st.GetAccount(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if acct.DebitsPosted != ledger.U128(uint64(acked.Load())) {
		t.Fatalf("committed %v, acknowledged %d", acct.DebitsPosted, acked.Load())
	}
	if _, err := e.CreateTransfers(ctx, []ledger.Transfer{{ID: ledger.IDFromUint64(9999), DebitAccountID: a,
		CreditAccountID: b, Amount: 1, Ledger: usd, Code: 1}}, nil); err != ledger.ErrStopped {
		t.Fatalf("after stop: got %v, want ErrStopped", err)
	}
}

// BenchmarkEngine measures durable transfers per second through the engine
// on SQLite with full requests of 8,189 transfers between 1,000 accounts,
// several requests in flight so batch N+1 is applied while batch N commits,
// and, in the same run, the baseline of one SQLite transaction per
// transfer.
func BenchmarkEngine(b *testing.B) {
	for _, perRequest := range []int{ledger.BatchEventsMax, 100} {
		b.Run(fmt.Sprintf("transfers_per_request=%d", perRequest), func(b *testing.B) {
			ctx := context.Background()
			st := openStore(b, filepath.Join(b.TempDir(), "bench.db"))
			defer st.Close()
			e := startEngine(b, st, nil)
			defer e.Stop(ctx)
			if err := bench.SetupAccounts(ctx, e, 1000); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			res, err := bench.Engine(ctx, e, max(b.N, perRequest), perRequest, 1000, 1<<32)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.PerSecond(), "transfers/s")
		})
	}
	b.Run("baseline_one_transaction_per_transfer", func(b *testing.B) {
		// Each transfer costs an fsync: cap the count so the run stays short.
		res, err := bench.Baseline(context.Background(), filepath.Join(b.TempDir(), "baseline.db"), min(b.N, 2000), 1000)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.PerSecond(), "transfers/s")
		b.ReportMetric(0, "ns/op") // it runs at most 2,000 transfers whatever b.N is
	})
}
