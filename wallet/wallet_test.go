package wallet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentpay/agentpay/evidence/audit"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/internal/sim"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/store/sqlite"
	"github.com/agentpay/agentpay/wallet"

	"golang.org/x/mod/sumdb/note"
)

const platform = "agentpay.test"

var bg = context.Background()

// env is a wallet service on a real engine and SQLite store with the
// evidence log, a fake clock, and one user with a funded wallet.
type env struct {
	t      testing.TB
	path   string
	clock  *sim.Clock
	st     *sqlite.Store
	engine *ledger.Engine
	svc    *wallet.Service
	rules  []risk.Rule
	// docsKept is wallet.Config.PaymentDocsKept (0: the default).
	docsKept int
	// prealloc opens the store with a preallocated WAL, as serve does.
	prealloc bool

	user    *wallet.User
	userKey *protocol.Ed25519PrivateKey
	wallet  *wallet.Wallet
	jti     atomic.Int64
}

func newEnv(t testing.TB, rules []risk.Rule) *env {
	t.Helper()
	return newEnvDocs(t, rules, 0)
}

// newEnvDocs is newEnv with a service that keeps docsKept payments' docs
// in memory.
func newEnvDocs(t testing.TB, rules []risk.Rule, docsKept int) *env {
	t.Helper()
	return newEnvWith(t, &env{rules: rules, docsKept: docsKept})
}

// newServeEnv is newEnv with the store opened as serve opens it (a
// preallocated WAL), for benchmarks.
func newServeEnv(t testing.TB, rules []risk.Rule) *env {
	t.Helper()
	return newEnvWith(t, &env{rules: rules, prealloc: true})
}

