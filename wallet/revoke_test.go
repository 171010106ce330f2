package wallet_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestRevokeDuringPayments: a revocation in the middle of concurrent
// payments takes effect for every payment not yet committed: once
// RevokeMandate returns, no payment under the mandate commits, and what
// was paid is what the limit account says.
func TestRevokeDuringPayments(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("revoked")
	m := e.mandate(key, agent.ID, usd(50_000))
	const n = 600
	cms := make([][]byte, n)
	for i := range cms {
		cms[i] = e.closed(key, agent.ID, m, shop, 1)
	}
	var revoked atomic.Bool
	var paid, afterRevoke atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				started := revoked.Load()
				_, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: cms[i]})
				if err == nil {
					paid.Add(1)
					if started {
						afterRevoke.Add(1)
					}
				} else if c := code(err); c != protocol.CodeRevoked {
					t.Errorf("payment %d: %v", i, err)
				}
			}
		})
	}
	var revokeOnce sync.Once
	for i := range cms {
		work <- i
		if paid.Load() >= 100 {
			revokeOnce.Do(func() {
				go func() {
					if _, err := e.svc.RevokeMandate(bg, e.user.ID, m.ID); err != nil {
						t.Error(err)
					}
					revoked.Store(true)
				}()
			})
		}
	}
	close(work)
	wg.Wait()
	if paid.Load() < 100 || paid.Load() == n {
		t.Fatalf("%d of %d payments committed: the revocation did not fall in the middle", paid.Load(), n)
	}
	if afterRevoke.Load() != 0 {
		t.Fatalf("%d payments started after the revocation returned and committed", afterRevoke.Load())
	}
	if used := e.spent(m, protocol.PeriodTotal); used != paid.Load() {
		t.Fatalf("the limit account says %d spent, %d payments committed", used, paid.Load())
	}
	t.Logf("%d of %d payments committed before the revocation", paid.Load(), n)
	e.checkLedger()
}
