package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// TestWalletCommands drives the AI Wallet CLI against a real node: make
// a user's key, create the user, open and fund a wallet; the test (as the
// user's and the agent's software) registers an agent, issues a mandate
// and pays through the SDK; then the CLI lists the held payment, approves
// one, declines another, and revokes the mandate and the agent.
func TestWalletCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, err := startNode(ctx, nodeConfig{DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.close(ctx)
	run := func(apiKey string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		root := newRootCommand()
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(append([]string{"--url", n.URL(), "--api-key", apiKey}, args...))
		err := root.Execute()
		return out.String(), err
	}
	must := func(apiKey string, v any, args ...string) string {
		t.Helper()
		out, err := run(apiKey, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if v != nil {
			if err := json.Unmarshal([]byte(out), v); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		return out
	}
	admin := n.AdminSecret
	must(admin, nil, "assets", "create", "--ledger", "1", "--code", "USD", "--scale", "2")

	// keys new writes the seed (0600) and prints the public JWK.
	keyFile := filepath.Join(dir, "alice.key")
	var jwk protocol.JWK
	must("", &jwk, "keys", "new", "--out", keyFile)
	ukey, err := readKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	if pub, err := protocol.NewPublicKey(jwk.Key); err != nil || pub.KeyID() != ukey.KeyID() {
		t.Fatalf("printed JWK %v is not the key file's: %v", jwk, err)
	}
	if _, err := run("", "keys", "new", "--out", keyFile); err == nil {
		t.Fatal("keys new overwrote a key file")
	}

	// users create: the id and the secret, for people and as JSON.
	out := must(admin, nil, "users", "create", "--name", "Alice", "--key", keyFile)
	if !strings.Contains(out, "user:") || !strings.Contains(out, "api key secret:") || !strings.Contains(out, "ap_") {
		t.Fatalf("users create:\n%s", out)
	}
	bobKey := filepath.Join(dir, "bob.jwk")
	jwkOut := must("", nil, "keys", "new", "--out", filepath.Join(dir, "bob.key"))
	if err := os.WriteFile(bobKey, []byte(jwkOut), 0o600); err != nil {
		t.Fatal(err)
	}
	var user protocol.WalletUser
	must(admin, &user, "users", "create", "--name", "Bob", "--key", bobKey, "--json")
	if user.APIKey == nil || user.APIKey.Secret == "" {
		t.Fatalf("user %+v", user)
	}
	secret := user.APIKey.Secret
	// Bob's seed signs what Bob signs.
	ukey, err = readKeyFile(filepath.Join(dir, "bob.key"))
	if err != nil || ukey.KeyID() != user.KeyID {
		t.Fatalf("bob's key %v: %v", ukey, err)
	}
	if _, err := run(secret, "users", "create", "--key", bobKey); err == nil || !strings.Contains(err.Error(), "insufficient_role") {
		t.Fatalf("users create with a user's key: %v", err)
	}

	// A wallet, funded once per movement key.
	var wl protocol.Wallet
	must(secret, &wl, "wallets", "create", "--currency", "USD", "--json")
	var m1, m2 protocol.WalletMovement
	must(secret, &m1, "wallets", "topup", wl.ID, "--amount", "100000", "--source", "ok-card", "--key", "top-1", "--json")
	must(secret, &m2, "wallets", "topup", wl.ID, "--amount", "100000", "--source", "ok-card", "--key", "top-1", "--json")
	if m1.ID == "" || m1.ID != m2.ID {
		t.Fatalf("top-ups %+v then %+v", m1, m2)
	}
	if out := must(secret, nil, "wallets", "topup", wl.ID, "--amount", "250", "--source", "ok-card"); !strings.Contains(out, "transfer:") {
		t.Fatalf("wallets topup:\n%s", out)
	}
	if out := must(secret, nil, "wallets", "get", wl.ID); !strings.Contains(out, "available:") || !strings.Contains(out, "1002.50 USD") {
		t.Fatalf("wallets get:\n%s", out)
	}
	if _, err := run(secret, "wallets", "topup", wl.ID, "--amount", "5", "--source", "decline-card"); err == nil || !strings.Contains(err.Error(), "rail_failed") {
		t.Fatalf("declined top-up: %v", err)
	}
	var admWallet protocol.Wallet
	must(admin, &admWallet, "wallets", "create", "--currency", "USD", "--owner", user.ID, "--json")
	if admWallet.Owner != user.ID {
		t.Fatalf("admin wallet %+v", admWallet)
	}

	// The user's software registers an agent and gives it a mandate; the
	// agent pays (SDK).
	owner := sdk.New(n.URL(), secret)
	akey, _ := protocol.GenerateEd25519Key(nil)
	cnf, _ := protocol.NewConfirmation(akey.PublicKey())
	jti := 0
	claims := func(iss, sub string, life time.Duration) protocol.Claims {
		jti++
		now := time.Now()
		return protocol.Claims{Issuer: iss, Subject: sub, Audience: protocol.Audience{"agentpay.local"},
			IssuedAt: now.Add(-time.Second).Unix(), Expiry: now.Add(life).Unix(), ID: fmt.Sprintf("jti-cli-wallet-0123456789-%d", jti)}
	}
	sign := func(k protocol.Signer, obj protocol.Object) string {
		b, err := protocol.Sign(k, obj)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	agentID := "agt_cli"
	if _, err := owner.RegisterAgent(ctx, "", sign(ukey, &protocol.AgentCredential{Claims: claims(user.ID, agentID, time.Hour), Cnf: cnf})); err != nil {
		t.Fatal(err)
	}
	m, err := owner.IssueMandate(ctx, "", sign(ukey, &protocol.OpenPaymentMandate{Claims: claims(user.ID, agentID, 24*time.Hour), Cnf: cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: wl.ID, Type: protocol.PaymentInstrumentWallet},
		Constraints: []protocol.Constraint{
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 5000},
			&protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 500},
		}}))
	if err != nil {
		t.Fatal(err)
	}
	agent := sdk.New(n.URL(), "", sdk.WithAgentKey(akey), sdk.WithLogKey(n.LogKey))
	pay := func(amount int64) *protocol.WalletPayment {
		t.Helper()
		closed := sign(akey, &protocol.ClosedPaymentMandate{Claims: claims(agentID, "", 10*time.Minute),
			TransactionID: protocol.HashJWS([]byte(fmt.Sprint("invoice-", jti))), Payee: protocol.Merchant{ID: "mch_weather"},
			PaymentAmount:     protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
			PaymentInstrument: protocol.PaymentInstrument{ID: wl.ID, Type: protocol.PaymentInstrumentWallet},
			OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent})
		p, err := agent.Pay(ctx, closed, "data", nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := pay(31); p.Status != "completed" {
		t.Fatalf("payment %+v", p)
	}
	held, held2 := pay(600), pay(700)
	if held.Status != "held" || held2.Status != "held" {
		t.Fatalf("held payments %s %s", held.Status, held2.Status)
	}

	// The owner sees and answers the held payments.
	var list protocol.WalletPaymentList
	must(secret, &list, "payments", "list", "--status", "held", "--agent", agentID, "--json")
	if len(list.Data) != 2 {
		t.Fatalf("held payments %+v", list.Data)
	}
	out = must(secret, nil, "payments", "list", "--status", "held")
	if !strings.Contains(out, held.ID) || !strings.Contains(out, "6.00 USD") || !strings.Contains(out, "PAYMENT") {
		t.Fatalf("payments list:\n%s", out)
	}
	out = must(secret, nil, "payments", "approve", held.ID)
	if !strings.Contains(out, "status:") || !strings.Contains(out, "approved") {
		t.Fatalf("payments approve:\n%s", out)
	}
	if _, err := run(secret, "payments", "approve", held.ID); err == nil || !strings.Contains(err.Error(), "payment_not_pending") {
		t.Fatalf("approving twice: %v", err)
	}
	var declined protocol.WalletPayment
	must(secret, &declined, "payments", "decline", held2.ID, "--json")
	if declined.Status != "declined" {
		t.Fatalf("declined %+v", declined)
	}
	if out := must(secret, nil, "payments", "get", held.ID); !strings.Contains(out, "answer:") {
		t.Fatalf("payments get:\n%s", out)
	}
	must(secret, &list, "payments", "list", "--json")
	if len(list.Data) != 3 {
		t.Fatalf("payments %+v", list.Data)
	}
	// A page at a time: the table ends with the cursor of the next page.
	out = must(secret, nil, "payments", "list", "--limit", "2")
	if !strings.Contains(out, list.Data[1].ID) || strings.Contains(out, list.Data[2].ID) || !strings.Contains(out, "more: --after "+list.Data[1].ID) {
		t.Fatalf("payments list --limit 2:\n%s", out)
	}
	var rest protocol.WalletPaymentList
	must(secret, &rest, "payments", "list", "--after", list.Data[1].ID, "--json")
	if len(rest.Data) != 1 || rest.Data[0].ID != list.Data[2].ID || rest.NextCursor != "" {
		t.Fatalf("payments list --after: %+v", rest)
	}
	// Every page as one list: the same payments, in order, and no cursor.
	var every protocol.WalletPaymentList
	must(secret, &every, "payments", "list", "--all", "--limit", "1", "--json")
	if len(every.Data) != 3 || every.NextCursor != "" {
		t.Fatalf("payments list --all --limit 1: %+v", every)
	}
	for i := range every.Data {
		if every.Data[i].ID != list.Data[i].ID {
			t.Fatalf("payments list --all: %d is %s, want %s", i, every.Data[i].ID, list.Data[i].ID)
		}
	}

	// Mandates: what remains, then revoked; the agent revoked.
	var ml protocol.WalletMandateList
	must(secret, &ml, "mandates", "list", "--agent", agentID, "--json")
	if len(ml.Data) != 1 || ml.Data[0].ID != m.ID {
		t.Fatalf("mandates %+v", ml.Data)
	}
	if out := must(secret, nil, "mandates", "get", m.ID); !strings.Contains(out, "6.31 USD used") {
		t.Fatalf("mandates get:\n%s", out)
	}
	if out := must(secret, nil, "mandates", "list"); !strings.Contains(out, m.ID) || !strings.Contains(out, "active") {
		t.Fatalf("mandates list:\n%s", out)
	}
	if out := must(secret, nil, "mandates", "revoke", m.ID); !strings.Contains(out, "revoked:") {
		t.Fatalf("mandates revoke:\n%s", out)
	}
	if out := must(secret, nil, "agents", "revoke", agentID); !strings.Contains(out, "revoked") {
		t.Fatalf("agents revoke:\n%s", out)
	}
	var ag protocol.WalletAgent
	must(secret, &ag, "agents", "get", agentID, "--json")
	if ag.ActiveKeyID != "" {
		t.Fatalf("agent %+v", ag)
	}
}