// newEnvWith starts e (its rules, docsKept and prealloc set) and makes
// its user and funded wallet.
func newEnvWith(t testing.TB, e *env) *env {
	t.Helper()
	e.t, e.path = t, filepath.Join(t.TempDir(), "wallet.db")
	e.clock = sim.NewClock(time.Date(2026, 11, 29, 23, 50, 0, 0, time.UTC))
	e.start()
	if _, err := e.engine.CreateAssets(bg, []ledger.Asset{{Ledger: 1, Code: "USD", Scale: 2}}, nil); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.userKey, err = protocol.GenerateEd25519Key(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if e.user, err = e.svc.CreateUser(bg, "Alice", e.userKey.PublicKey().JWK()); err != nil {
		t.Fatal(err)
	}
	if e.wallet, err = e.svc.CreateWallet(bg, e.user.ID, "USD"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.TopUp(bg, e.wallet.ID, "fund-1", "test", "ok-card", 100_000); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) start() {
	t := e.t
	t.Helper()
	var err error
	if e.st, err = sqlite.Open(bg, e.path, sqlite.Options{PreallocateWAL: e.prealloc}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Migrate(bg); err != nil {
		t.Fatal(err)
	}
	ev, err := ledgerlog.Open(bg, e.st, ledgerlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.engine, err = ledger.Open(bg, ledger.Config{Store: e.st, Clock: e.clock, Evidence: ev}); err != nil {
		t.Fatal(err)
	}
	e.engine.Start()
	if e.svc, err = wallet.New(bg, wallet.Config{Engine: e.engine, Store: e.st, Clock: e.clock, PlatformID: platform,
		PlatformRules: e.rules, ApprovalTTL: 10 * time.Minute, PaymentDocsKept: e.docsKept}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) stop() {
	if err := e.engine.Stop(bg); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) claims(iss, sub string, life time.Duration) protocol.Claims {
	now := e.clock.Now()
	return protocol.Claims{Issuer: iss, Subject: sub, Audience: protocol.Audience{platform},
		IssuedAt: now.Add(-time.Second).Unix(), Expiry: now.Add(life).Unix(),
		ID: e.nextJTI(now)}
}

// nextJTI returns a fresh jti made at now: time-ordered, as the SDK
// makes them. The fake clock stands still, while agents sign one object
// after another: each jti's time is 100 µs after the previous one's.
func (e *env) nextJTI(now time.Time) string {
	n := e.jti.Add(1)
	return jtiOf(now.Add(time.Duration(n)*100*time.Microsecond), n)
}

// jtiOf is a test's jti made at now: time-ordered, as the SDK makes
// them, its random part n.
func jtiOf(now time.Time, n int64) string {
	var r [16]byte
	binary.BigEndian.PutUint64(r[8:], uint64(n))
	return protocol.NewJTI(now, bytes.NewReader(r[:]))
}

func sign(t testing.TB, k protocol.Signer, obj protocol.Object) []byte {
	t.Helper()
	b, err := protocol.Sign(k, obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// agent registers an agent of the user and returns it with its key.
func (e *env) agent(name string) (*wallet.Agent, *protocol.Ed25519PrivateKey) {
	e.t.Helper()
	k, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	cnf, err := protocol.NewConfirmation(k.PublicKey())
	if err != nil {
		e.t.Fatal(err)
	}
	cred := &protocol.AgentCredential{Claims: e.claims(e.user.ID, wallet.PrefixAgent+name, 24*time.Hour), Cnf: cnf, Name: name}
	a, err := e.svc.RegisterAgent(bg, sign(e.t, e.userKey, cred))
	if err != nil {
		e.t.Fatal(err)
	}
	return a, k
}

// mandate issues an open payment mandate to the agent.
func (e *env) mandate(agentKey *protocol.Ed25519PrivateKey, agentID string, cs ...protocol.Constraint) *wallet.Mandate {
	e.t.Helper()
	cnf, _ := protocol.NewConfirmation(agentKey.PublicKey())
	open := &protocol.OpenPaymentMandate{Claims: e.claims(e.user.ID, agentID, 30*24*time.Hour), Cnf: cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
		Constraints:       cs}
	m, err := e.svc.IssueMandate(bg, e.user.ID, sign(e.t, e.userKey, open))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

var shop = protocol.Merchant{ID: "mch_weather", Name: "Weather API"}

// closed returns a closed payment mandate of amount to payee under m.
func (e *env) closed(agentKey *protocol.Ed25519PrivateKey, agentID string, m *wallet.Mandate, payee protocol.Merchant, amount int64) []byte {
	c := &protocol.ClosedPaymentMandate{Claims: e.claims(agentID, "", 15*time.Minute),
		TransactionID: protocol.HashJWS([]byte(fmt.Sprintf("invoice-%d", e.jti.Load()))), Payee: payee,
		PaymentAmount:     protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
		PaymentInstrument: protocol.PaymentInstrument{ID: e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent}
	return sign(e.t, agentKey, c)
}

func usd(n int64) *protocol.BudgetConstraint {
	return &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: n}
}

func code(err error) protocol.Code {
	var r *wallet.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// checkLedger checks the ledger's invariants and that the store matches
// its evidence log (docs included).
func (e *env) checkLedger() {
	e.t.Helper()
	if err := e.engine.Inspect(bg, func(s *ledger.State) error { return s.CheckInvariants() }); err != nil {
		e.t.Fatal(err)
	}
	rep, err := audit.Run(bg, audit.NewStoreSource(e.st), audit.Options{Origin: "x", Verifier: noVerifier{}})
	if err != nil {
		e.t.Fatal(err)
	}
	if rep.Divergence != nil {
		e.t.Fatalf("audit: %v", rep.Divergence)
	}
	if rep.Docs == 0 {
		e.t.Fatal("no docs in the evidence log")
	}
}

// noVerifier verifies nothing: the tests audit a log without checkpoints.
type noVerifier struct{}

func (noVerifier) Name() string                { return "x" }
func (noVerifier) KeyHash() uint32             { return 0 }
func (noVerifier) Verify(msg, sig []byte) bool { return false }

var _ note.Verifier = noVerifier{}

func (e *env) spent(m *wallet.Mandate, period string) int64 {
	for _, l := range mustMandateLimits(e, m) {
		if l.Name == period {
			return l.Used
		}
	}
	return -1
}

func mustMandateLimits(e *env, m *wallet.Mandate) []protocol.Limit {
	ls, err := e.svc.MandateLimits(bg, m.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ls
}

func TestPaymentUnderMandate(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	agent, key := e.agent("shopper")
	m := e.mandate(key, agent.ID, usd(5000),
		&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1000},
		&protocol.RecurrenceConstraint{Frequency: protocol.FrequencyOnDemand, MaxOccurrences: 3},
		&protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{shop}})
	p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 31)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != wallet.StatusCompleted || p.Amount != 31 || len(p.Limits) != 2 {
		t.Fatalf("payment %+v", p)
	}
	for _, l := range p.Limits {
		switch l.Name {
		case protocol.PeriodTotal:
			if l.Used != 31 || l.Remaining != 5000-31 {
				t.Fatalf("total limit %+v", l)
			}
		case "uses":
			if l.Used != 1 || l.Remaining != 2 {
				t.Fatalf("uses limit %+v", l)
			}
		}
	}
	bal, err := e.svc.Balance(bg, e.wallet)
	if err != nil || bal.DebitsPosted.Lo != 31 || bal.CreditsPosted.Lo != 100_000 {
		t.Fatalf("wallet %+v, %v", bal, err)
	}
	// The same closed mandate again is the same payment; a forged one,
	// another payee, too much, or another agent's key: refused.
	cm := e.closed(key, agent.ID, m, shop, 40)
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: cm}); err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: cm})
	if err != nil || again.Amount != 40 {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	other, otherKey := e.agent("other")
	cases := map[string]struct {
		agent string
		cm    []byte
		want  protocol.Code
	}{
		"payee not allowed": {agent.ID, e.closed(key, agent.ID, m, protocol.Merchant{ID: "mch_evil"}, 10), protocol.CodePayeeNotAllowed},
		"above the range":   {agent.ID, e.closed(key, agent.ID, m, shop, 1001), protocol.CodeAmountOutOfRange},
		"another agent":     {other.ID, e.closed(otherKey, other.ID, m, shop, 10), protocol.CodeSignerNotAllowed},
		"wrong key":         {agent.ID, e.closed(otherKey, agent.ID, m, shop, 10), protocol.CodeIssuerMismatch},
		"tampered":          {agent.ID, append(e.closed(key, agent.ID, m, shop, 10)[:0:0], []byte("x.y.z")...), protocol.CodePayloadInvalid},
	}
	for name, c := range cases {
		_, err := e.svc.Pay(bg, c.agent, wallet.PayRequest{ClosedMandate: c.cm})
		if got := code(err); got == "" || (c.want != "" && got != c.want && name != "wrong key" && name != "tampered") {
			t.Errorf("%s: %v (code %q), want %q", name, err, got, c.want)
		}
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 5)}); err != nil {
		t.Fatal(err)
	}
	// Three uses are spent.
	_, err = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 5)})
	if got := code(err); got != protocol.CodeRecurrenceExceeded {
		t.Fatalf("fourth use: %v, want %s", err, protocol.CodeRecurrenceExceeded)
	}
	// Revocation: refused from then on.
	if _, err := e.svc.RevokeMandate(bg, e.user.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	m2 := e.mandate(key, agent.ID, usd(100))
	if _, err := e.svc.RevokeMandate(bg, e.user.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m2, shop, 5)}); code(err) != protocol.CodeRevoked {
		t.Fatalf("after revocation: %v", err)
	}
	e.checkLedger()

	// A restarted service knows everything.
	e.stop()
	e.start()
	defer e.stop()
	if got := e.svc.Payments(e.user.ID, agent.ID, ""); len(got) != 3 {
		t.Fatalf("after restart: %d payments, want 3", len(got))
	}
	if mm, err := e.svc.Mandate(m.ID); err != nil || mm.RevokedAt == nil {
		t.Fatalf("after restart: mandate %+v, %v", mm, err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: cm}); err != nil {
		t.Fatalf("after restart, the retry of a made payment: %v", err)
	}
}

