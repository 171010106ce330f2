package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// HTTPResult is one HTTP load run.
type HTTPResult struct {
	Name     string
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
}

// PerSecond is the throughput of successful requests.
func (r HTTPResult) PerSecond() float64 {
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

func (r HTTPResult) String() string {
	return fmt.Sprintf("%-44s %9d requests in %7.3fs = %10.0f transfers/s  p50 %6.2fms  p99 %6.2fms  max %6.2fms  errors %d",
		r.Name, r.Requests, r.Elapsed.Seconds(), r.PerSecond(),
		ms(r.P50), ms(r.P99), ms(r.Max), r.Errors)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// HTTPClient talks to one AgentPay server with an API key.
type HTTPClient struct {
	URL, APIKey string
	HTTP        *http.Client
}

// NewHTTPClient returns a client with a connection pool sized for
// concurrency connections.
func NewHTTPClient(url, apiKey string, concurrency int) *HTTPClient {
	tr := &http.Transport{MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency * 2, IdleConnTimeout: time.Minute}
	return &HTTPClient{URL: url, APIKey: apiKey, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Post sends a JSON body with a fresh idempotency key and returns the
// status and body.
func (c *HTTPClient) Post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	var key [16]byte
	rand.Read(key[:])
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(protocol.HeaderIdempotencyKey, hex.EncodeToString(key[:]))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// SetupHTTP creates the USD asset (if missing) and n accounts through the
// API and returns their wire ids.
func SetupHTTP(ctx context.Context, c *HTTPClient, n int) ([]string, error) {
	body, _ := json.Marshal(protocol.Asset{Ledger: ledgerUSD, Code: "USD", Scale: 2})
	if status, b, err := c.Post(ctx, "/v1/assets", body); err != nil || status >= 300 && status != http.StatusOK {
		return nil, fmt.Errorf("bench: create asset: %d %s %v", status, b, err)
	}
	ids := make([]string, 0, n)
	for len(ids) < n {
		req := protocol.CreateAccountsRequest{}
		for i := 0; i < min(n-len(ids), 1000); i++ {
			req.Accounts = append(req.Accounts, protocol.Account{Ledger: ledgerUSD, Code: 1})
		}
		body, _ := json.Marshal(req)
		status, b, err := c.Post(ctx, "/v1/accounts/batch", body)
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("bench: create accounts: %d %s %v", status, b, err)
		}
		var resp protocol.BatchResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			return nil, fmt.Errorf("bench: create accounts: %w", err)
		}
		for _, r := range resp.Results {
			if r.Account == nil {
				return nil, fmt.Errorf("bench: create accounts: %s", r.Result)
			}
			ids = append(ids, r.Account.ID)
		}
	}
	return ids, nil
}

// transferBody is one single-transfer request body between two accounts.
func transferBody(accounts []string, n uint64) []byte {
	amount := uint64(31)
	b, _ := json.Marshal(protocol.Transfer{
		ID:              protocol.PrefixTransfer + ledger.IDFromUint64(n).String(),
		DebitAccountID:  accounts[n%uint64(len(accounts))],
		CreditAccountID: accounts[(n+1)%uint64(len(accounts))],
		Amount:          &amount, Ledger: ledgerUSD, Code: 1,
	})
	return b
}

// HTTPClosedLoop runs concurrency workers that each send single-transfer
// requests back to back for duration, and reports throughput and latency.
func HTTPClosedLoop(ctx context.Context, c *HTTPClient, accounts []string, concurrency int, duration time.Duration, firstID uint64) HTTPResult {
	var next atomic.Uint64
	next.Store(firstID - 1)
	lat := make([][]time.Duration, concurrency)
	var errs atomic.Int64
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				body := transferBody(accounts, next.Add(1))
				t0 := time.Now()
				status, _, err := c.Post(ctx, "/v1/transfers", body)
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil || status != http.StatusCreated {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return summarize(fmt.Sprintf("HTTP closed loop, %d concurrent", concurrency), lat, int(errs.Load()), time.Since(start))
}

// HTTPOpenLoop sends single-transfer requests at a fixed rate for duration
// (each on its own goroutine, at most inflightMax at once) and measures
// latency from each request's scheduled start, so a stalled server shows
// up in the percentiles instead of slowing the load (no coordinated
// omission).
func HTTPOpenLoop(ctx context.Context, c *HTTPClient, accounts []string, rate float64, duration time.Duration, firstID uint64) HTTPResult {
	const inflightMax = 4096
	interval := time.Duration(float64(time.Second) / rate)
	total := int(duration / interval)
	lat := make([]time.Duration, total)
	var errs atomic.Int64
	sem := make(chan struct{}, inflightMax)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		scheduled := start.Add(time.Duration(i) * interval)
		if d := time.Until(scheduled); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			status, _, err := c.Post(ctx, "/v1/transfers", transferBody(accounts, firstID+uint64(i)))
			lat[i] = time.Since(scheduled)
			if err != nil || status != http.StatusCreated {
				errs.Add(1)
			}
		})
	}
	wg.Wait()
	return summarize(fmt.Sprintf("HTTP open loop at %.0f requests/s", rate), [][]time.Duration{lat}, int(errs.Load()), time.Since(start))
}

func summarize(name string, lat [][]time.Duration, errs int, elapsed time.Duration) HTTPResult {
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := HTTPResult{Name: name, Requests: len(all), Errors: errs, Elapsed: elapsed}
	if len(all) > 0 {
		r.P50 = all[len(all)*50/100]
		r.P99 = all[len(all)*99/100]
		r.Max = all[len(all)-1]
	}
	return r
}
