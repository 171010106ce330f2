package ledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Clock tells the engine the time. Tests inject a fake one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

// Errors returned by Engine methods.
var (
	// ErrStopped: the engine is stopping or stopped; nothing was applied.
	ErrStopped = errors.New("ledger: engine stopped")
	// ErrFailed: a batch could not be committed; the engine stopped and the
	// process must restart to reload the committed state. Whether the
	// request was applied is unknown until then (retry with the same ids).
	ErrFailed = errors.New("ledger: engine failed")
	// ErrTooManyEvents: a request carried more than BatchEventsMax events.
	ErrTooManyEvents = errors.New("ledger: too many events in one request")
	// ErrNoEvents: a request carried no events.
	ErrNoEvents = errors.New("ledger: no events in request")
)

// Config configures an Engine. Zero values take the defaults.
type Config struct {
	Shard uint32
	// ShardOf maps an account to its shard; nil means a single shard.
	ShardOf func(ID) uint32
	Store   Store
	Clock   Clock // default SystemClock
	// QueueRequestsMax bounds the requests waiting to be applied; callers
	// block (until their context ends) when it is full. Default 4096.
	QueueRequestsMax int
	// BatchEventsMax closes a batch at this many events even if the
	// previous commit has not finished. Default 4 × BatchEventsMax.
	BatchEventsMax int
	// OnFatal is called once, from the engine's goroutine, when a commit
	// fails. The process should exit and restart.
	OnFatal func(error)
	// Evidence, when set, records every batch in the evidence log in the
	// batch's own store transaction.
	Evidence EvidenceLog
}

// EvidenceLog records committed batches in a tamper-evident log. The
// engine calls it from its commit goroutine, one batch at a time, in
// order.
type EvidenceLog interface {
	// Prepare computes what b adds to the log and sets b.Evidence. It runs
	// after apply and before the store transaction; an error fails the
	// engine like a failed commit.
	Prepare(b *Batch) error
	// Committed reports that b, with its evidence, is durable. After a
	// failed commit Committed is not called and the engine stops, so the
	// log's in-memory state is rebuilt from the store on restart.
	Committed(b *Batch)
}

// Idempotency asks the engine to store a response for an idempotency key
// in the same transaction as the request's effects.
type Idempotency struct {
	Key         string
	RequestHash [32]byte
	// Render builds the stored response from the request's results. It
	// runs on the commit goroutine, after apply and before the commit; it
	// may read the request's events, whose engine-assigned fields are set.
	Render func(results []Result) (status int, body []byte)
}

// CommitHistogramBuckets is the number of buckets of Stats.CommitHistogram.
const CommitHistogramBuckets = 24

// Stats are the engine's counters since it started.
type Stats struct {
	Batches     uint64 // batches committed
	Events      uint64 // events in committed batches (assets, accounts, transfers, expiries)
	Transfers   uint64 // transfers committed
	Requests    uint64 // requests answered
	CommitNanos uint64 // total time spent in Store.CommitBatch
	// CommitHistogram counts commits by duration: bucket i holds the
	// commits that took less than 2^i microseconds (the last bucket, the
	// rest). Bucket 10 is about 1 ms, bucket 17 about 131 ms.
	CommitHistogram [CommitHistogramBuckets]uint64
	QueueRequests   int // requests waiting now
}

// Engine is the single writer of one shard. Create it with Open, then
// Start it; Stop drains it. Its methods are safe for concurrent use.
type Engine struct {
	cfg   Config
	state *State

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *request

	commits    chan *pendingBatch
	commitDone chan commitResult
	answers    chan []*request // requests of durable batches, to answer
	stopped    chan struct{}
	startOnce  sync.Once
	stopOnce   sync.Once
	failed     atomic.Pointer[error]

	batches, events, transfers, requests, commitNanos atomic.Uint64
	commitHistogram                                   [CommitHistogramBuckets]atomic.Uint64
}

type requestKind uint8

const (
	kindAssets requestKind = iota + 1
	kindAccounts
	kindTransfers
	kindTick
	kindInspect
	kindMixed
)

type request struct {
	kind      requestKind
	assets    []Asset
	accounts  []Account
	transfers []Transfer
	docs      []Doc
	docHashes [][32]byte // the SHA-256 of each doc body
	recorded  bool       // kindMixed: the docs committed
	results   []Result
	idem      *Idempotency
	inspect   func(*State) error
	done      chan error
}

// requestPool holds requests whose done channel is empty and that nothing
// will answer any more: a request goes back only after its one answer
// was received, or when it was never queued.
var requestPool = sync.Pool{New: func() any { return &request{done: make(chan error, 1)} }}

func newRequest(kind requestKind) *request {
	r := requestPool.Get().(*request)
	r.kind = kind
	return r
}

