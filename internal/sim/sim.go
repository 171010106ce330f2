// Package sim is AgentPay's seeded deterministic simulation of the ledger
// engine: a random workload of transfers, linked chains, pending
// transfers that are posted (in full or in part), voided or left to
// expire, retries, clock jumps and restarts from the store, driven by one
// seed, with the ledger's invariants checked after every step.
//
// The same seed always produces the same run: the workload, the fake clock
// and the engine's apply are deterministic, and requests are submitted one
// at a time. A failing seed is a reproducible bug report.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/ledger"
)

// Clock is a fake clock the simulation moves by hand.
type Clock struct{ nanos atomic.Int64 }

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.nanos.Store(t.UnixNano())
	return c
}

// Now implements ledger.Clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// OpenStore opens the store a simulation runs on; every call must open the
// same durable data (a restart reopens it).
type OpenStore func() (ledger.Store, io.Closer, error)

// Config describes one simulation run.
type Config struct {
	Seed     uint64
	Steps    int // requests and other actions
	Accounts int // 3..64
	Open     OpenStore
}

// Report summarises a run.
type Report struct {
	Requests, Transfers, Committed, Rejected int
	Restarts, Ticks, Replays                 int
	Digest                                   [32]byte
}

const ledgerUSD = 1

type sim struct {
	cfg    Config
	rng    *rand.Rand
	clock  *Clock
	store  ledger.Store
	closer io.Closer
	engine *ledger.Engine
	nextID uint64
	// history of requests whose every transfer committed, as submitted.
	committed [][]ledger.Transfer
	pendings  []ledger.ID             // pending transfers created
	resolved  map[ledger.ID]ledger.ID // pending id -> the transfer that resolved it
	report    Report
}

// Run runs one simulation and returns its report, or the first violated
// invariant as an error naming the seed and step.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Accounts < 3 || cfg.Accounts > 64 {
		return Report{}, errors.New("sim: Accounts must be in 3..64")
	}
	s := &sim{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)),
		clock:    NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		resolved: make(map[ledger.ID]ledger.ID),
		nextID:   1000,
	}
	if err := s.start(ctx); err != nil {
		return Report{}, err
	}
	defer s.stop(ctx)
	if err := s.setup(ctx); err != nil {
		return Report{}, err
	}
	for step := 0; step < cfg.Steps; step++ {
		if err := s.step(ctx); err != nil {
			return s.report, fmt.Errorf("sim: seed %d step %d: %w", cfg.Seed, step, err)
		}
		if err := s.engine.Inspect(ctx, (*ledger.State).CheckInvariants); err != nil {
			return s.report, fmt.Errorf("sim: seed %d step %d: invariant: %w", cfg.Seed, step, err)
		}
	}
	if err := s.engine.Inspect(ctx, func(st *ledger.State) error {
		s.report.Digest = st.Digest()
		return nil
	}); err != nil {
		return s.report, err
	}
	return s.report, nil
}

func (s *sim) start(ctx context.Context) error {
	st, closer, err := s.cfg.Open()
	if err != nil {
		return fmt.Errorf("sim: open store: %w", err)
	}
	e, err := ledger.Open(ctx, ledger.Config{Store: st, Clock: s.clock})
	if err != nil {
		closer.Close()
		return fmt.Errorf("sim: open engine: %w", err)
	}
	e.Start()
	s.store, s.closer, s.engine = st, closer, e
	return nil
}

func (s *sim) stop(ctx context.Context) error {
	if s.engine == nil {
		return nil
	}
	err := s.engine.Stop(ctx)
	if cerr := s.closer.Close(); err == nil {
		err = cerr
	}
	s.engine = nil
	return err
}

func (s *sim) id() ledger.ID {
	s.nextID++
	return ledger.IDFromUint64(s.nextID)
}

func (s *sim) account(i int) ledger.ID { return ledger.IDFromUint64(uint64(i + 1)) }

