package wallet_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/agentpay/agentpay/internal/sim"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// BenchmarkPay measures authorized payments per second through the
// service: the closed mandate's signature and binding, the mandate's
// constraints, the risk rules (the platform defaults, except the
// velocity rule, which would decline a benchmark's agent), and the linked
// chain through the engine, durable in SQLite with the evidence log. The
// agents' closed mandates are signed before the timer starts (signing is
// the agent's work); they pay 64 merchants, so the platform's daily
// review per merchant holds none. It reports payments/s, the share held
// (expected 0), the mean time per stage, the engine's batches (requests
// per batch, commit time per batch), the process's CPU time (and the
// collector's share of it), the machine's idle and stolen shares of its
// CPUs, and the bytes written per payment, with 1
// caller (the baseline: each payment its own durable commit), 256 and
// 1024 concurrent callers. It runs with
// the GOMAXPROCS serve runs with (proc.ServerProcs: one more than the
// -cpu given, unless the environment sets it), reported as procs, and
// its garbage collector's settings (proc.UseServerGC).
func BenchmarkPay(b *testing.B) {
	for _, callers := range []int{1, 256, 1024} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) { benchmarkPay(b, callers) })
	}
}

func benchmarkPay(b *testing.B, callers int) {
	defer runtime.GOMAXPROCS(proc.UseServerProcs())
	defer proc.UseServerGC()()
	restoreSched, _ := proc.UseBatchScheduling() // as serve runs
	defer restoreSched()
	e := newServeEnv(b, withoutVelocity())
	defer e.stop()
	const agents = 8
	type agentM struct {
		id  string
		key *protocol.Ed25519PrivateKey
		m   *wallet.Mandate
	}
	var as []agentM
	for i := range agents {
		a, k := e.agent(fmt.Sprintf("bench%d", i))
		m := e.mandate(k, a.ID, usd(1<<40), &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 1 << 40, Period: protocol.PeriodDay},
			&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1000})
		as = append(as, agentM{a.ID, k, m})
	}
	if _, err := e.svc.TopUp(bg, e.wallet.ID, "bench", "test", "ok-card", 1<<50); err != nil {
		b.Fatal(err)
	}
	// Agents pay many merchants: the platform's review of more than
	// 500.00 a day from one wallet to one payee would otherwise hold most
	// payments (held payments are reported, and none is expected).
	payees := make([]protocol.Merchant, 64)
	for i := range payees {
		payees[i] = protocol.Merchant{ID: fmt.Sprintf("mch_bench%02d", i), Name: "Bench merchant"}
	}
	// Warm the payees' accounts and the period budgets.
	for i, p := range payees {
		a := as[i%agents]
		if _, err := e.svc.Pay(bg, a.id, wallet.PayRequest{ClosedMandate: e.closed(a.key, a.id, a.m, p, 31)}); err != nil {
			b.Fatal(err)
		}
	}
	n := b.N
	cms := make([][]byte, n)
	who := make([]int, n)
	for i := range cms {
		who[i] = i % agents
		a := as[who[i]]
		cms[i] = e.closed(a.key, a.id, a.m, payees[i%len(payees)], 31)
	}
	var held atomic.Int64
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	heap0 := ms0.HeapAlloc
	before := e.svc.Stats()
	io0 := proc.Written()
	cpu0 := proc.CPU()
	eng0 := e.engine.Stats()
	sig0 := protocol.Ed25519Counts()
	var next atomic.Int64
	pay := func() bool {
		i := next.Add(1) - 1
		a := as[who[i]]
		p, err := e.svc.Pay(bg, a.id, wallet.PayRequest{ClosedMandate: cms[i]})
		if err != nil {
			b.Error(err)
			return false
		}
		if p.Status != wallet.StatusCompleted {
			held.Add(1)
		}
		return true
	}
	b.SetParallelism(max(callers/runtime.GOMAXPROCS(0), 1))
	b.ResetTimer()
	gc := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gc)
	gc0 := gc[0].Value.Float64()
	m0 := proc.Machine()
	// The clock moves with real time while the payments are made, as a
	// server's does: payment, transfer and doc ids are time-ordered, and
	// the store groups the keys of one millisecond, so a clock that stood
	// still would put the whole run in one millisecond and flatter the
	// store (about 5% of the rate, docs/benchmarks.md, "Ninth round").
	stopClock := followRealTime(e.clock)
	start := time.Now()
	if callers == 1 {
		for i := 0; i < n && pay(); i++ {
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() && pay() {
			}
		})
	}
	elapsed := time.Since(start)
	stopClock()
	cpu := proc.CPU() - cpu0
	metrics.Read(gc)
	idle, stolen := proc.Machine().Shares(m0)
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(int64(ms.HeapAlloc)-int64(heap0))/float64(n), "heap_B/payment")
	after := e.svc.Stats()
	b.ReportMetric(float64(proc.Written()-io0)/float64(b.N), "wbytes/op")
	eng := e.engine.Stats()
	batches := float64(eng.Batches - eng0.Batches)
	b.ReportMetric(float64(eng.Requests-eng0.Requests)/batches, "requests/batch")
	b.ReportMetric(float64(eng.CommitNanos-eng0.CommitNanos)/batches/1e3, "commit_µs/batch")
	paid := after.Payments - before.Payments
	b.ReportMetric(float64(paid)/elapsed.Seconds(), "payments/s")
	b.ReportMetric(float64(held.Load())/float64(paid), "held/payment")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
	// The process's CPU time (all goroutines: service, engine, store, GC)
	// per payment: with c cores, c/cpu is the most payments a second the
	// path can make, however it is scheduled.
	b.ReportMetric(float64(cpu.Microseconds())/float64(paid), "cpu_µs/payment")
	// Of it, the garbage collector's (the runtime's estimate).
	b.ReportMetric((gc[0].Value.Float64()-gc0)*1e6/float64(paid), "gc_µs/payment")
	// The machine's CPU time that went unused (idle or waiting for I/O)
	// or to other guests (stolen): what the CPU time per payment does
	// not explain of the rate.
	b.ReportMetric(100*idle, "idle_%")
	b.ReportMetric(100*stolen, "stolen_%")
	for i, name := range wallet.StageNames {
		b.ReportMetric(float64(after.Nanos[i]-before.Nanos[i])/float64(paid)/1e3, name+"_µs")
	}
	// How the closed mandates' signatures were verified: the share
	// verified alone (at about twice the CPU) and the mean batch.
	sig := protocol.Ed25519Counts()
	alone, batched := sig.Alone-sig0.Alone, sig.Batched-sig0.Batched
	b.ReportMetric(float64(alone)/float64(max(alone+batched, 1)), "sig_alone/sig")
	b.ReportMetric(float64(batched)/float64(max(sig.Batches-sig0.Batches, 1)), "sigs/batch")
}