// release clears r and returns it to requestPool. The caller must have
// received r's answer, or r must never have been queued.
func (r *request) release() {
	*r = request{done: r.done, docHashes: r.docHashes[:0]}
	requestPool.Put(r)
}

type commitResult struct {
	batch *Batch
	err   error
}

type pendingBatch struct {
	batch *Batch
	reqs  []*request
}

// Open loads the shard's committed state from cfg.Store and returns an
// engine ready to Start.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("ledger: Config.Store is nil")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if cfg.QueueRequestsMax <= 0 {
		cfg.QueueRequestsMax = 4096
	}
	if cfg.BatchEventsMax <= 0 {
		cfg.BatchEventsMax = 4 * BatchEventsMax
	}
	if cfg.BatchEventsMax < BatchEventsMax+1 {
		return nil, fmt.Errorf("ledger: Config.BatchEventsMax %d is below one full request", cfg.BatchEventsMax)
	}
	state, err := LoadState(ctx, cfg.Store, cfg.Shard, cfg.ShardOf)
	if err != nil {
		return nil, err
	}
	return &Engine{
		cfg:        cfg,
		state:      state,
		queue:      make(chan *request, cfg.QueueRequestsMax),
		commits:    make(chan *pendingBatch),
		commitDone: make(chan commitResult, 1),
		answers:    make(chan []*request, 4),
		stopped:    make(chan struct{}),
	}, nil
}

// Start starts the engine's goroutines. It is idempotent.
func (e *Engine) Start() {
	e.startOnce.Do(func() {
		go e.answerLoop()
		go e.commitLoop()
		go e.run()
	})
}

// Stop stops taking requests, applies and commits every request already
// queued, and waits for the engine's goroutines, or for ctx. It is
// idempotent and safe to call on an engine that was never started.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() {
		e.Start() // so the queue drains even if Start was never called
		e.mu.Lock()
		if !e.closed {
			e.closed = true
			close(e.queue)
		}
		e.mu.Unlock()
	})
	select {
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ledger: stop: %w", ctx.Err())
	}
}

// State returns the engine's state machine. It is safe to use only after
// Stop has returned (tests use it to check invariants).
func (e *Engine) State() *State { return e.state }

// Err returns the error that failed the engine, or nil.
func (e *Engine) Err() error {
	if p := e.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	var h [CommitHistogramBuckets]uint64
	for i := range h {
		h[i] = e.commitHistogram[i].Load()
	}
	return Stats{
		CommitHistogram: h,
		Batches:         e.batches.Load(),
		Events:          e.events.Load(),
		Transfers:       e.transfers.Load(),
		Requests:        e.requests.Load(),
		CommitNanos:     e.commitNanos.Load(),
		QueueRequests:   len(e.queue),
	}
}

// CreateAssets registers assets. It returns one result per asset once the
// batch holding them is durable.
func (e *Engine) CreateAssets(ctx context.Context, assets []Asset, idem *Idempotency) ([]Result, error) {
	r := newRequest(kindAssets)
	r.assets, r.idem = assets, idem
	res, _, err := e.submit(ctx, r, len(assets))
	return res, err
}

// CreateAccounts creates accounts (see State.CreateAccounts). It returns
// one result per account once the batch holding them is durable; accounts
// with ResultOK have their Timestamp set.
func (e *Engine) CreateAccounts(ctx context.Context, accounts []Account, idem *Idempotency) ([]Result, error) {
	r := newRequest(kindAccounts)
	r.accounts, r.idem = accounts, idem
	res, _, err := e.submit(ctx, r, len(accounts))
	return res, err
}

// CreateTransfers applies transfers (see State.CreateTransfers). It returns
// one result per transfer once the batch holding them is durable;
// transfers with ResultOK have their engine-assigned fields set. The
// engine owns the slice until CreateTransfers returns.
func (e *Engine) CreateTransfers(ctx context.Context, transfers []Transfer, idem *Idempotency) ([]Result, error) {
	r := newRequest(kindTransfers)
	r.transfers, r.idem = transfers, idem
	res, _, err := e.submit(ctx, r, len(transfers))
	return res, err
}

