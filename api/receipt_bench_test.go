package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
)

// BenchmarkCreateTransferHTTP sends single transfers over loopback from
// parallel clients, with the evidence log and receipts on (as serve runs)
// and off (the baseline in the same run): the difference is what the
// evidence log and a signed receipt per response cost a request.
func BenchmarkCreateTransferHTTP(b *testing.B) {
	for _, withLog := range []bool{false, true} {
		b.Run(fmt.Sprintf("receipts=%v", withLog), func(b *testing.B) {
			env := apitest.New(b, apitest.Options{Evidence: withLog})
			createAsset(b, env, 1, "USD")
			bank := createAccount(b, env, protocol.Account{Ledger: 1, Code: 1}).ID
			user := createAccount(b, env, protocol.Account{Ledger: 1, Code: 2}).ID
			body := []byte(fmt.Sprintf(`{"debit_account_id":%q,"credit_account_id":%q,"amount":31,"ledger":1,"code":1}`, bank, user))
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
			var n, withReceipt atomic.Int64
			b.SetParallelism(64)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", env.URL+"/v1/transfers", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+env.AdminSecret)
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set(protocol.HeaderIdempotencyKey, fmt.Sprintf("bench-%d", n.Add(1)))
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					var buf bytes.Buffer
					_, _ = buf.ReadFrom(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						b.Errorf("status %d: %s", res.StatusCode, buf.Bytes())
						return
					}
					if bytes.Contains(buf.Bytes(), []byte(`"receipt":`)) {
						withReceipt.Add(1)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
			if withLog != (withReceipt.Load() == n.Load()) {
				b.Fatalf("receipts on %d of %d responses with the log %v", withReceipt.Load(), n.Load(), withLog)
			}
		})
	}
}
