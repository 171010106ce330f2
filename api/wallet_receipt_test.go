package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

// TestPaymentReceipt: a payment's response carries the log's receipt for
// its transfers and its doc, and each is proven into a signed checkpoint;
// the owner's answer to a held payment gets its own receipt.
func TestPaymentReceipt(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	w := &wtest{t: t, clock: clock, env: apitest.New(t, apitest.Options{Clock: clock, Wallet: true, Evidence: true})}
	env := w.env
	createAsset(t, env, 1, "USD")
	w.user, w.secret, w.ukey = w.newUser("Alice")
	do(t, env, "POST", "/v1/wallets", as(w.secret), body(`{"currency":"USD"}`)).want(t, http.StatusCreated).decode(t, &w.wallet)
	do(t, env, "POST", "/v1/wallets/"+w.wallet.ID+"/topups", as(w.secret), body(`{"amount":100000,"source":"ok-card"}`)).want(t, http.StatusCreated)
	v, err := note.NewVerifier(env.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	agentID, key := w.agent("shopper")
	m := w.mandate(key, agentID, usd(5000), &protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 500})

	check := func(p protocol.WalletPayment, docKind string, transfers int) {
		t.Helper()
		r, err := evidence.OpenReceipt([]byte(p.Receipt), apitest.LogOrigin, v)
		if err != nil {
			t.Fatalf("receipt %q: %v", p.Receipt, err)
		}
		if len(r.Items) != transfers+1 {
			t.Fatalf("receipt names %d records, want %d transfers and a doc", len(r.Items), transfers)
		}
		if _, _, err := env.LogSigner.SignNow(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, it := range r.Items {
			var leaf []byte
			var lp protocol.TransferProof
			switch it.Type {
			case "transfer":
				do(t, env, "GET", "/v1/transfers/"+it.ID+"/proof").want(t, http.StatusOK).decode(t, &lp)
				leaf = lp.Leaf
			case "doc":
				if it.ID != docKind+"/"+p.ID {
					t.Fatalf("receipt doc %s, want %s/%s", it.ID, docKind, p.ID)
				}
				var dp protocol.DocProof
				do(t, env, "GET", fmt.Sprintf("/v1/log/proof/doc?kind=%s&key=%s&timestamp=%d", docKind, url.QueryEscape(p.ID), it.Timestamp)).
					want(t, http.StatusOK).decode(t, &dp)
				leaf = dp.Leaf
				lp = protocol.TransferProof{Leaf: dp.Leaf, BatchEntry: dp.BatchEntry, BatchIndex: dp.BatchIndex, BatchPath: dp.BatchPath,
					LogIndex: dp.LogIndex, LogSize: dp.LogSize, LogPath: dp.LogPath, Checkpoint: dp.Checkpoint}
			default:
				t.Fatalf("receipt item type %q", it.Type)
			}
			if evidence.LeafHash(leaf) != it.LeafHash || lp.LogIndex != r.LogIndex {
				t.Fatalf("%s %s: the proof's leaf or entry differs from the receipt's", it.Type, it.ID)
			}
			cp, _, err := evidence.OpenCheckpoint([]byte(lp.Checkpoint), apitest.LogOrigin, v)
			if err != nil {
				t.Fatal(err)
			}
			bp := evidence.BatchProof{EntryIndex: lp.BatchIndex, EntryPath: toHashes(t, lp.BatchPath), BatchEntry: lp.BatchEntry,
				LogIndex: lp.LogIndex, LogSize: lp.LogSize, LogPath: toHashes(t, lp.LogPath)}
			if err := bp.Verify(leaf, cp.Root); err != nil {
				t.Fatalf("%s %s: %v", it.Type, it.ID, err)
			}
		}
	}
	var p protocol.WalletPayment
	w.pay(key, w.closed(key, agentID, m, shop, 31)).want(t, http.StatusCreated).decode(t, &p)
	check(p, "payment", 2) // the total budget and the wallet
	var held protocol.WalletPayment
	w.pay(key, w.closed(key, agentID, m, shop, 900)).want(t, http.StatusCreated).decode(t, &held)
	if held.Status != "held" {
		t.Fatalf("status %s, want held", held.Status)
	}
	check(held, "payment", 2)
	var approved protocol.WalletPayment
	do(t, env, "POST", "/v1/payments/"+held.ID+"/approve", as(w.secret)).want(t, http.StatusOK).decode(t, &approved)
	check(approved, "approval", 2)
	var got protocol.WalletPayment
	do(t, env, "GET", "/v1/payments/"+held.ID, as(w.secret)).want(t, http.StatusOK).decode(t, &got)
	if got.Receipt != approved.Receipt {
		t.Fatal("the payment read back carries another receipt than its latest change's")
	}
}