// Submit applies a mixed request (see Request): its accounts, then its
// transfers, then, only if every one of them committed with ResultOK, its
// docs (with their Timestamp set). It returns one result per account then
// per transfer, and whether the docs committed, once the batch is
// durable. The engine owns req's slices until Submit returns, and its
// docs' bodies for good: the caller never changes them afterwards (a
// Submit that returns early, its context done, may still commit them).
func (e *Engine) Submit(ctx context.Context, req *Request, idem *Idempotency) ([]Result, bool, error) {
	if len(req.Docs) > DocsPerSubmit {
		return nil, false, fmt.Errorf("%w: %d docs, limit %d", ErrInvalidDoc, len(req.Docs), DocsPerSubmit)
	}
	for i := range req.Docs {
		if err := req.Docs[i].Validate(); err != nil {
			return nil, false, err
		}
	}
	n := len(req.Accounts) + len(req.Transfers)
	if n == 0 && len(req.Docs) == 0 {
		return nil, false, ErrNoEvents
	}
	if n+len(req.Docs) > BatchEventsMax {
		return nil, false, ErrTooManyEvents
	}
	r := newRequest(kindMixed)
	r.accounts, r.transfers, r.docs, r.idem = req.Accounts, req.Transfers, req.Docs, idem
	if len(req.Docs) > 0 {
		// Bodies are hashed here, by each caller, rather than by the
		// evidence log on the one commit path (Batch.DocHashes).
		for i := range req.Docs {
			r.docHashes = append(r.docHashes, sha256.Sum256(req.Docs[i].Body))
		}
	} else {
		r.docHashes = nil
	}
	if n == 0 {
		n = -1 // docs only: no results
	}
	return e.submit(ctx, r, n)
}

// Tick applies the expiry of every pending transfer due at the clock's
// now and returns once that is durable. The engine also expires pending
// transfers on its own; Tick lets tests with a fake clock drive it.
func (e *Engine) Tick(ctx context.Context) error {
	_, _, err := e.submit(ctx, newRequest(kindTick), -1)
	return err
}

// Inspect runs fn on the engine's goroutine against the applied (not
// necessarily committed) state, in order with the requests around it, and
// returns fn's error; with a nil error it returns once everything applied
// before it is durable. Tests use it to check invariants between requests.
func (e *Engine) Inspect(ctx context.Context, fn func(*State) error) error {
	r := newRequest(kindInspect)
	r.inspect = fn
	_, _, err := e.submit(ctx, r, -1)
	return err
}

// submit queues r, a request from newRequest, waits for its answer and
// returns its results and whether its docs committed. r is released
// unless the caller's context ended while r was queued: its answer is
// still to come, and r is left to the collector.
func (e *Engine) submit(ctx context.Context, r *request, n int) ([]Result, bool, error) {
	if n == 0 || n > BatchEventsMax {
		r.release()
		if n == 0 {
			return nil, false, ErrNoEvents
		}
		return nil, false, ErrTooManyEvents
	}
	if n > 0 {
		r.results = make([]Result, n)
	}
	if err := e.enqueue(ctx, r); err != nil {
		r.release()
		return nil, false, err
	}
	var err error
	if done := ctx.Done(); done == nil {
		err = <-r.done
	} else {
		select {
		case err = <-r.done:
		case <-done:
			// The request may still commit; its ids make a retry safe.
			return nil, false, fmt.Errorf("ledger: waiting for commit: %w", ctx.Err())
		}
	}
	res, recorded := r.results, r.recorded
	r.release()
	if err != nil {
		return nil, false, err
	}
	return res, recorded, nil
}

func (e *Engine) enqueue(ctx context.Context, r *request) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		if err := e.Err(); err != nil {
			return err
		}
		return ErrStopped
	}
	select {
	case e.queue <- r: // room in the queue: no need to watch ctx
		return nil
	default:
	}
	select {
	case e.queue <- r:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ledger: queue full: %w", ctx.Err())
	}
}

func (e *Engine) now() uint64 { return uint64(e.cfg.Clock.Now().UnixNano()) }

// run is the engine's goroutine: it applies requests into the open batch
// and hands the batch to the committer whenever the committer is idle, so
// batch N+1 fills while batch N commits.
func (e *Engine) run() {
	defer close(e.commits)
	var open *pendingBatch
	busy := false // the committer holds a batch
	events := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	queue := e.queue
	for queue != nil || open != nil || busy {
		e.armExpiry(timer)
		select {
		case r, ok := <-queue:
			if !ok {
				queue = nil
				break
			}
			open, events = e.applyRequest(open, r, events)
			for events < e.cfg.BatchEventsMax && queue != nil {
				select {
				case r, ok := <-queue:
					if !ok {
						queue = nil
						continue
					}
					open, events = e.applyRequest(open, r, events)
					continue
				default:
				}
				break
			}
		case done := <-e.commitDone:
			busy = false
			if done.err != nil {
				e.fail(done.err, open)
				return
			}
			e.state.Recycle(done.batch)
		case <-timer.C:
			if at, ok := e.state.NextExpiry(); ok && at <= e.now() {
				open, events = e.applyRequest(open, &request{kind: kindTick}, events)
			}
		}
		if open != nil && busy && events >= e.cfg.BatchEventsMax {
			done := <-e.commitDone
			if done.err != nil {
				e.fail(done.err, open)
				return
			}
			e.state.Recycle(done.batch)
			busy = false
		}
		if open != nil && !busy {
			open.batch = e.state.Finish()
			e.commits <- open
			open, events, busy = nil, 0, true
		}
	}
}

