package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
)

// runDemo runs `agentpay demo` with args and returns what it printed.
func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"demo"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	return out.String()
}

// wantLines checks that text holds every line of want.
func wantLines(t *testing.T, text string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("demo output lacks %q", w)
		}
	}
}

// walletFacts are the AI Wallet chapters' facts: the mandate's limits
// after each payment, the refusals' codes, the held payment and its
// approval, and the wallet's balance at each step.
var walletFacts = []string{
	"the test rail charged her card $20.00",
	"   Now the wallet has $0.00 on hold and can pay $20.00.",
	"; what remains: $5.00.",
	": completed; what remains: $4.69.",
	"refused with 422 amount_out_of_range: payment.amount_range: 2.00 USD is above the maximum 1.00 USD.",
	"Nothing moved: the wallet has $0.00 on hold and can pay $19.69.",
	": held (approval_required); what remains: $3.79.",
	"Funds held: the wallet has $0.90 on hold and can pay $18.79.",
	"The money moved: the wallet has $0.00 on hold and can pay $18.79.",
	"5 payments (5 completed); what remains: $0.04.",
	"refused with 422 budget_exceeded: payment.budget: 4.96 USD spent in total plus 0.75 USD is above the budget 5.00 USD.",
	"Nothing moved; what remains: $0.04.",
	"refused with 403 revoked: the mandate was revoked",
	"Alice's list of the agent's payments: 6 completed, 1 approved; $4.96 paid in all.",
	"   Now the wallet has $0.00 on hold and can pay $15.04.",
}

// checkWalletStory checks the AI Wallet chapters of text: its facts, and
// that the payment Alice approves is the one that was held.
func checkWalletStory(t *testing.T, text string) {
	t.Helper()
	wantLines(t, text, walletFacts)
	held := regexp.MustCompile(`payment (pay_\S+): held `).FindStringSubmatch(text)
	approved := regexp.MustCompile(`1 held; payment (pay_\S+): approved\.`).FindStringSubmatch(text)
	if held == nil || approved == nil || held[1] != approved[1] {
		t.Errorf("the approved payment is not the held one: held %v, approved %v", held, approved)
	}
}

// TestDemo runs `agentpay demo` against its in-process server and checks
// the story's facts: the overdraft is refused, the retry pays once, the
// failed chain moves nothing, the final balances add up, the AI Wallet
// keeps the agent within its mandate, and the evidence log proves a
// payment.
func TestDemo(t *testing.T) {
	text := runDemo(t)
	wantLines(t, text, []string{
		"3 accepted, 0 rejected",
		"refused with 422 exceeds_credits",
		"transfer 0: linked_event_failed",
		"transfer 1: exceeds_credits",
		"bank:      credits $0.00    debits $20.00",
		"wallet:    credits $20.00   debits $4.44",
		"merchant:  credits $4.44    debits $0.00",
		"The wallet's history holds 7 transfers",
		"and the checkpoint's signature verifies with the log's published key.",
		"The batch response carried a receipt signed by the log: log entry 3 holds the 3 calls,",
		"its leaf, the batch's tree, the log's tree and the signature all check out.",
	})
	checkWalletStory(t, text)
	m := regexp.MustCompile(`first answer (tr_\S+), retry answer (tr_\S+):`).FindStringSubmatch(text)
	if m == nil || m[1] != m[2] {
		t.Errorf("retry did not return the original transfer: %v", m)
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestDemoRemote runs `agentpay demo --remote` twice against one server
// with the AI Wallet: the wallet chapters use the API only, and a second
// run (a new user, agent and mandate) tells the same story.
func TestDemoRemote(t *testing.T) {
	env := apitest.New(t, apitest.Options{Wallet: true, WalletPlatform: demoPlatform})
	for run := range 2 {
		text := runDemo(t, "--remote", "--url", env.URL, "--api-key", env.AdminSecret)
		checkWalletStory(t, text)
		if t.Failed() {
			t.Fatalf("run %d:\n%s", run+1, text)
		}
	}
}

// TestDemoRemoteWithoutWallet: against a server without the AI Wallet the
// demo says so in one line and tells the rest of the story.
func TestDemoRemoteWithoutWallet(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	text := runDemo(t, "--remote", "--url", env.URL, "--api-key", env.AdminSecret)
	wantLines(t, text, []string{
		"refused with 422 exceeds_credits",
		"\nThe AI Wallet chapters are skipped: this server answers 404 wallet_disabled.\n",
	})
	if strings.Contains(text, "The AI Wallet: Alice") || strings.Contains(text, "what remains") {
		t.Errorf("the wallet chapters ran against a server without the AI Wallet")
	}
	if t.Failed() {
		t.Log(text)
	}
}