// setup creates the asset and the accounts: account 0 is an unbounded
// funding account, the others carry limits and are funded from it.
func (s *sim) setup(ctx context.Context) error {
	res, err := s.engine.CreateAssets(ctx, []ledger.Asset{{Ledger: ledgerUSD, Code: "USD", Scale: 2}}, nil)
	if err != nil || res[0] != ledger.ResultOK {
		return fmt.Errorf("sim: asset: %v %v", res, err)
	}
	accounts := make([]ledger.Account, s.cfg.Accounts)
	for i := range accounts {
		a := ledger.Account{ID: s.account(i), Ledger: ledgerUSD, Code: 1}
		switch {
		case i == 0:
		case i%3 == 1:
			a.Flags = ledger.AccountDebitsMustNotExceedCredits
		case i%3 == 2:
			a.Flags = ledger.AccountDebitsMustNotExceedCredits
			a.Limit = uint64(s.rng.IntN(500))
		default:
			a.Flags = ledger.AccountCreditsMustNotExceedDebits
			a.Limit = 10_000
		}
		accounts[i] = a
	}
	res, err = s.engine.CreateAccounts(ctx, accounts, nil)
	if err != nil {
		return err
	}
	for i, r := range res {
		if r != ledger.ResultOK {
			return fmt.Errorf("sim: account %d: %v", i, r)
		}
	}
	funding := make([]ledger.Transfer, 0, s.cfg.Accounts)
	for i := 1; i < s.cfg.Accounts; i++ {
		if accounts[i].Flags&ledger.AccountCreditsMustNotExceedDebits != 0 {
			continue
		}
		funding = append(funding, ledger.Transfer{ID: s.id(), DebitAccountID: s.account(0),
			CreditAccountID: s.account(i), Amount: 1000, Ledger: ledgerUSD, Code: 1})
	}
	_, err = s.engine.CreateTransfers(ctx, funding, nil)
	return err
}

func (s *sim) step(ctx context.Context) error {
	switch p := s.rng.IntN(100); {
	case p < 70:
		return s.request(ctx, s.randomRequest())
	case p < 80:
		return s.replay(ctx)
	case p < 95:
		s.clock.Advance(time.Duration(s.rng.IntN(4000)) * time.Millisecond)
		s.report.Ticks++
		return s.engine.Tick(ctx)
	default:
		return s.restart(ctx)
	}
}

func (s *sim) randomRequest() []ledger.Transfer {
	n := 1 + s.rng.IntN(6)
	req := make([]ledger.Transfer, n)
	for i := range req {
		req[i] = s.randomTransfer()
		if i < n-1 && s.rng.IntN(3) == 0 {
			req[i].Flags |= ledger.TransferLinked
		}
	}
	return req
}

func (s *sim) randomTransfer() ledger.Transfer {
	t := ledger.Transfer{ID: s.id(), Ledger: ledgerUSD, Code: 1}
	pick := func() ledger.ID { return s.account(s.rng.IntN(s.cfg.Accounts)) }
	switch k := s.rng.IntN(10); {
	case k < 4:
		t.DebitAccountID, t.CreditAccountID = pick(), pick()
		t.Amount = uint64(s.rng.IntN(400))
		if s.rng.IntN(8) == 0 {
			t.Flags |= ledger.TransferBalancingDebit
		}
	case k < 7:
		t.DebitAccountID, t.CreditAccountID = pick(), pick()
		t.Amount = uint64(s.rng.IntN(400))
		t.Flags |= ledger.TransferPending
		t.Timeout = uint32(s.rng.IntN(6))
	case k < 9 && len(s.pendings) > 0:
		t.PendingID = s.pendings[s.rng.IntN(len(s.pendings))]
		t.Flags |= ledger.TransferPostPending
		t.Amount = []uint64{ledger.AmountMax, 0, 50, 1000}[s.rng.IntN(4)]
	case len(s.pendings) > 0:
		t.PendingID = s.pendings[s.rng.IntN(len(s.pendings))]
		t.Flags |= ledger.TransferVoidPending
	default:
		t.DebitAccountID, t.CreditAccountID = pick(), pick()
		t.Amount = 1
	}
	return t
}

