package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/ledger"
)

// gateStore is a Store that keeps only the ids of committed transfers.
// While gated, each commit waits for a value on release (or its close)
// after signalling started; from failAt on, every commit fails.
type gateStore struct {
	gated   atomic.Bool
	release chan struct{}
	started chan struct{}
	failAt  atomic.Uint64 // batch Seq of the first failing commit; 0: none
	mu      sync.Mutex
	ids     map[ledger.ID]bool
}

func newGateStore() *gateStore {
	return &gateStore{release: make(chan struct{}), started: make(chan struct{}, 1024), ids: make(map[ledger.ID]bool)}
}

func (*gateStore) Load(_ context.Context, _ uint32, l ledger.Loader) error {
	l.Position(0, 0)
	return nil
}

func (s *gateStore) CommitBatch(_ context.Context, b *ledger.Batch) error {
	if s.gated.Load() {
		s.started <- struct{}{}
		<-s.release
	}
	if at := s.failAt.Load(); at != 0 && b.Seq >= at {
		return errors.New("disk on fire")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range b.Transfers {
		s.ids[t.ID] = true
	}
	return nil
}

func (s *gateStore) committed(id ledger.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

func payment(n uint64) *ledger.Request {
	return &ledger.Request{
		Transfers: []ledger.Transfer{{ID: ledger.IDFromUint64(n), DebitAccountID: ledger.IDFromUint64(1),
			CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: usd, Code: 1}},
		Docs: []ledger.Doc{{Kind: "payment", Key: fmt.Sprintf("pay_%d", n), Body: []byte("x")}},
	}
}

// TestCanceledRequestNotReused: a caller whose context ends while its
// request waits for its commit returns at once; the engine's late answer
// to that request reaches no later request. Each later request returns
// only once its own batch is durable.
func TestCanceledRequestNotReused(t *testing.T) {
	ctx := context.Background()
	st := newGateStore()
	e := startEngine(t, st, nil)
	defer func() {
		st.gated.Store(false)
		e.Stop(ctx)
	}()
	setup(t, e, []ledger.Account{{ID: ledger.IDFromUint64(1), Ledger: usd, Code: 1}, {ID: ledger.IDFromUint64(2), Ledger: usd, Code: 1}})
	for round := range 20 {
		st.gated.Store(true)
		cctx, cancel := context.WithCancel(ctx)
		canceled := make(chan error, 1)
		base := uint64(1000 * (round + 1))
		go func() {
			_, _, err := e.Submit(cctx, payment(base), nil)
			canceled <- err
		}()
		<-st.started // the canceled request's batch is committing
		cancel()
		if err := <-canceled; !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled submit: %v", err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range uint64(64) {
			wg.Go(func() {
				res, ok, err := e.Submit(ctx, payment(base+1+i), nil)
				switch {
				case err != nil || !ok || res[0] != ledger.ResultOK:
					errs <- fmt.Errorf("submit %d: %v %v %v", i, res, ok, err)
				case !st.committed(ledger.IDFromUint64(base + 1 + i)):
					errs <- fmt.Errorf("submit %d returned before its batch committed", i)
				}
			})
		}
		for e.Stats().QueueRequests > 0 {
			time.Sleep(100 * time.Microsecond)
		}
		st.release <- struct{}{} // the canceled request's batch commits: its late answer
		time.Sleep(2 * time.Millisecond)
		st.gated.Store(false)
		stop := make(chan struct{})
		go func() { // release the commits that started gated
			for {
				select {
				case st.release <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
		waited := make(chan struct{})
		go func() { wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			t.Fatal("requests not answered: an answer went to a request that had one already")
		}
		close(stop)
		for len(st.started) > 0 {
			<-st.started
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if !st.committed(ledger.IDFromUint64(base)) {
			t.Fatal("the canceled request did not commit")
		}
	}
}

// TestFailedCommitAnswersEveryone: when a commit fails, every request,
// queued, applied or submitted later, is answered: with success only if
// its batch committed, otherwise with ErrFailed.
func TestFailedCommitAnswersEveryone(t *testing.T) {
	ctx := context.Background()
	st := newGateStore()
	fatal := make(chan error, 1)
	e, err := ledger.Open(ctx, ledger.Config{Store: st, OnFatal: func(err error) { fatal <- err }})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	defer e.Stop(ctx)
	setup(t, e, []ledger.Account{{ID: ledger.IDFromUint64(1), Ledger: usd, Code: 1}, {ID: ledger.IDFromUint64(2), Ledger: usd, Code: 1}})
	st.failAt.Store(e.Stats().Batches + 4)
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for g := range uint64(32) {
		wg.Go(func() {
			for i := range uint64(50) {
				n := 1000 + g*100 + i
				res, recorded, err := e.Submit(ctx, payment(n), nil)
				switch {
				case err == nil:
					if !recorded || res[0] != ledger.ResultOK || !st.committed(ledger.IDFromUint64(n)) {
						t.Errorf("submit %d: %v %v, committed %v", n, res, recorded, st.committed(ledger.IDFromUint64(n)))
					}
					ok.Add(1)
				case errors.Is(err, ledger.ErrFailed):
					failed.Add(1)
				default:
					t.Errorf("submit %d: %v", n, err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() == 0 || failed.Load() == 0 {
		t.Fatalf("%d ok, %d failed: want both", ok.Load(), failed.Load())
	}
	if err := <-fatal; !errors.Is(err, ledger.ErrFailed) {
		t.Fatalf("OnFatal: %v", err)
	}
}

// committedLog is an EvidenceLog that keeps the ids of the transfers of
// every batch it was told is committed.
type committedLog struct {
	mu  sync.Mutex
	ids map[ledger.ID]int // id -> times reported committed
}

func (*committedLog) Prepare(*ledger.Batch) error { return nil }

func (l *committedLog) Committed(b *ledger.Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range b.Transfers {
		l.ids[t.ID]++
	}
}

func (l *committedLog) count(id ledger.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[id]
}

// TestAnswerAfterCommitted: a request is answered only once its batch is
// durable and the evidence log was told so, each request exactly once,
// and Stop returns only once every queued request is answered.
func TestAnswerAfterCommitted(t *testing.T) {
	ctx := context.Background()
	st := newGateStore()
	ev := &committedLog{ids: make(map[ledger.ID]int)}
	e, err := ledger.Open(ctx, ledger.Config{Store: st, Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	setup(t, e, []ledger.Account{{ID: ledger.IDFromUint64(1), Ledger: usd, Code: 1}, {ID: ledger.IDFromUint64(2), Ledger: usd, Code: 1}})
	before := e.Stats().Requests
	const callers, each = 64, 40
	var wg sync.WaitGroup
	var answered atomic.Int64
	for g := range uint64(callers) {
		wg.Go(func() {
			for i := range uint64(each) {
				n := 1000 + g*each + i
				res, ok, err := e.Submit(ctx, payment(n), nil)
				answered.Add(1)
				id := ledger.IDFromUint64(n)
				if err != nil || !ok || res[0] != ledger.ResultOK {
					t.Errorf("submit %d: %v %v %v", n, res, ok, err)
				} else if !st.committed(id) || ev.count(id) != 1 {
					t.Errorf("submit %d answered before its batch was committed: store %v, evidence %d", n, st.committed(id), ev.count(id))
				}
			}
		})
	}
	wg.Wait()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().Requests - before; got != callers*each || answered.Load() != callers*each {
		t.Fatalf("%d requests committed, %d answered: want %d", got, answered.Load(), callers*each)
	}
}
