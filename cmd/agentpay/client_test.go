package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/protocol"
)

// TestClientCommands drives the CLI against a real node: create an asset
// and two accounts, move money, read it back, and see a refusal surface as
// an error.
func TestClientCommands(t *testing.T) {
	ctx := context.Background()
	n, err := startNode(ctx, nodeConfig{DataDir: filepath.Join(t.TempDir(), "data"), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.close(ctx)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := newRootCommand()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--url", n.URL(), "--api-key", n.AdminSecret}, args...))
		err := root.Execute()
		return out.String(), err
	}
	must := func(v any, args ...string) {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if v != nil {
			if err := json.Unmarshal([]byte(out), v); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
	}
	must(nil, "assets", "create", "--ledger", "1", "--code", "USD", "--scale", "2")
	var bank, wallet protocol.Account
	must(&bank, "accounts", "create", "--ledger", "1", "--code", "1")
	must(&wallet, "accounts", "create", "--ledger", "1", "--code", "2", "--flags", "debits_must_not_exceed_credits")
	var tr protocol.Transfer
	must(&tr, "transfers", "create", "--debit", bank.ID, "--credit", wallet.ID, "--amount", "500", "--ledger", "1", "--code", "1")
	if tr.Amount == nil || *tr.Amount != 500 || tr.CreditAccountID != wallet.ID {
		t.Fatalf("transfer: %+v", tr)
	}
	var got protocol.Account
	must(&got, "accounts", "get", wallet.ID)
	if got.Balances.CreditsPosted != "500" {
		t.Fatalf("wallet credits %s, want 500", got.Balances.CreditsPosted)
	}
	var list protocol.TransferList
	must(&list, "accounts", "transfers", wallet.ID)
	if len(list.Data) != 1 || list.Data[0].ID != tr.ID {
		t.Fatalf("history: %+v", list.Data)
	}
	var fetched protocol.Transfer
	must(&fetched, "transfers", "get", tr.ID)
	if fetched.ID != tr.ID {
		t.Fatalf("get transfer: %+v", fetched)
	}
	out, err := run("transfers", "create", "--debit", wallet.ID, "--credit", bank.ID, "--amount", "501", "--ledger", "1", "--code", "1")
	if err == nil || !strings.Contains(err.Error(), "exceeds_credits") {
		t.Fatalf("overdraft: err %v, out %s", err, out)
	}
	if _, err := run("--api-key", "", "accounts", "list"); err == nil {
		t.Fatal("a client command without a key succeeded")
	}
}
