package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// runAudit runs `agentpay audit args...` and returns its stdout, stderr
// and error.
func runAudit(args ...string) (string, string, error) {
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"audit"}, args...))
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// TestAuditCommand: a node's ledger, written through the CLI, passes
// `agentpay audit` over the API and on its data directory; a rewritten
// balance in the data directory fails it, naming the account.
func TestAuditCommand(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	n, err := startNode(ctx, nodeConfig{DataDir: dir, Addr: "127.0.0.1:0", LogOrigin: "audit.agentpay/log", CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			n.close(ctx)
		}
	}()
	secret := n.AdminSecret
	cli := func(v any, args ...string) {
		t.Helper()
		out := runCLI(t, append([]string{"--url", n.URL(), "--api-key", secret}, args...)...)
		if v != nil {
			if err := json.Unmarshal(out, v); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
	}
	cli(nil, "assets", "create", "--ledger", "1", "--code", "USD", "--scale", "2")
	var bank, alice, bob protocol.Account
	cli(&bank, "accounts", "create", "--ledger", "1", "--code", "1")
	cli(&alice, "accounts", "create", "--ledger", "1", "--code", "2")
	cli(&bob, "accounts", "create", "--ledger", "1", "--code", "2")
	transfers := 0
	for _, to := range []string{alice.ID, bob.ID, alice.ID} {
		cli(nil, "transfers", "create", "--debit", bank.ID, "--credit", to, "--amount", "500", "--ledger", "1", "--code", "1")
		transfers++
	}
	var p1, p2 protocol.Transfer
	cli(&p1, "transfers", "create", "--debit", alice.ID, "--credit", bob.ID, "--amount", "70", "--ledger", "1", "--code", "1", "--flags", "pending")
	cli(&p2, "transfers", "create", "--debit", bob.ID, "--credit", alice.ID, "--amount", "30", "--ledger", "1", "--code", "1", "--flags", "pending")
	cli(nil, "transfers", "create", "--pending-id", p1.ID, "--flags", "post_pending", "--amount", "60")
	cli(nil, "transfers", "create", "--pending-id", p2.ID, "--flags", "void_pending")
	transfers += 4

	// Over the API, once a checkpoint covers everything.
	size, err := n.store.EvidenceSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		latest, _, err := n.store.LatestCheckpoint(ctx)
		if err == nil && latest >= size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d within 10 s", size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, errOut, err := runAudit("--url", n.URL(), "--api-key", secret, "--json")
	if err != nil {
		t.Fatalf("audit --url: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(errOut, "not pinned") {
		t.Errorf("no warning that the fetched key is not pinned: %q", errOut)
	}
	var res auditResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.OK || res.Source != "url" || res.KeyPinned || res.Transfers != transfers || res.Accounts != 3 || res.Stored != 3 ||
		res.Assets != 1 || res.Entries != size || res.RecordsListed {
		t.Fatalf("audit --url: %+v; want %d transfers, 3 accounts, %d entries", res, transfers, size)
	}
	out, errOut, err = runAudit("--url", n.URL(), "--api-key", secret, "--log-key", n.LogKey)
	if err != nil || errOut != "" || !strings.Contains(out, "OK: the ledger matches its evidence log") {
		t.Fatalf("audit --url --log-key: %v\n%s%s", err, out, errOut)
	}
	// A key that did not sign the log: the first checkpoint diverges.
	_, otherKey, err := note.GenerateKey(nil, "audit.agentpay/log")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = runAudit("--url", n.URL(), "--api-key", secret, "--log-key", otherKey)
	if !errors.Is(err, errAuditDiverged) || !strings.Contains(out, "DIVERGENCE at checkpoint") {
		t.Fatalf("audit with a foreign log key: %v\n%s", err, out)
	}

	if err := n.close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true

	// On the stopped node's data directory.
	out, errOut, err = runAudit("--data-dir", dir)
	if err != nil {
		t.Fatalf("audit --data-dir: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"OK: the ledger matches its evidence log", "transfers", "stored accounts", "stored records"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runAudit("--data-dir", dir, "--json", "--log-key", n.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	res = auditResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.OK || !res.KeyPinned || !res.RecordsListed || res.Transfers != transfers || res.Stored != 3 || res.Pending != 0 {
		t.Fatalf("audit --data-dir --json: %+v", res)
	}

	// Rewrite alice's balance in the store.
	id, err := ledger.ParseID(strings.TrimPrefix(alice.ID, protocol.PrefixAccount))
	if err != nil {
		t.Fatal(err)
	}
	rewriteBalance(t, filepath.Join(dir, databaseFile), id)
	out, _, err = runAudit("--data-dir", dir)
	if err == nil {
		t.Fatalf("audit of a rewritten balance passed:\n%s", out)
	}
	if !errors.Is(err, errAuditDiverged) || !strings.Contains(err.Error(), "account "+id.String()) {
		t.Fatalf("error %v does not name account %s", err, id)
	}
	if !strings.Contains(out, "DIVERGENCE at account "+id.String()) {
		t.Fatalf("output does not name the account:\n%s", out)
	}
	out, _, _ = runAudit("--data-dir", dir, "--json")
	res = auditResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.OK || res.Divergence == nil ||
		res.Divergence.Where != "account "+id.String() {
		t.Fatalf("audit --json of a rewritten balance: %v %+v\n%s", err, res, out)
	}

	// Bad invocations.
	if _, _, err := runAudit("--data-dir", dir, "--url", "http://127.0.0.1:1"); err == nil {
		t.Error("--data-dir with --url accepted")
	}
	if _, _, err := runAudit("--data-dir", filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing data directory accepted")
	}
	if _, _, err := runAudit("--url", "http://127.0.0.1:1", "--api-key", ""); err == nil {
		t.Error("--url without an API key accepted")
	}
}

// rewriteBalance adds 1,000,000 to the posted credits of account id in
// the SQLite file at path (its current record and its history).
func rewriteBalance(t *testing.T, path string, id ledger.ID) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rewrite := func(rec []byte) []byte {
		a, err := store.DecodeAccount(rec)
		if err != nil {
			t.Fatal(err)
		}
		a.CreditsPosted, _ = a.CreditsPosted.AddU64(1_000_000)
		out := make([]byte, store.AccountRecordSize)
		store.EncodeAccount(out, &a)
		return out
	}
	var rec []byte
	if err := db.QueryRow("SELECT rec FROM accounts WHERE id = ?", id[:]).Scan(&rec); err == nil {
		if _, err := db.Exec("UPDATE accounts SET rec = ? WHERE id = ?", rewrite(rec), id[:]); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Query("SELECT rowid, records FROM account_log")
	if err != nil {
		t.Fatal(err)
	}
	updates := map[int64][]byte{}
	for rows.Next() {
		var rowid int64
		var recs []byte
		if err := rows.Scan(&rowid, &recs); err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(recs); off += store.AccountRecordSize {
			if ledger.ID(recs[off:off+16]) == id {
				copy(recs[off:], rewrite(recs[off:off+store.AccountRecordSize]))
				updates[rowid] = recs
			}
		}
	}
	rows.Close()
	for rowid, recs := range updates {
		if _, err := db.Exec("UPDATE account_log SET records = ? WHERE rowid = ?", recs, rowid); err != nil {
			t.Fatal(err)
		}
	}
}