// TestZeroOverrun: 10,000 concurrent payment attempts against one
// mandate with a $5.00 budget spend at most $5.00 exactly; every refused
// attempt is refused with a clear code; the ledger invariants hold and the
// store matches its evidence log.
func TestZeroOverrun(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	agent, key := e.agent("racer")
	m := e.mandate(key, agent.ID, usd(500))
	const attempts = 10_000
	mandates := make([][]byte, attempts)
	amounts := make([]int64, attempts)
	for i := range mandates {
		amounts[i] = int64(1 + i%7) // 1..7 cents
		mandates[i] = e.closed(key, agent.ID, m, shop, amounts[i])
	}
	var ok, refused atomic.Int64
	var spent atomic.Int64
	codes := sync.Map{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 512)
	for i := range mandates {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: mandates[i]})
			if err != nil {
				c := code(err)
				if c == "" {
					t.Errorf("attempt %d: %v (no refusal code)", i, err)
				}
				codes.Store(c, true)
				refused.Add(1)
				return
			}
			ok.Add(1)
			spent.Add(p.Amount)
		}()
	}
	wg.Wait()
	if ok.Load()+refused.Load() != attempts {
		t.Fatalf("%d ok + %d refused != %d", ok.Load(), refused.Load(), attempts)
	}
	if spent.Load() > 500 {
		t.Fatalf("spent %d cents of a 500-cent budget", spent.Load())
	}
	if used := e.spent(m, protocol.PeriodTotal); used != spent.Load() {
		t.Fatalf("the budget account says %d spent, the payments %d", used, spent.Load())
	}
	bal, _ := e.svc.Balance(bg, e.wallet)
	if int64(bal.DebitsPosted.Lo) != spent.Load() {
		t.Fatalf("wallet debited %d, payments %d", bal.DebitsPosted.Lo, spent.Load())
	}
	codes.Range(func(k, _ any) bool {
		if k.(protocol.Code) != protocol.CodeBudgetExceeded {
			t.Errorf("refusal code %q, want %s", k, protocol.CodeBudgetExceeded)
		}
		return true
	})
	t.Logf("%d paid (%d cents), %d refused", ok.Load(), spent.Load(), refused.Load())
	if spent.Load() < 490 {
		t.Fatalf("only %d of 500 cents spent: the budget was not used up", spent.Load())
	}
	e.checkLedger()
	e.stop()
}