// withoutVelocity is the platform's default risk rules but the velocity
// rule, which would decline a benchmark's agent.
// followRealTime advances c with the real clock, a millisecond at a time
// (the resolution of time-ordered ids), until the returned function is
// called.
func followRealTime(c *sim.Clock) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				c.Advance(now.Sub(last))
				last = now
			}
		}
	}()
	return func() { close(done); <-finished }
}

func withoutVelocity() []risk.Rule {
	var rules []risk.Rule
	for _, r := range risk.DefaultPlatformRules() {
		if r.ID != "platform.velocity" {
			rules = append(rules, r)
		}
	}
	return rules
}

// BenchmarkStart measures a restart of the service over a store holding
// 20,000 payments: opening the store, loading the engine's state and
// rebuilding the wallet's indexes from every payment's doc. The baseline
// (encoding-json) reads each doc with encoding/json, as the service did
// before it read only the members it needs.
func BenchmarkStart(b *testing.B) {
	const payments = 20_000
	e := newServeEnv(b, withoutVelocity())
	a, k := e.agent("start")
	m := e.mandate(k, a.ID, usd(1<<40), &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 1 << 40, Period: protocol.PeriodDay},
		&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1000})
	if _, err := e.svc.TopUp(bg, e.wallet.ID, "bench", "test", "ok-card", 1<<50); err != nil {
		b.Fatal(err)
	}
	cms := make([][]byte, payments)
	for i := range cms {
		cms[i] = e.closed(k, a.ID, m, protocol.Merchant{ID: fmt.Sprintf("mch_start%02d", i%64), Name: "Bench merchant"}, 31)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 256 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < payments; i = next.Add(1) - 1 {
				if _, err := e.svc.Pay(bg, a.ID, wallet.PayRequest{ClosedMandate: cms[i]}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	e.stop()
	// One doc kept: heap_B/payment is then what every payment costs in
	// memory whatever the docs kept (the engine's and the wallet's state).
	e.docsKept = 1
	for _, c := range []struct {
		name string
		fast bool
	}{{"encoding-json", false}, {"heads", true}} {
		b.Run(c.name, func(b *testing.B) {
			defer wallet.ReadHeadsFast(wallet.ReadHeadsFast(c.fast))
			var heap uint64
			for b.Loop() {
				e.start()
				if _, n := wallet.DocsKept(e.svc); n < payments {
					b.Fatalf("%d payments after the start, want %d", n, payments)
				}
				b.StopTimer()
				heap = liveHeap()
				b.StartTimer()
				e.stop()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/payments, "µs/payment")
			b.ReportMetric(float64(heap)/payments, "heap_B/payment")
		})
	}
}

// liveHeap returns the bytes the heap holds after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