// request submits req and checks what the results promise.
func (s *sim) request(ctx context.Context, req []ledger.Transfer) error {
	submitted := append([]ledger.Transfer(nil), req...)
	res, err := s.engine.CreateTransfers(ctx, req, nil)
	if err != nil {
		return err
	}
	s.report.Requests++
	s.report.Transfers += len(req)
	all := true
	for i, r := range res {
		switch r {
		case ledger.ResultOK:
			s.report.Committed++
			t := req[i]
			if t.Timestamp == 0 {
				return fmt.Errorf("transfer %d committed without a timestamp", i)
			}
			if t.Flags&ledger.TransferPending != 0 {
				s.pendings = append(s.pendings, t.ID)
			}
			if t.Flags&(ledger.TransferPostPending|ledger.TransferVoidPending) != 0 {
				if prev, ok := s.resolved[t.PendingID]; ok {
					return fmt.Errorf("pending %v resolved twice: by %v and %v", t.PendingID, prev, t.ID)
				}
				s.resolved[t.PendingID] = t.ID
			}
		default:
			all = false
			s.report.Rejected++
			if req[i] != submitted[i] {
				return fmt.Errorf("rejected transfer %d (%v) was modified", i, r)
			}
		}
	}
	if all {
		s.committed = append(s.committed, submitted)
	}
	return nil
}

// replay resubmits a request that committed: every transfer must come back
// as exists and nothing may change. Now and then it changes one field of
// one transfer instead: that one must be refused.
func (s *sim) replay(ctx context.Context) error {
	if len(s.committed) == 0 {
		return nil
	}
	s.report.Replays++
	orig := s.committed[s.rng.IntN(len(s.committed))]
	req := append([]ledger.Transfer(nil), orig...)
	changed := -1
	if s.rng.IntN(4) == 0 {
		changed = s.rng.IntN(len(req))
		req[changed].UserData64++
	}
	var before, after [32]byte
	digest := func(out *[32]byte) error {
		return s.engine.Inspect(ctx, func(st *ledger.State) error { *out = st.Digest(); return nil })
	}
	if err := digest(&before); err != nil {
		return err
	}
	res, err := s.engine.CreateTransfers(ctx, req, nil)
	if err != nil {
		return err
	}
	inChain := func(i int) bool {
		return orig[i].Flags&ledger.TransferLinked != 0 || (i > 0 && orig[i-1].Flags&ledger.TransferLinked != 0)
	}
	for i, r := range res {
		want := ledger.ResultExists
		switch {
		case changed >= 0 && inChain(i) && inChain(changed):
			// A changed chain fails as a whole; which member reports what
			// depends on its position. None may commit anew.
			if r == ledger.ResultOK {
				return fmt.Errorf("replay transfer %d of a changed chain committed", i)
			}
			continue
		case i == changed:
			want = ledger.ResultExistsWithDifferentFields
		}
		if r != want {
			return fmt.Errorf("replay transfer %d: got %v, want %v", i, r, want)
		}
	}
	if err := digest(&after); err != nil {
		return err
	}
	if before != after {
		return errors.New("replay changed the state")
	}
	return nil
}

// restart stops the engine, closes the store, reopens both and checks the
// reloaded state equals the state before, and that every balance equals
// what the committed transfers imply.
func (s *sim) restart(ctx context.Context) error {
	s.report.Restarts++
	var before [32]byte
	if err := s.engine.Inspect(ctx, func(st *ledger.State) error { before = st.Digest(); return nil }); err != nil {
		return err
	}
	if err := s.stop(ctx); err != nil {
		return err
	}
	if err := s.start(ctx); err != nil {
		return err
	}
	var after [32]byte
	if err := s.engine.Inspect(ctx, func(st *ledger.State) error { after = st.Digest(); return nil }); err != nil {
		return err
	}
	if before != after {
		return errors.New("state after restart differs from state before")
	}
	return Recompute(ctx, s.store, 0)
}