func (e *Engine) armExpiry(timer *time.Timer) {
	timer.Stop()
	select {
	case <-timer.C:
	default:
	}
	at, ok := e.state.NextExpiry()
	if !ok {
		timer.Reset(time.Hour)
		return
	}
	now := e.now()
	wait := time.Duration(0)
	if at > now {
		wait = time.Duration(at - now)
	}
	timer.Reset(wait)
}

func (e *Engine) applyRequest(open *pendingBatch, r *request, events int) (*pendingBatch, int) {
	if open == nil {
		e.state.Begin()
		open = &pendingBatch{}
	}
	now := e.now()
	e.state.Expire(now)
	switch r.kind {
	case kindAssets:
		e.state.CreateAssets(now, r.assets, r.results)
	case kindAccounts:
		e.state.CreateAccounts(now, r.accounts, r.results)
	case kindTransfers:
		e.state.CreateTransfers(now, r.transfers, r.results)
	case kindMixed:
		na := len(r.accounts)
		if na > 0 {
			e.state.CreateAccounts(now, r.accounts, r.results[:na])
		}
		if len(r.transfers) > 0 {
			e.state.CreateTransfers(now, r.transfers, r.results[na:])
		}
		r.recorded = true
		for _, res := range r.results {
			r.recorded = r.recorded && res == ResultOK
		}
		if r.recorded {
			e.state.AddDocs(now, r.docs, r.docHashes)
		}
	case kindTick:
	case kindInspect:
		if err := r.inspect(e.state); err != nil {
			r.done <- err
			return open, events + 1
		}
	}
	if r.done != nil {
		open.reqs = append(open.reqs, r)
	}
	return open, events + len(r.results) + len(r.docs) + 1
}

// commitLoop is the committer's goroutine: one store transaction per batch.
// After a successful commit it tells run first and hands the batch's
// requests to answerLoop, so the next commit need not wait for them; after
// a failed one it answers them itself.
func (e *Engine) commitLoop() {
	defer close(e.answers)
	ctx := context.Background()
	for pb := range e.commits {
		for _, r := range pb.reqs {
			if r.idem != nil && r.idem.Render != nil {
				status, body := r.idem.Render(r.results)
				pb.batch.Outcomes = append(pb.batch.Outcomes, Outcome{
					Key: r.idem.Key, RequestHash: r.idem.RequestHash,
					Status: status, Body: body, CreatedAt: e.now(),
				})
			}
		}
		start := time.Now()
		var err error
		if e.cfg.Evidence != nil {
			err = e.cfg.Evidence.Prepare(pb.batch)
		}
		if err == nil {
			err = e.cfg.Store.CommitBatch(ctx, pb.batch)
		}
		if err == nil && e.cfg.Evidence != nil {
			e.cfg.Evidence.Committed(pb.batch)
		}
		if err != nil {
			err = fmt.Errorf("%w: commit batch %d: %w", ErrFailed, pb.batch.Seq, err)
		} else {
			took := time.Since(start)
			e.commitNanos.Add(uint64(took))
			bucket := bits.Len64(uint64(took.Microseconds()))
			e.commitHistogram[min(bucket, CommitHistogramBuckets-1)].Add(1)
			e.batches.Add(1)
			e.events.Add(uint64(pb.batch.Events()))
			e.transfers.Add(uint64(len(pb.batch.Transfers)))
			e.requests.Add(uint64(len(pb.reqs)))
		}
		if err != nil {
			answerAll(pb.reqs, err)
			e.commitDone <- commitResult{batch: pb.batch, err: err}
			continue
		}
		e.commitDone <- commitResult{batch: pb.batch}
		e.answers <- pb.reqs
	}
}

// answerLoop answers the requests of durable batches, in commit order. It
// ends, and the engine is stopped, once commitLoop has ended.
func (e *Engine) answerLoop() {
	defer close(e.stopped)
	for reqs := range e.answers {
		answerAll(reqs, nil)
	}
}

// answerAll answers each of reqs with err.
func answerAll(reqs []*request, err error) {
	for _, r := range reqs {
		r.done <- err
	}
}

// fail stops the engine after a failed commit: every request not yet
// answered gets ErrFailed and later requests are refused.
func (e *Engine) fail(err error, open *pendingBatch) {
	e.failed.CompareAndSwap(nil, &err)
	if open != nil {
		for _, r := range open.reqs {
			r.done <- err
		}
	}
	go func() {
		e.mu.Lock()
		if !e.closed {
			e.closed = true
			close(e.queue)
		}
		e.mu.Unlock()
	}()
	for r := range e.queue {
		if r.done != nil {
			r.done <- err
		}
	}
	if e.cfg.OnFatal != nil {
		e.cfg.OnFatal(err)
	}
}
