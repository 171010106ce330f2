package api_test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
)

func wantReplayed(t testing.TB, r *response, replayed bool) {
	t.Helper()
	got := r.Header.Get(protocol.HeaderIdempotentReplayed)
	if replayed && got != "true" || !replayed && got != "" {
		t.Errorf("%s = %q, want replayed %v", protocol.HeaderIdempotentReplayed, got, replayed)
	}
}

func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	// No transfer id: the server makes one, so only the Idempotency-Key
	// protects against a double payment.
	tr := protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(100), Ledger: 1, Code: 1}
	first := transfer(t, env, tr, idem("pay-1")).want(t, http.StatusCreated)
	wantReplayed(t, first, false)
	afterFirst := f.snapshot(t)

	again := transfer(t, env, tr, idem("pay-1")).want(t, http.StatusCreated)
	wantReplayed(t, again, true)
	if !bytes.Equal(again.Body, first.Body) {
		t.Errorf("replay body = %s, want %s", again.Body, first.Body)
	}
	f.wantUnchanged(t, afterFirst)

	// Same key, different request: 422, nothing changes.
	other := tr
	other.Amount = u64(101)
	transfer(t, env, other, idem("pay-1")).wantError(t, http.StatusUnprocessableEntity, protocol.ErrorIdempotencyMismatch, "idempotency_conflict", "")
	// The hash is over the exact bytes: the same JSON spaced differently
	// is a different request.
	spaced := append(mustJSON(t, tr), ' ')
	do(t, env, "POST", "/v1/transfers", body(spaced), idem("pay-1")).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorIdempotencyMismatch, "idempotency_conflict", "")
	f.wantUnchanged(t, afterFirst)

	// The key is scoped to the endpoint and to the API key.
	do(t, env, "POST", "/v1/transfers/batch", body(protocol.CreateTransfersRequest{Transfers: []protocol.Transfer{tr}}), idem("pay-1")).
		want(t, http.StatusOK)
	wantReplayed(t, transfer(t, env, tr, idem("pay-1"), as(env.WriterSecret)).want(t, http.StatusCreated), false)
	wantBalances(t, env, f.alice, 0, 300, 0, 1000)

	// A rejection is an outcome too: replayed as is.
	big := tr
	big.Amount = u64(5000)
	rej := transfer(t, env, big, idem("pay-2")).wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "exceeds_credits", "amount")
	rej2 := transfer(t, env, big, idem("pay-2"))
	rej2.wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "exceeds_credits", "amount")
	wantReplayed(t, rej2, true)
	if rej2.decodeError(t) != rej {
		t.Errorf("replayed rejection differs")
	}

	// Batch and account outcomes replay byte for byte too.
	batch := body(`{"transfers":[{"debit_account_id":"` + f.bank + `","credit_account_id":"` + f.bob + `","amount":3,"ledger":1,"code":1}]}`)
	b1 := do(t, env, "POST", "/v1/transfers/batch", batch, idem("batch-1")).want(t, http.StatusOK)
	b2 := do(t, env, "POST", "/v1/transfers/batch", batch, idem("batch-1")).want(t, http.StatusOK)
	wantReplayed(t, b2, true)
	if !bytes.Equal(b1.Body, b2.Body) {
		t.Errorf("batch replay = %s, want %s", b2.Body, b1.Body)
	}
	a1 := do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`), idem("acct-1")).want(t, http.StatusCreated)
	a2 := do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`), idem("acct-1")).want(t, http.StatusCreated)
	wantReplayed(t, a2, true)
	if !bytes.Equal(a1.Body, a2.Body) {
		t.Errorf("account replay = %s, want %s", a2.Body, a1.Body)
	}
	s1 := do(t, env, "POST", "/v1/assets", body(`{"ledger":5,"code":"EUR","scale":2}`), idem("asset-1")).want(t, http.StatusCreated)
	s2 := do(t, env, "POST", "/v1/assets", body(`{"ledger":5,"code":"EUR","scale":2}`), idem("asset-1")).want(t, http.StatusCreated)
	wantReplayed(t, s2, true)
	if !bytes.Equal(s1.Body, s2.Body) {
		t.Errorf("asset replay = %s, want %s", s2.Body, s1.Body)
	}

	// Outcomes are durable: after a restart the replay is the same.
	before := f.snapshot(t)
	env.Restart()
	after := transfer(t, env, tr, idem("pay-1")).want(t, http.StatusCreated)
	wantReplayed(t, after, true)
	if !bytes.Equal(after.Body, first.Body) {
		t.Errorf("replay after restart = %s, want %s", after.Body, first.Body)
	}
	f.wantUnchanged(t, before)
}

