package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
)

// GET /v1/log/batches/{index} serves, for every logged batch, leaves that
// hash to the root the entry commits to.
func TestLogBatchLeaves(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{Evidence: true})
	createAsset(t, env, 1, "USD")
	a := createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	b := createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	for i := range 5 {
		mustTransfer(t, env, protocol.Transfer{DebitAccountID: a, CreditAccountID: b, Amount: u64(uint64(10 + i)), Ledger: 1, Code: 1})
	}
	p := mustTransfer(t, env, protocol.Transfer{DebitAccountID: a, CreditAccountID: b, Amount: u64(7), Ledger: 1, Code: 1,
		Flags: []string{protocol.TransferFlagPending}})
	mustTransfer(t, env, protocol.Transfer{PendingID: p.ID, Flags: []string{protocol.TransferFlagPostPending}})
	size, _, err := env.LogSigner.SignNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if size < 9 {
		t.Fatalf("log size %d; want at least 9 entries", size)
	}
	// A transfer after the checkpoint: its entry is not served yet.
	mustTransfer(t, env, protocol.Transfer{DebitAccountID: a, CreditAccountID: b, Amount: u64(1), Ledger: 1, Code: 1})

	tiles := ledgerlog.Tiles{R: env.Store}
	records := 0
	for i := range size {
		raw, err := evidence.ReadEntry(t.Context(), tiles, i)
		if err != nil {
			t.Fatal(err)
		}
		e, err := evidence.ParseEntry(raw)
		if err != nil {
			t.Fatal(err)
		}
		res := do(t, env, "GET", fmt.Sprintf("/v1/log/batches/%d", i), as(env.ReaderSecret)).want(t, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Fatalf("entry %d: Content-Type %q", i, ct)
		}
		leaves, err := evidence.SplitBundle(res.Body)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if uint64(len(leaves)) != e.Batch.Count || evidence.BatchTree(leaves).Root() != e.Batch.Root {
			t.Fatalf("entry %d (%s): %d leaves with root %s; the entry commits to %d leaves, root %s",
				i, e.ID, len(leaves), evidence.BatchTree(leaves).Root(), e.Batch.Count, e.Batch.Root)
		}
		for _, l := range leaves {
			if _, err := ledgerlog.DecodeLeaf(l); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		records += len(leaves)
	}
	if records != 1+2+7 {
		t.Fatalf("%d records in the batches, want 10", records)
	}

	do(t, env, "GET", "/v1/log/batches/0", as("")).wantError(t, http.StatusUnauthorized, protocol.ErrorAuthentication, "missing_api_key", "")
	do(t, env, "GET", fmt.Sprintf("/v1/log/batches/%d", size), as(env.ReaderSecret)).
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "log_entry_not_found", "index")
	for _, bad := range []string{"x", "01", "-1", "1.0", "18446744073709551616"} {
		do(t, env, "GET", "/v1/log/batches/"+bad, as(env.ReaderSecret)).
			wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_log_index", "index")
	}
	do(t, env, "GET", "/v1/log/batches/0?limit=1", as(env.ReaderSecret)).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "unknown_parameter", "limit")
}

func TestLogBatchBeforeFirstCheckpoint(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{Evidence: true})
	createAsset(t, env, 1, "USD")
	do(t, env, "GET", "/v1/log/batches/0", as(env.ReaderSecret)).
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "checkpoint_not_found", "")
}
