package wallet

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/ledger"
)

// Stages of a payment, timed by Stats.
const (
	StageVerify  = iota // the closed mandate: parse, signature, binding to its open mandate
	StageMandate        // the open mandate's constraints, with the limits' usage
	StageRisk           // the risk rules
	StageLedger         // the linked chain through the engine, durable
	StageRecord         // counters and what remains of each limit
	stagesN
)

// StageNames names the stages, in order.
var StageNames = [stagesN]string{"verify", "mandate", "risk", "ledger", "record"}

// Stats are the service's payment counters since it started.
type Stats struct {
	Payments uint64          // payments made (completed or held)
	Refused  uint64          // payments refused
	Nanos    [stagesN]uint64 // time spent in each stage, over all payments
	// DocsKept is how many payments have their latest doc in memory (at
	// most Config.PaymentDocsKept, when bounded); DocReads counts the
	// payments read from the store because theirs was not.
	DocsKept, DocReads uint64
	// Loaded is how many payments the service read from their docs when
	// it started, LoadNanos how long its start took.
	Loaded, LoadNanos uint64
}

type stats struct {
	payments, refused  atomic.Uint64
	nanos              [stageStripes]stageNanos
	docsKept, docReads atomic.Uint64
	loaded, loadNanos  atomic.Uint64
}

// stageStripes is how many copies of the stage counters concurrent
// payments add to (each payment to one, by its start time), so that the
// cores do not all add to one cache line five times a payment; Stats sums
// them.
const stageStripes = 8

// stageNanos is one stripe of the stage counters, a cache line of its own.
type stageNanos struct {
	n [stagesN]atomic.Uint64
	_ [64 - stagesN*8%64]byte
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	var out Stats
	out.Payments, out.Refused = s.stats.payments.Load(), s.stats.refused.Load()
	out.DocsKept, out.DocReads = s.stats.docsKept.Load(), s.stats.docReads.Load()
	out.Loaded, out.LoadNanos = s.stats.loaded.Load(), s.stats.loadNanos.Load()
	for i := range out.Nanos {
		for j := range s.stats.nanos {
			out.Nanos[i] += s.stats.nanos[j].n[i].Load()
		}
	}
	return out
}

// stageTimer times consecutive stages of one payment.
type stageTimer struct {
	n    *stageNanos // the stripe the payment adds to
	last time.Time
}

func (s *Service) timer() stageTimer {
	now := time.Now()
	// The start's microsecond picks the stripe: concurrent payments
	// spread over them.
	return stageTimer{n: &s.stats.nanos[now.Nanosecond()>>10%stageStripes], last: now}
}

func (t *stageTimer) done(stage int) {
	now := time.Now()
	t.n.n[stage].Add(uint64(now.Sub(t.last)))
	t.last = now
}

// usageRefresh is how old the in-memory use of a limit account may be
// before it is read again from the store.
const usageRefresh = time.Second

// used is the in-memory use (debits posted and pending) of a limit
// account: read from the store at most every usageRefresh, and moved by
// the payments this service commits in between. It explains decisions
// and reports what remains; the ledger enforces the limit whatever it
// says, and a refusal it would cause is rechecked against the store.
type used struct {
	v          atomic.Int64
	loaded     atomic.Int64 // Unix ns of the last read from the store; 0: never
	refreshing atomic.Bool
}

// usedOf returns the use of limit account aid, as of at (the real clock,
// Unix ns: one read for a mandate's accounts).
func (s *Service) usedOf(ctx context.Context, aid ledger.ID, fresh bool, at int64) int64 {
	x, ok := s.usage.Load(aid)
	if !ok {
		x, _ = s.usage.LoadOrStore(aid, &used{})
	}
	u := x.(*used)
	loaded := u.loaded.Load()
	stale := loaded == 0 || time.Duration(at-loaded) > usageRefresh
	// One caller refreshes a stale value; the others go on with it
	// (fresh and first reads always wait for the store).
	if fresh || loaded == 0 || (stale && u.refreshing.CompareAndSwap(false, true)) {
		a, err := s.store.GetAccount(ctx, aid)
		v := int64(0) // not opened yet: nothing used
		if err == nil {
			d, _ := a.DebitsPosted.Add(a.DebitsPending)
			v = int64(d.Lo)
		}
		u.v.Store(v)
		u.loaded.Store(time.Now().UnixNano())
		u.refreshing.Store(false)
		return v
	}
	return u.v.Load()
}

func (s *Service) addUsed(aid ledger.ID, n int64) {
	if x, ok := s.usage.Load(aid); ok {
		x.(*used).v.Add(n)
	}
}
