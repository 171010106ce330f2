package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
	"github.com/agentpay/agentpay/wallet"
)

// TestCrashWalletPayments starts `agentpay serve` as a real process, has
// agents pay concurrently under mandates with a total budget each (more
// closed mandates than the budgets allow), kills the server with SIGKILL
// in the middle of the load, restarts it and retries every closed mandate
// whose answer was lost, then each acknowledged one again. It checks that
// every payment acknowledged before the crash is there as it was; that
// each closed mandate paid at most once (a retry answers with the same
// payment); that no agent spent past its budget and each mandate's
// reported use is what its payments add up to; that the wallet was
// debited exactly the payments made; and that the owner's listing holds
// each payment once.
func TestCrashWalletPayments(t *testing.T) {
	const (
		agents    = 12
		perAgent  = 48   // closed mandates per agent
		amount    = 31   // minor units each
		budget    = 1000 // minor units per agent's mandate: 32 payments
		topUp     = 1_000_000
		killAfter = 150 // acknowledged payments before the kill
	)
	bin, dataDir, addr := serveSetup(t)
	ctx := context.Background()

	srv := startServer(t, bin, dataDir, addr)
	wo, err := newWalletOwner(ctx, srv.url, srv.secret, "agentpay.local" /* serve's default platform id */, "crash", topUp)
	if err != nil {
		t.Fatal(err)
	}
	userKey, user, owner, w, claims := wo.key, wo.user, wo.client, wo.wallet, wo.claims
	type agent struct {
		id      string
		key     *protocol.Ed25519PrivateKey
		mandate string
		closed  []string
	}
	as := make([]*agent, agents)
	for i := range as {
		k, err := protocol.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cnf, _ := protocol.NewConfirmation(k.PublicKey())
		a := &agent{id: fmt.Sprintf("%scrash%d", wallet.PrefixAgent, i), key: k}
		cred, err := protocol.Sign(userKey, &protocol.AgentCredential{Claims: claims(user.ID, a.id, time.Hour), Cnf: cnf})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.RegisterAgent(ctx, "", string(cred)); err != nil {
			t.Fatal(err)
		}
		open, err := protocol.Sign(userKey, &protocol.OpenPaymentMandate{Claims: claims(user.ID, a.id, time.Hour), Cnf: cnf,
			PaymentInstrument: protocol.PaymentInstrument{ID: w.ID, Type: protocol.PaymentInstrumentWallet},
			Constraints:       protocol.Constraints{&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: budget}}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := owner.IssueMandate(ctx, "", string(open))
		if err != nil {
			t.Fatal(err)
		}
		a.mandate = m.ID
		for j := range perAgent {
			cm, err := protocol.Sign(k, &protocol.ClosedPaymentMandate{Claims: claims(a.id, "", 30*time.Minute),
				TransactionID: protocol.HashJWS(fmt.Appendf(nil, "%s-%d", a.id, j)), Payee: protocol.Merchant{ID: fmt.Sprintf("mch_crash%d", j%8)},
				PaymentAmount:     protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
				PaymentInstrument: protocol.PaymentInstrument{ID: w.ID, Type: protocol.PaymentInstrumentWallet},
				OpenMandateHash:   protocol.HashJWS(open), Modality: protocol.HumanNotPresent})
			if err != nil {
				t.Fatal(err)
			}
			a.closed = append(a.closed, string(cm))
		}
		as[i] = a
	}

	// outcome is what one closed mandate's latest attempt got.
	type outcome struct {
		paid    string        // the payment's id
		status  string        // its status
		refused protocol.Code // a refusal's code
		lost    bool          // no answer: the connection failed, or it was never sent
		unsent  bool          // never sent: the server was down
	}
	result := func(p *protocol.WalletPayment, err error) outcome {
		var e *sdk.Error
		switch {
		case err == nil:
			return outcome{paid: p.ID, status: p.Status}
		case errors.As(err, &e):
			return outcome{refused: protocol.Code(e.Body.Code)}
		}
		return outcome{lost: true}
	}
	outcomes := make([][]outcome, agents)
	for i := range outcomes {
		outcomes[i] = make([]outcome, perAgent)
	}
	var acked atomic.Int64 // payments answered
	payAll := func(url string, which func(ai, j int) bool) {
		var wg sync.WaitGroup
		for ai, a := range as {
			c := sdk.New(url, "", sdk.WithAgentKey(a.key))
			for part := range 4 { // four callers an agent
				wg.Go(func() {
					for j := part; j < perAgent; j += 4 {
						if which(ai, j) {
							o := result(c.Pay(ctx, a.closed[j], "", nil))
							outcomes[ai][j] = o
							if o.paid != "" {
								acked.Add(1)
							}
						}
					}
				})
			}
		}
		wg.Wait()
	}

	// The load, killed in the middle: what is not sent by then never is.
	var killed atomic.Bool
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		payAll(srv.url, func(ai, j int) bool {
			if killed.Load() {
				outcomes[ai][j] = outcome{lost: true, unsent: true}
				return false
			}
			return true
		})
	}()
	for acked.Load() < killAfter {
		select {
		case <-loadDone:
			t.Fatalf("the load ended with %d payments answered, before the kill", acked.Load())
		case <-time.After(100 * time.Microsecond):
		}
	}
	killed.Store(true)
	srv.kill(t)
	<-loadDone
	before := make([][]outcome, agents)
	var ackedBefore, lostBefore int
	for ai := range outcomes {
		before[ai] = append([]outcome(nil), outcomes[ai]...)
		for _, o := range before[ai] {
			switch {
			case o.paid != "":
				ackedBefore++
			case o.lost && !o.unsent:
				lostBefore++
			}
		}
	}
	if ackedBefore == 0 || lostBefore == 0 {
		t.Fatalf("the kill did not land in the middle of the load: %d acknowledged, %d in flight", ackedBefore, lostBefore)
	}

	// Restart; retry what was lost, then everything once more.
	srv = startServer(t, bin, dataDir, addr)
	defer srv.kill(t)
	owner = sdk.New(srv.url, user.APIKey.Secret)
	for ai := range as {
		for _, o := range before[ai] {
			if o.paid != "" {
				p, err := owner.GetPayment(ctx, o.paid)
				if err != nil {
					t.Fatalf("payment %s, acknowledged before the crash: %v", o.paid, err)
				}
				if p.Status != o.status || p.Amount != amount || p.Agent != as[ai].id {
					t.Fatalf("payment %s after the crash: %s %d by %s, acknowledged %s %d by %s", o.paid, p.Status, p.Amount, p.Agent, o.status, amount, as[ai].id)
				}
			}
		}
	}
	payAll(srv.url, func(ai, j int) bool { return before[ai][j].lost })
	first := make([][]outcome, agents)
	for ai := range outcomes {
		first[ai] = append([]outcome(nil), outcomes[ai]...)
		for j, o := range first[ai] {
			if o.lost {
				t.Fatalf("agent %d closed mandate %d: no answer after the restart", ai, j)
			}
		}
	}
	payAll(srv.url, func(int, int) bool { return true })

	var total int64
	var lostPaid int // in flight at the kill, found paid after it
	seen := map[string]bool{}
	for ai, a := range as {
		var spent int64
		for j := range perAgent {
			o, again := first[ai][j], outcomes[ai][j]
			if b := before[ai][j]; b.paid != "" && o.paid != b.paid {
				t.Fatalf("agent %d closed mandate %d: paid %s before the crash, %s after", ai, j, b.paid, o.paid)
			}
			if o.paid != again.paid {
				t.Fatalf("agent %d closed mandate %d: paid %q, then %q on a retry", ai, j, o.paid, again.paid)
			}
			if o.paid == "" {
				if o.refused != protocol.CodeBudgetExceeded && o.refused != "risk_declined" {
					t.Fatalf("agent %d closed mandate %d refused with %q", ai, j, o.refused)
				}
				continue
			}
			if seen[o.paid] {
				t.Fatalf("payment %s made by two closed mandates", o.paid)
			}
			if b := before[ai][j]; b.lost && !b.unsent {
				lostPaid++
			}
			seen[o.paid] = true
			spent += amount
		}
		if spent > budget {
			t.Fatalf("agent %d spent %d, over its budget %d", ai, spent, budget)
		}
		if spent < budget-amount {
			t.Fatalf("agent %d spent %d: its budget %d should be spent to within one payment (%d closed mandates)", ai, spent, budget, perAgent)
		}
		m, err := owner.GetMandate(ctx, a.mandate)
		if err != nil {
			t.Fatal(err)
		}
		used := int64(-1)
		for _, l := range m.Limits {
			if l.Name == protocol.PeriodTotal {
				used = l.Used
			}
		}
		if used != spent {
			t.Fatalf("mandate %s reports %d used, its payments add up to %d", a.mandate, used, spent)
		}
		total += spent
	}

	wl, err := owner.GetWallet(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wl.Balances.DebitsPosted != strconv.FormatInt(total, 10) || wl.Balances.DebitsPending != "0" || wl.Balances.CreditsPosted != strconv.Itoa(topUp) {
		t.Fatalf("wallet balances %+v, want debits %d posted, 0 pending, credits %d", *wl.Balances, total, topUp)
	}
	listed := map[string]bool{}
	for after := ""; ; {
		page, err := owner.ListPayments(ctx, sdk.PaymentFilter{After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Data {
			if listed[p.ID] || !seen[p.ID] {
				t.Fatalf("listing: payment %s listed twice or not made (listed before: %v)", p.ID, listed[p.ID])
			}
			listed[p.ID] = true
		}
		if after = page.NextCursor; after == "" {
			break
		}
	}
	if len(listed) != len(seen) {
		t.Fatalf("listing holds %d payments, %d were made", len(listed), len(seen))
	}
	t.Logf("%d payments acknowledged before the kill, %d in flight (%d of them paid, before the kill or on their retry); %d payments in all, %d spent",
		ackedBefore, lostBefore, lostPaid, len(seen), total)
}
