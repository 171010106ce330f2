package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/sdk"
	"github.com/agentpay/agentpay/wallet"
)

// benchWallet measures authorized AI Wallet payments over HTTP: each is an
// RFC 9421-signed POST /v1/payments carrying a closed payment mandate, so
// the server verifies two Ed25519 signatures, evaluates the mandate and
// the risk rules (the platform defaults without the per-agent velocity
// rule) and commits the payment's linked chain. Agents sign their closed
// mandates before the clock starts (that is the agents' work); they sign
// each request while it runs, as real agents do.
func benchWallet(ctx context.Context, cmd *cobra.Command, dir string, agents, concurrency, serviceCallers int, duration time.Duration) error {
	out := cmd.OutOrStdout()
	var rules []risk.Rule
	for _, r := range risk.DefaultPlatformRules() {
		if r.ID != "platform.velocity" {
			rules = append(rules, r)
		}
	}
	const platform = "agentpay.bench"
	n, err := startNode(ctx, nodeConfig{DataDir: filepath.Join(dir, "wallet"), Addr: "127.0.0.1:0", PlatformID: platform, WalletRules: rules, PreallocateWAL: true})
	if err != nil {
		return err
	}
	defer n.close(context.Background())
	wo, err := newWalletOwner(ctx, n.URL(), n.AdminSecret, platform, "bench", 1<<50)
	if err != nil {
		return err
	}
	userKey, user, owner, w, claims := wo.key, wo.user, wo.client, wo.wallet, wo.claims
	type agent struct {
		id      string
		key     *protocol.Ed25519PrivateKey
		hash    string
		client  *sdk.Client
		queue   [][]byte // for the run over HTTP
		service [][]byte // for the run in the service
	}
	// Closed mandates enough for the runs' duration at rates well above
	// what this machine makes: 5,000/s over HTTP, 30,000/s in the service.
	secs := max(duration.Seconds(), 0.1)
	perAgent := 100 + int(5_000*secs)/agents // for the run over HTTP
	perService := 0                          // and for the run in the service
	if serviceCallers > 0 {
		perService = 100 + int(30_000*secs)/agents
	}
	as := make([]*agent, agents)
	for i := range as {
		k, err := protocol.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return err
		}
		cnf, _ := protocol.NewConfirmation(k.PublicKey())
		a := &agent{id: fmt.Sprintf("%sbench%d", wallet.PrefixAgent, i), key: k, client: sdk.New(n.URL(), "", sdk.WithAgentKey(k))}
		cred, err := protocol.Sign(userKey, &protocol.AgentCredential{Claims: claims(user.ID, a.id, time.Hour), Cnf: cnf})
		if err != nil {
			return err
		}
		if _, err := owner.RegisterAgent(ctx, "", string(cred)); err != nil {
			return err
		}
		open, err := protocol.Sign(userKey, &protocol.OpenPaymentMandate{Claims: claims(user.ID, a.id, time.Hour), Cnf: cnf,
			PaymentInstrument: protocol.PaymentInstrument{ID: w.ID, Type: protocol.PaymentInstrumentWallet},
			Constraints: protocol.Constraints{
				&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 1 << 40},
				&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 1 << 40, Period: protocol.PeriodDay},
				&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 1000},
			}})
		if err != nil {
			return err
		}
		if _, err := owner.IssueMandate(ctx, "", string(open)); err != nil {
			return err
		}
		a.hash = protocol.HashJWS(open)
		as[i] = a
	}
	fmt.Fprintf(out, "wallet payments: signing %d closed mandates for %d agents...\n", (perAgent+perService)*agents, agents)
	// 64 payees: the platform's review of more than 500.00 a day from one
	// wallet to one payee would otherwise hold most payments.
	payees := make([]protocol.Merchant, 64)
	for i := range payees {
		payees[i] = protocol.Merchant{ID: fmt.Sprintf("mch_bench%02d", i)}
	}
	for _, a := range as {
		for j := range perAgent + perService {
			cm, err := protocol.Sign(a.key, &protocol.ClosedPaymentMandate{Claims: claims(a.id, "", 30*time.Minute),
				TransactionID: protocol.HashJWS(fmt.Appendf(nil, "%s-%d", a.id, j)), Payee: payees[j%len(payees)],
				PaymentAmount:     protocol.Money{Amount: 31, Currency: "USD", Scale: 2},
				PaymentInstrument: protocol.PaymentInstrument{ID: w.ID, Type: protocol.PaymentInstrumentWallet},
				OpenMandateHash:   a.hash, Modality: protocol.HumanNotPresent})
			if err != nil {
				return err
			}
			if j < perAgent {
				a.queue = append(a.queue, cm)
			} else {
				a.service = append(a.service, cm)
			}
		}
	}
	// Warm up: each agent's first payment opens the payee and day accounts.
	for _, a := range as {
		if _, err := a.client.Pay(ctx, string(a.queue[0]), "", nil); err != nil {
			return fmt.Errorf("bench: warm-up payment: %w", err)
		}
		a.queue = a.queue[1:]
	}
	before := n.wallet.Stats()
	var done, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range concurrency {
		a := as[g%agents]
		wg.Go(func() {
			var mine []time.Duration
			for k := g / agents; time.Now().Before(deadline); k += (concurrency + agents - 1) / agents {
				if k >= len(a.queue) {
					break
				}
				t0 := time.Now()
				if _, err := a.client.Pay(ctx, string(a.queue[k]), "", nil); err != nil {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
				done.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := n.wallet.Stats()
	paid := after.Payments - before.Payments
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Fprintf(out, "%-44s %9d payments in %8.3fs = %10.0f payments/s  p50 %7.2fms  p99 %7.2fms  (%d failed)\n",
		fmt.Sprintf("wallet payments over HTTP, %d concurrent", concurrency), done.Load(), elapsed.Seconds(),
		float64(done.Load())/elapsed.Seconds(), float64(pct(0.5))/1e6, float64(pct(0.99))/1e6, failed.Load())
	if paid > 0 {
		printStages(out, before, after, "the RFC 9421 request signature is verified in the API before these stages")
	}
	if failed.Load() > 0 {
		return fmt.Errorf("bench: %d payments failed", failed.Load())
	}
	if serviceCallers <= 0 {
		return nil
	}

	// The same payments, made by callers of the service itself: what
	// BenchmarkPay measures (docs/benchmarks.md), on this machine.
	var jobs []payJob
	for i := 0; ; i++ {
		more := false
		for _, a := range as {
			if i < len(a.service) {
				jobs = append(jobs, payJob{a.id, a.service[i]})
				more = true
			}
		}
		if !more {
			break
		}
	}
	return benchWalletService(ctx, out, n.wallet, jobs, serviceCallers, duration)
}

// payJob is one payment of the run in the service: an agent and its
// signed closed mandate.
type payJob struct {
	agent  string
	closed []byte
}

// benchWalletService makes the payments of jobs, in order, from callers
// concurrent callers of svc until they run out or duration has passed,
// and prints the rate, the process's CPU time per payment and the time
// per stage.
func benchWalletService(ctx context.Context, out io.Writer, svc *wallet.Service, jobs []payJob, callers int, duration time.Duration) error {
	before := svc.Stats()
	cpu0 := proc.CPU()
	var next, failed, held atomic.Int64
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if i >= int64(len(jobs)) {
					return
				}
				p, err := svc.Pay(ctx, jobs[i].agent, wallet.PayRequest{ClosedMandate: jobs[i].closed})
				switch {
				case err != nil:
					failed.Add(1)
				case p.Status != wallet.StatusCompleted:
					held.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := proc.CPU() - cpu0
	after := svc.Stats()
	paid := after.Payments - before.Payments
	if paid == 0 {
		return fmt.Errorf("bench: no payment made in the service (%d failed)", failed.Load())
	}
	fmt.Fprintf(out, "%-44s %9d payments in %8.3fs = %10.0f payments/s  %.0f µs of CPU each  (%d held, %d failed)\n",
		fmt.Sprintf("wallet payments in the service, %d callers", callers), paid, elapsed.Seconds(),
		float64(paid)/elapsed.Seconds(), float64(cpu.Microseconds())/float64(paid), held.Load(), failed.Load())
	printStages(out, before, after, "wall time per stage includes waiting: for a batch of signatures, for the batch's commit")
	if failed.Load() > 0 {
		return fmt.Errorf("bench: %d payments failed", failed.Load())
	}
	return nil
}

// printStages prints the service's wall time per payment in each stage
// between two of its Stats, and a note on them.
func printStages(out io.Writer, before, after wallet.Stats, note string) {
	paid := float64(after.Payments - before.Payments)
	fmt.Fprintf(out, "%-44s", "  per payment in the service (wall, µs):")
	for i, name := range wallet.StageNames {
		fmt.Fprintf(out, " %s %.0f", name, float64(after.Nanos[i]-before.Nanos[i])/paid/1e3)
	}
	fmt.Fprintf(out, "\n  (%s)\n", note)
}

// walletOwner is a user with a funded USD wallet on a fresh server, what
// the wallet runs (and their tests) start from: the user's signing key,
// its API client, and the claims its objects and its agents' carry.
type walletOwner struct {
	key    *protocol.Ed25519PrivateKey
	user   *protocol.WalletUser
	client *sdk.Client
	wallet *protocol.Wallet
	// claims returns the claims of an object issued by iss about sub,
	// valid for life, with a time-ordered jti as the SDK makes them (the
	// platform stores the records of payments made at one time together).
	claims func(iss, sub string, life time.Duration) protocol.Claims
}

// newWalletOwner creates the USD asset with the admin key adminSecret,
// then a user named name with a wallet holding funds (minor units), on
// the server at url whose platform id is platform.
func newWalletOwner(ctx context.Context, url, adminSecret, platform, name string, funds uint64) (*walletOwner, error) {
	admin := sdk.New(url, adminSecret)
	if _, err := admin.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		return nil, err
	}
	key, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk, _ := json.Marshal(key.PublicKey().JWK())
	user, err := admin.CreateUser(ctx, "", protocol.CreateUserRequest{Name: name, Key: jwk})
	if err != nil {
		return nil, err
	}
	owner := sdk.New(url, user.APIKey.Secret)
	w, err := owner.CreateWallet(ctx, "", protocol.CreateWalletRequest{Currency: "USD"})
	if err != nil {
		return nil, err
	}
	if _, err := owner.TopUp(ctx, name+"-funds", w.ID, protocol.TopUpRequest{Amount: funds, Source: "ok-" + name}); err != nil {
		return nil, err
	}
	now := time.Now()
	claims := func(iss, sub string, life time.Duration) protocol.Claims {
		return protocol.Claims{Issuer: iss, Subject: sub, Audience: protocol.Audience{platform}, IssuedAt: now.Add(-time.Second).Unix(),
			Expiry: now.Add(life).Unix(), ID: protocol.NewJTI(time.Now(), nil)}
	}
	return &walletOwner{key: key, user: user, client: owner, wallet: w, claims: claims}, nil
}
