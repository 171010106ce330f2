package ledger_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/agentpay/agentpay/ledger"
)

// sleepStore is a Store that holds nothing: a commit takes a fixed time,
// as an fsync would, and uses no CPU.
type sleepStore struct{ commit time.Duration }

func (sleepStore) Load(_ context.Context, _ uint32, l ledger.Loader) error {
	l.Position(0, 0)
	return nil
}

func (s sleepStore) CommitBatch(context.Context, *ledger.Batch) error {
	time.Sleep(s.commit)
	return nil
}

// BenchmarkSubmit measures the engine's own cost per request on the
// wallet's path: concurrent callers each Submit a linked chain of three
// transfers with fresh time-ordered ids and one doc, against a store whose
// commit takes 500 µs and no CPU. It reports the process's CPU time per
// request and the requests per batch.
func BenchmarkSubmit(b *testing.B) {
	for _, callers := range []int{64, 1024} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) { benchmarkSubmit(b, callers) })
	}
}

func benchmarkSubmit(b *testing.B, callers int) {
	ctx := context.Background()
	e := startEngine(b, sleepStore{commit: 500 * time.Microsecond}, nil)
	defer e.Stop(ctx)
	const payers, payees = 8, 64
	sink := ledger.IDFromUint64(1)
	accounts := []ledger.Account{{ID: sink, Ledger: usd, Code: 1}}
	for i := range payers + payees {
		accounts = append(accounts, ledger.Account{ID: ledger.IDFromUint64(uint64(100 + i)), Ledger: usd, Code: 1})
	}
	setup(b, e, accounts)
	body := make([]byte, 256)
	var seq atomic.Uint64
	eng0, cpu0 := e.Stats(), proc.CPU()
	b.SetParallelism(max(callers/runtime.GOMAXPROCS(0), 1))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		var ms uint64
		newID := func() ledger.ID {
			var id ledger.ID
			binary.BigEndian.PutUint64(id[:8], ms<<16|r.Uint64()&0xffff)
			binary.BigEndian.PutUint64(id[8:], r.Uint64())
			return id
		}
		for pb.Next() {
			ms = uint64(time.Now().UnixMilli())
			n := seq.Add(1)
			payer := ledger.IDFromUint64(100 + n%payers)
			payee := ledger.IDFromUint64(100 + payers + n%payees)
			req := &ledger.Request{
				Transfers: []ledger.Transfer{
					{ID: newID(), DebitAccountID: payer, CreditAccountID: sink, Amount: 5, Ledger: usd, Code: 2, Flags: ledger.TransferLinked},
					{ID: newID(), DebitAccountID: payer, CreditAccountID: sink, Amount: 1, Ledger: usd, Code: 2, Flags: ledger.TransferLinked},
					{ID: newID(), DebitAccountID: payer, CreditAccountID: payee, Amount: 5, Ledger: usd, Code: 1},
				},
				Docs: []ledger.Doc{{Kind: "payment", Key: fmt.Sprintf("pay_%d", n), Body: body}},
			}
			res, ok, err := e.Submit(ctx, req, nil)
			if err != nil || !ok {
				b.Errorf("submit: %v %v %v", res, ok, err)
				return
			}
		}
	})
	b.StopTimer()
	eng := e.Stats()
	b.ReportMetric(float64((proc.CPU()-cpu0).Nanoseconds())/float64(b.N), "cpu_ns/op")
	b.ReportMetric(float64(eng.Requests-eng0.Requests)/float64(eng.Batches-eng0.Batches), "requests/batch")
}

// BenchmarkCreateTransfers measures the state machine alone on the
// wallet's chains: three linked transfers with random ids, in a ledger
// that already holds 200,000 transfers, so every id is looked up.
func BenchmarkCreateTransfers(b *testing.B) {
	s := ledger.NewState(0, nil)
	s.Begin()
	res := make([]ledger.Result, ledger.BatchEventsMax)
	s.CreateAssets(1, []ledger.Asset{{Ledger: usd, Code: "USD", Scale: 2}}, res)
	a, c := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	s.CreateAccounts(1, []ledger.Account{{ID: a, Ledger: usd, Code: 1}, {ID: c, Ledger: usd, Code: 1}}, res)
	r := rand.New(rand.NewPCG(1, 2))
	newID := func() ledger.ID {
		var id ledger.ID
		binary.BigEndian.PutUint64(id[:8], r.Uint64()>>1) // below the max id
		binary.BigEndian.PutUint64(id[8:], r.Uint64())
		return id
	}
	top := ledger.IDMax
	top[0] = 0xfe
	ts := make([]ledger.Transfer, 1)
	ts[0] = ledger.Transfer{ID: top, DebitAccountID: a, CreditAccountID: c, Amount: 1, Ledger: usd, Code: 1}
	s.CreateTransfers(2, ts, res)
	ts = make([]ledger.Transfer, 1000)
	for range 200 {
		for i := range ts {
			ts[i] = ledger.Transfer{ID: newID(), DebitAccountID: a, CreditAccountID: c, Amount: 1, Ledger: usd, Code: 1}
		}
		s.CreateTransfers(3, ts, res)
		s.Recycle(s.Finish())
		s.Begin()
	}
	chains := make([]ledger.Transfer, 3*4096)
	b.ResetTimer()
	for n := 0; n < b.N; {
		for i := range chains {
			chains[i] = ledger.Transfer{ID: newID(), DebitAccountID: a, CreditAccountID: c, Amount: 1, Ledger: usd, Code: 1, Flags: ledger.TransferLinked}
			if i%3 == 2 {
				chains[i].Flags = 0
			}
		}
		for i := 0; i < len(chains) && n < b.N; i, n = i+3, n+1 {
			s.CreateTransfers(4, chains[i:i+3], res)
		}
		s.Recycle(s.Finish())
		s.Begin()
	}
}