// TestDailyBudgetAcrossMidnight: a per-day budget holds under concurrency
// on each UTC day and starts again on the next one (fake clock).
func TestDailyBudgetAcrossMidnight(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("daily")
	m := e.mandate(key, agent.ID, &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 100, Period: protocol.PeriodDay}, usd(250))
	burst := func() int64 {
		var spent atomic.Int64
		var wg sync.WaitGroup
		for range 300 {
			cm := e.closed(key, agent.ID, m, shop, 3)
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: cm})
				if err == nil {
					spent.Add(p.Amount)
				} else if c := code(err); c != protocol.CodeBudgetExceeded {
					t.Errorf("refused with %q: %v", c, err)
				}
			}()
		}
		wg.Wait()
		return spent.Load()
	}
	day1 := burst() // 23:50 on the 29th
	if day1 != 99 {
		t.Fatalf("day 1 spent %d, want 99 (33 payments of 3 under 100)", day1)
	}
	e.clock.Advance(15 * time.Minute) // 00:05 on the 30th
	day2 := burst()
	if day2 != 99 {
		t.Fatalf("day 2 spent %d, want 99", day2)
	}
	e.clock.Advance(24 * time.Hour) // day 3: the total budget (250) is what is left
	day3 := burst()
	if day3 != 250-198-1 && day3 != 250-198 { // 52 left: 17 payments of 3 = 51
		t.Fatalf("day 3 spent %d, want 51", day3)
	}
	if used := e.spent(m, protocol.PeriodTotal); used != day1+day2+day3 {
		t.Fatalf("total spent %d, payments %d", used, day1+day2+day3)
	}
	e.checkLedger()
}