func (r *response) decodeError(t testing.TB) protocol.Error {
	t.Helper()
	var e protocol.Error
	r.decode(t, &e)
	return e
}

func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	tr := protocol.Transfer{DebitAccountID: f.bank, CreditAccountID: f.bob, Amount: u64(7), Ledger: 1, Code: 1}
	const clients = 16
	for round := range 3 {
		key := newKey()
		var wg sync.WaitGroup
		start := make(chan struct{})
		res := make([]*response, clients)
		for i := range clients {
			wg.Go(func() {
				<-start
				res[i] = transfer(t, env, tr, idem(key))
			})
		}
		close(start)
		wg.Wait()
		created, replayed, conflicts := 0, 0, 0
		var body []byte
		for _, r := range res {
			switch {
			case r.Status == http.StatusCreated && r.Header.Get(protocol.HeaderIdempotentReplayed) == "":
				created++
				body = r.Body
			case r.Status == http.StatusCreated:
				replayed++
			case r.Status == http.StatusConflict:
				conflicts++
				r.wantError(t, http.StatusConflict, protocol.ErrorConflict, "idempotency_in_flight", "")
				if r.Header.Get("Retry-After") == "" {
					t.Errorf("409 without Retry-After")
				}
			default:
				t.Fatalf("round %d: unexpected %d %s", round, r.Status, r.Body)
			}
		}
		t.Logf("round %d: %d created, %d replayed, %d conflicts", round, created, replayed, conflicts)
		if created != 1 || replayed+conflicts != clients-1 {
			t.Fatalf("round %d: %d created, %d replayed, %d conflicts", round, created, replayed, conflicts)
		}
		for _, r := range res {
			if r.Status == http.StatusCreated && !bytes.Equal(r.Body, body) {
				t.Errorf("round %d: replay %s differs from %s", round, r.Body, body)
			}
		}
		// Exactly one transfer moved money.
		wantBalances(t, env, f.bob, 0, 0, 0, uint64(7*(round+1)))
	}
}

func TestIdempotencySweep(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	env := apitest.New(t, apitest.Options{Clock: clock, Sweep: true, SweepInterval: 5 * time.Millisecond,
		IdempotencyRetention: 24 * time.Hour})
	createAsset(t, env, 1, "USD")
	a := `{"ledger":1,"code":1}`
	b := `{"ledger":1,"code":2}`
	do(t, env, "POST", "/v1/accounts", body(a), idem("k")).want(t, http.StatusCreated)
	clock.Advance(23 * time.Hour)
	time.Sleep(50 * time.Millisecond) // several sweeps: the outcome is younger than 24 h
	do(t, env, "POST", "/v1/accounts", body(b), idem("k")).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorIdempotencyMismatch, "idempotency_conflict", "")
	clock.Advance(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Once swept, the key is free and the different request runs.
		r := do(t, env, "POST", "/v1/accounts", body(b), idem("k"))
		if r.Status == http.StatusCreated {
			wantReplayed(t, r, false)
			break
		}
		r.wantError(t, http.StatusUnprocessableEntity, protocol.ErrorIdempotencyMismatch, "idempotency_conflict", "")
		if time.Now().After(deadline) {
			t.Fatal("the outcome was not swept")
		}
		time.Sleep(10 * time.Millisecond)
	}
	env.Server.Stop()
	env.Server.Stop() // idempotent
	env.Server.Start(t.Context())
	env.Server.Stop() // Start after Stop does nothing
}