// TestApprovalFlow: a payment above the approval threshold holds the
// funds until the owner approves (money moves) or declines (released); an
// unanswered hold expires and releases the funds by itself.
func TestApprovalFlow(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("buyer")
	m := e.mandate(key, agent.ID, usd(10_000), &protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 1000})
	pay := func(n int64) *wallet.Payment {
		t.Helper()
		p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, n)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := pay(500)
	if small.Status != wallet.StatusCompleted {
		t.Fatalf("small payment %s", small.Status)
	}
	big := pay(1500)
	if big.Status != wallet.StatusHeld || big.Hold != string(protocol.CodeApprovalRequired) || big.ExpiresAt == nil {
		t.Fatalf("big payment %+v", big)
	}
	bal, _ := e.svc.Balance(bg, e.wallet)
	if bal.DebitsPending.Lo != 1500 || bal.DebitsPosted.Lo != 500 {
		t.Fatalf("held: wallet %+v", bal)
	}
	if held := e.svc.Payments(e.user.ID, "", wallet.StatusHeld); len(held) != 1 || held[0].ID != big.ID {
		t.Fatalf("held payments %v", held)
	}
	if _, err := e.svc.Answer(bg, "usr_someone", big.ID, true); !errors.Is(err, wallet.ErrForbidden) {
		t.Fatalf("approval by another user: %v", err)
	}
	approved, err := e.svc.Answer(bg, e.user.ID, big.ID, true)
	if err != nil || approved.Status != wallet.StatusApproved {
		t.Fatalf("approve: %+v, %v", approved, err)
	}
	bal, _ = e.svc.Balance(bg, e.wallet)
	if bal.DebitsPending.Lo != 0 || bal.DebitsPosted.Lo != 2000 {
		t.Fatalf("approved: wallet %+v", bal)
	}
	if _, err := e.svc.Answer(bg, e.user.ID, big.ID, false); !errors.Is(err, wallet.ErrNotPending) {
		t.Fatalf("answer twice: %v", err)
	}
	declined := pay(2000)
	if _, err := e.svc.Answer(bg, e.user.ID, declined.ID, false); err != nil {
		t.Fatal(err)
	}
	expiring := pay(3000)
	bal, _ = e.svc.Balance(bg, e.wallet)
	if bal.DebitsPending.Lo != 3000 || bal.DebitsPosted.Lo != 2000 {
		t.Fatalf("second hold: wallet %+v", bal)
	}
	e.clock.Advance(11 * time.Minute)
	if err := e.engine.Tick(bg); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.svc.Payment(expiring.ID); p.Status != wallet.StatusExpired {
		t.Fatalf("after the TTL: %s", p.Status)
	}
	if _, err := e.svc.Answer(bg, e.user.ID, expiring.ID, true); !errors.Is(err, wallet.ErrNotPending) {
		t.Fatalf("approve an expired hold: %v", err)
	}
	bal, _ = e.svc.Balance(bg, e.wallet)
	if bal.DebitsPending.Lo != 0 || bal.DebitsPosted.Lo != 2000 {
		t.Fatalf("expired: wallet %+v", bal)
	}
	if used := e.spent(m, protocol.PeriodTotal); used != 2000 {
		t.Fatalf("budget used %d, want 2000 (released holds give their budget back)", used)
	}
	e.checkLedger()
}

// TestRiskRules: a wallet rule holds or declines; hard limits still come
// first.
func TestRiskRules(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("risky")
	m := e.mandate(key, agent.ID, usd(10_000))
	_, err := e.svc.SetWalletRules(bg, e.user.ID, e.wallet.ID, []risk.Rule{
		{ID: "big-new", Expression: "merchant.is_new && payment.amount > 2000", Outcome: risk.OutcomeStepUp, Reason: "new_merchant_high_amount", Enabled: true},
		{ID: "casino", Expression: `merchant.id == "mch_casino"`, Outcome: risk.OutcomeDecline, Reason: "blocked_merchant", Enabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetWalletRules(bg, e.user.ID, e.wallet.ID, []risk.Rule{{ID: "bad", Expression: "payment.amount +", Outcome: risk.OutcomeDecline, Reason: "x", Enabled: true}}); !errors.Is(err, wallet.ErrInvalid) {
		t.Fatalf("invalid rule saved: %v", err)
	}
	p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 2500)})
	if err != nil || p.Status != wallet.StatusHeld || p.Risk.Outcome != risk.OutcomeStepUp {
		t.Fatalf("big first payment: %+v, %v", p, err)
	}
	_, err = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, protocol.Merchant{ID: "mch_casino"}, 10)})
	if code(err) != "risk_declined" {
		t.Fatalf("casino: %v", err)
	}
	// A rule that would approve cannot lift a budget.
	if _, err := e.svc.SetWalletRules(bg, e.user.ID, e.wallet.ID, []risk.Rule{{ID: "all-ok", Expression: "true", Outcome: risk.OutcomeApprove, Reason: "trusted", Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 9_000)})
	if code(err) != protocol.CodeBudgetExceeded {
		t.Fatalf("over budget with an approving rule: %v", err)
	}
}
