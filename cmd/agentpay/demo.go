package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

func newDemoCommand(cf *clientFlags) *cobra.Command {
	var remote bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Tell AgentPay's story against a server, step by step",
		Long: `Run a short story against an in-process server on a temporary data directory
(or, with --remote, against the server at --url with --api-key) and print what
happens in plain words: a wallet is funded, an agent pays a merchant, a
payment is held and captured in part, an overdraft is refused, a retry moves
no money twice and a chain of transfers fails as one. Then the AI Wallet:
Alice gives her agent a signed mandate, the server keeps every payment
within it, holds one for her approval and stops the agent when she revokes
the mandate. Last, the evidence log proves a payment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			url, key := cf.url, cf.apiKey
			if !remote {
				dir, err := os.MkdirTemp("", "agentpay-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				n, err := startNode(ctx, nodeConfig{DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0"})
				if err != nil {
					return err
				}
				defer n.close(context.Background())
				url, key = n.URL(), n.AdminSecret
			}
			d := &demo{out: cmd.OutOrStdout(), c: sdk.New(url, key)}
			return d.run(ctx, url)
		},
	}
	cmd.Flags().BoolVar(&remote, "remote", false, "run against the server at --url instead of an in-process one")
	return cmd
}

type demo struct {
	out  io.Writer
	c    *sdk.Client
	step int
	// paid is the agent's first weather API call and its batch's receipt.
	paid    protocol.Transfer
	receipt string
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) chapter(title string) {
	d.step++
	fmt.Fprintf(d.out, "\n%d. %s\n", d.step, title)
}

// money formats a balance in cents (a base-10 string) as dollars.
func money(cents string) string {
	n, err := strconv.ParseUint(cents, 10, 64)
	if err != nil {
		return cents + "c"
	}
	return fmt.Sprintf("$%d.%02d", n/100, n%100)
}

// dollars formats an amount in cents as dollars.
func dollars(cents int64) string {
	if cents < 0 {
		return "-" + dollars(-cents)
	}
	return fmt.Sprintf("$%d.%02d", cents/100, cents%100)
}

func (d *demo) balance(ctx context.Context, name, id string) error {
	a, err := d.c.GetAccount(ctx, id)
	if err != nil {
		return err
	}
	b := a.Balances
	d.say("   %-10s credits %-8s debits %-8s held %s",
		name+":", money(b.CreditsPosted), money(b.DebitsPosted), money(b.DebitsPending))
	return nil
}

func ptr(v uint64) *uint64 { return &v }

func (d *demo) run(ctx context.Context, url string) error {
	d.say("AgentPay demo against %s", url)
	d.say("Amounts are integers in cents; every transfer debits one account and credits another.")

	d.chapter("Register US dollars as ledger 1, with 2 decimal places.")
	if _, err := d.c.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		return err
	}
	d.say("   done: amounts on ledger 1 are cents.")

	d.chapter("Open three accounts: the bank (where money comes from), Alice's wallet, a weather API merchant.")
	res, err := d.c.CreateAccounts(ctx, "", []protocol.Account{
		{Ledger: 1, Code: 100},
		{Ledger: 1, Code: 200, Flags: []string{protocol.AccountFlagDebitsMustNotExceedCredits}},
		{Ledger: 1, Code: 300},
	})
	if err != nil {
		return err
	}
	bank, wallet, shop := res.Results[0].Account.ID, res.Results[1].Account.ID, res.Results[2].Account.ID
	d.say("   bank %s\n   wallet %s (can never go below zero)\n   merchant %s", bank, wallet, shop)

	d.chapter("Alice funds her wallet with $20.00.")
	if _, err := d.c.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: bank, CreditAccountID: wallet,
		Amount: ptr(2000), Ledger: 1, Code: 1}); err != nil {
		return err
	}
	if err := d.balance(ctx, "wallet", wallet); err != nil {
		return err
	}

	d.chapter("Her agent calls the weather API three times at $0.31 each, in one batch request.")
	call := protocol.Transfer{DebitAccountID: wallet, CreditAccountID: shop, Amount: ptr(31), Ledger: 1, Code: 2}
	batch, err := d.c.CreateTransfers(ctx, "", []protocol.Transfer{call, call, call})
	if err != nil {
		return err
	}
	d.say("   %d accepted, %d rejected; each is its own transfer with its own id.", batch.Accepted, batch.Rejected)
	if batch.Results[0].Transfer != nil {
		d.paid, d.receipt = *batch.Results[0].Transfer, batch.Receipt
	}
	if err := d.balance(ctx, "wallet", wallet); err != nil {
		return err
	}

	d.chapter("The agent books a table: $5.00 is held (a pending transfer that expires in 10 minutes).")
	hold, err := d.c.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: wallet, CreditAccountID: shop,
		Amount: ptr(500), Ledger: 1, Code: 3, Flags: []string{protocol.TransferFlagPending}, TimeoutSeconds: 600})
	if err != nil {
		return err
	}
	if err := d.balance(ctx, "wallet", wallet); err != nil {
		return err
	}
	d.say("   The merchant captures only $3.20 of it; the other $1.80 goes back to Alice at once.")
	if _, err := d.c.CreateTransfer(ctx, "", protocol.Transfer{PendingID: hold.ID, Amount: ptr(320),
		Flags: []string{protocol.TransferFlagPostPending}}); err != nil {
		return err
	}
	if err := d.balance(ctx, "wallet", wallet); err != nil {
		return err
	}

	d.chapter("The agent tries to spend $50.00, more than the wallet holds.")
	_, err = d.c.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: wallet, CreditAccountID: shop,
		Amount: ptr(5000), Ledger: 1, Code: 2})
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("demo: the overdraft was not refused: %v", err)
	}
	d.say("   refused with %d %s: %s. Nothing moved.", apiErr.Status, apiErr.Body.Code, apiErr.Body.Message)

	d.chapter("The network drops the answer to a $0.31 payment and the agent retries with the same idempotency key.")
	key := sdk.NewIdempotencyKey()
	first, err := d.c.CreateTransfer(ctx, key, call)
	if err != nil {
		return err
	}
	again, err := d.c.CreateTransfer(ctx, key, call)
	if err != nil {
		return err
	}
	d.say("   first answer %s, retry answer %s: the same transfer, paid once.", first.ID, again.ID)
	if err := d.balance(ctx, "wallet", wallet); err != nil {
		return err
	}

	d.chapter("A payment and its fee travel as one linked chain: if one leg fails, neither happens.")
	chain, err := d.c.CreateTransfers(ctx, "", []protocol.Transfer{
		{DebitAccountID: wallet, CreditAccountID: shop, Amount: ptr(1000), Ledger: 1, Code: 2, Flags: []string{protocol.TransferFlagLinked}},
		{DebitAccountID: wallet, CreditAccountID: bank, Amount: ptr(1000), Ledger: 1, Code: 4},
	})
	if err != nil {
		return err
	}
	for _, r := range chain.Results {
		d.say("   transfer %d: %s", r.Index, r.Result)
	}
	if err := d.balance(ctx, "wallet", wallet); err != nil {
		return err
	}

	d.chapter("Where the money is now.")
	for _, a := range []struct{ name, id string }{{"bank", bank}, {"wallet", wallet}, {"merchant", shop}} {
		if err := d.balance(ctx, a.name, a.id); err != nil {
			return err
		}
	}
	list, err := d.c.AccountTransfers(ctx, wallet, "", 100)
	if err != nil {
		return err
	}
	d.say("   The wallet's history holds %d transfers; every one debits and credits the same amount,", len(list.Data))
	d.say("   so the bank's debits always equal everyone else's credits.")
	if err := d.aiWallet(ctx, url); err != nil {
		return err
	}
	if err := d.evidence(ctx); err != nil {
		return err
	}
	d.say("\nNext: `agentpay serve`, then the walk-through in README.md.")
	return nil
}

// demoPlatform is the AI Wallet's platform id on a server that `agentpay
// serve` runs (nodeConfig.PlatformID's default): the audience of
// everything Alice and her agent sign.
const demoPlatform = "agentpay.local"

// weatherAPI is the payee of the agent's wallet payments.
var weatherAPI = protocol.Merchant{ID: "mch_weather", Name: "Weather API"}

// party signs the objects of one side of the AI Wallet chapters: Alice
// (her agent's credential and its mandate) or her agent (its payments).
type party struct {
	id  string
	key *protocol.Ed25519PrivateKey
}

func (p party) claims(sub string, life time.Duration) protocol.Claims {
	now := time.Now()
	return protocol.Claims{Issuer: p.id, Subject: sub, Audience: protocol.Audience{demoPlatform},
		IssuedAt: now.Add(-time.Second).Unix(), Expiry: now.Add(life).Unix(), ID: "jti_" + rand.Text()}
}

func (p party) sign(obj protocol.Object) (string, error) {
	b, err := protocol.Sign(p.key, obj)
	if err != nil {
		return "", fmt.Errorf("demo: sign: %w", err)
	}
	return string(b), nil
}

// totalLeft is what remains of the mandate's total budget in limits.
func totalLeft(limits []protocol.Limit) (int64, bool) {
	for _, l := range limits {
		if l.Name == protocol.PeriodTotal {
			return l.Remaining, true
		}
	}
	return 0, false
}

// remaining formats totalLeft.
func remaining(limits []protocol.Limit) string {
	if n, ok := totalLeft(limits); ok {
		return dollars(n)
	}
	return "(not stated)"
}

// tally formats counts by status in a fixed order: "6 completed, 1 approved".
func tally(count map[string]int) string {
	var parts []string
	for _, s := range []string{"completed", "held", "approved", "declined", "expired"} {
		if count[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// walletStory is the state of the AI Wallet chapters.
type walletStory struct {
	*demo
	owner   *sdk.Client // Alice's API key
	agent   *sdk.Client // the agent's signed requests, no API key
	alice   party
	shopper party
	wallet  *protocol.Wallet
	mandate *protocol.WalletMandate
}

// pay has the agent pay the weather API amount cents under the mandate,
// with a closed payment mandate it signs.
func (w *walletStory) pay(ctx context.Context, amount int64) (*protocol.WalletPayment, error) {
	m := w.mandate
	closed, err := w.shopper.sign(&protocol.ClosedPaymentMandate{Claims: w.shopper.claims("", 15*time.Minute),
		TransactionID: protocol.HashJWS([]byte("weather-call-" + rand.Text())), Payee: weatherAPI,
		PaymentAmount:     protocol.Money{Amount: amount, Currency: m.Currency, Scale: m.Scale},
		PaymentInstrument: protocol.PaymentInstrument{ID: m.Wallet, Type: protocol.PaymentInstrumentWallet},
		OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent})
	if err != nil {
		return nil, err
	}
	return w.agent.Pay(ctx, closed, "data", nil)
}

// refused has the agent try to pay amount cents and tells the refusal; a
// payment that goes through is an error of the demo.
func (w *walletStory) refused(ctx context.Context, amount int64) error {
	p, err := w.pay(ctx, amount)
	if err == nil {
		return fmt.Errorf("demo: the payment of %s was not refused: %s", dollars(amount), p.Status)
	}
	e, ok := sdk.AsError(err)
	if !ok {
		return err
	}
	w.say("   refused with %d %s: %s.", e.Status, e.Body.Code, strings.TrimSuffix(e.Body.Message, "."))
	return nil
}

// available tells what the wallet has on hold and can pay now.
func (w *walletStory) available(ctx context.Context, lead string) error {
	got, err := w.owner.GetWallet(ctx, w.wallet.ID)
	if err != nil {
		return err
	}
	held := "0"
	if got.Balances != nil {
		held = got.Balances.DebitsPending
	}
	w.say("   %s the wallet has %s on hold and can pay %s.", lead, money(held), money(got.Available))
	return nil
}

// aiWallet tells the AI Wallet chapters through the SDK: Alice's wallet,
// her agent and its mandate, the payments the server lets through, holds
// or refuses, and the revocation. A server without the AI Wallet skips
// them.
func (d *demo) aiWallet(ctx context.Context, url string) error {
	ukey, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return err
	}
	jwk, err := json.Marshal(ukey.PublicKey().JWK())
	if err != nil {
		return err
	}
	user, err := d.c.CreateUser(ctx, "", protocol.CreateUserRequest{Name: "Alice", Key: jwk})
	if e, ok := sdk.AsError(err); ok && e.Status == http.StatusNotFound && e.Body.Code == "wallet_disabled" {
		d.say("\nThe AI Wallet chapters are skipped: this server answers %d %s.", e.Status, e.Body.Code)
		return nil
	}
	if err != nil {
		return err
	}
	d.chapter("The AI Wallet: Alice becomes a user with her own key, opens a USD wallet and tops it up with $20.00.")
	if user.APIKey == nil || user.APIKey.Secret == "" {
		return fmt.Errorf("demo: the new user %s came without an API key", user.ID)
	}
	w := &walletStory{demo: d, owner: sdk.New(url, user.APIKey.Secret), alice: party{id: user.ID, key: ukey}}
	d.say("   user %s, with an API key of her own; her key %s signs what she allows.", user.ID, user.KeyID)
	if w.wallet, err = w.owner.CreateWallet(ctx, "", protocol.CreateWalletRequest{Currency: "USD"}); err != nil {
		return err
	}
	top, err := w.owner.TopUp(ctx, sdk.NewIdempotencyKey(), w.wallet.ID, protocol.TopUpRequest{Amount: 2000, Source: "ok-card"})
	if err != nil {
		return err
	}
	d.say("   wallet %s: the %s rail charged her card %s (ref %s).", w.wallet.ID, top.Rail, dollars(int64(top.Amount)), top.RailRef)
	if err := w.available(ctx, "Now"); err != nil {
		return err
	}

	d.chapter("She registers her shopping agent and gives it a mandate, both signed with her key:")
	d.say("   $5.00 in total, at most $1.00 a payment, only the weather API, her approval above $0.75.")
	akey, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return err
	}
	cnf, err := protocol.NewConfirmation(akey.PublicKey())
	if err != nil {
		return err
	}
	_, suffix, _ := strings.Cut(user.ID, "_") // one agent id per user, so --remote can run again
	w.shopper = party{id: "agt_shopper_" + strings.ToLower(suffix), key: akey}
	cred, err := w.alice.sign(&protocol.AgentCredential{Claims: w.alice.claims(w.shopper.id, 24*time.Hour), Cnf: cnf, Name: "shopper"})
	if err != nil {
		return err
	}
	ag, err := w.owner.RegisterAgent(ctx, "", cred)
	if err != nil {
		return err
	}
	open, err := w.alice.sign(&protocol.OpenPaymentMandate{Claims: w.alice.claims(ag.ID, 30*24*time.Hour), Cnf: cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: w.wallet.ID, Type: protocol.PaymentInstrumentWallet},
		Constraints: []protocol.Constraint{
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 500},
			&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 100},
			&protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{weatherAPI}},
			&protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 75},
		}})
	if err != nil {
		return err
	}
	if w.mandate, err = w.owner.IssueMandate(ctx, "", open); err != nil {
		return err
	}
	w.agent = sdk.New(url, "", sdk.WithAgentKey(akey))
	d.say("   agent %s, key %s", ag.ID, ag.ActiveKeyID)
	d.say("   mandate %s; what remains: %s.", w.mandate.ID, remaining(w.mandate.Limits))

	d.chapter("The agent pays the weather API $0.31, signing the request with its own key.")
	p, err := w.pay(ctx, 31)
	if err != nil {
		return err
	}
	d.say("   payment %s: %s; what remains: %s.", p.ID, p.Status, remaining(p.Limits))

	d.chapter("The agent tries to pay $2.00.")
	if err := w.refused(ctx, 200); err != nil {
		return err
	}
	if err := w.available(ctx, "Nothing moved:"); err != nil {
		return err
	}

	d.chapter("The agent pays $0.90, above Alice's approval threshold.")
	held, err := w.pay(ctx, 90)
	if err != nil {
		return err
	}
	d.say("   payment %s: %s (%s); what remains: %s.", held.ID, held.Status, held.HoldReason, remaining(held.Limits))
	if err := w.available(ctx, "Funds held:"); err != nil {
		return err
	}

	d.chapter("Alice finds it among her held payments and approves it.")
	list, err := w.owner.ListPayments(ctx, sdk.PaymentFilter{Agent: ag.ID, Status: "held"})
	if err != nil {
		return err
	}
	approved, err := w.owner.ApprovePayment(ctx, "", held.ID)
	if err != nil {
		return err
	}
	d.say("   %d held; payment %s: %s.", len(list.Data), approved.ID, approved.Status)
	if err := w.available(ctx, "The money moved:"); err != nil {
		return err
	}

	d.chapter("The agent keeps calling the weather API at $0.75 while the budget lasts, then once more.")
	m, err := w.owner.GetMandate(ctx, w.mandate.ID)
	if err != nil {
		return err
	}
	calls, statuses, limits := 0, map[string]int{}, m.Limits
	for ; calls < 20; calls++ { // $5.00 lasts for 6 at most
		if left, ok := totalLeft(limits); !ok || left < 75 {
			break
		}
		p, err := w.pay(ctx, 75)
		if err != nil {
			return err
		}
		statuses[p.Status]++
		limits = p.Limits
	}
	d.say("   %d payments (%s); what remains: %s.", calls, tally(statuses), remaining(limits))
	if err := w.refused(ctx, 75); err != nil {
		return err
	}
	if m, err = w.owner.GetMandate(ctx, w.mandate.ID); err != nil {
		return err
	}
	d.say("   Nothing moved; what remains: %s.", remaining(m.Limits))

	d.chapter("Alice revokes the mandate; the agent tries to pay $0.31 again.")
	rm, err := w.owner.RevokeMandate(ctx, "", w.mandate.ID)
	if err != nil {
		return err
	}
	at := rm.RevokedAt
	if ts, err := time.Parse(time.RFC3339Nano, at); err == nil {
		at = ts.UTC().Format(time.RFC3339)
	}
	d.say("   mandate %s revoked at %s.", rm.ID, at)
	if err := w.refused(ctx, 31); err != nil {
		return err
	}
	all, err := w.owner.ListPayments(ctx, sdk.PaymentFilter{Agent: ag.ID})
	if err != nil {
		return err
	}
	count, spent := map[string]int{}, int64(0)
	for _, p := range all.Data {
		count[p.Status]++
		if p.Status == "completed" || p.Status == "approved" {
			spent += p.Amount
		}
	}
	d.say("   Alice's list of the agent's payments: %s; %s paid in all.", tally(count), dollars(spent))
	return w.available(ctx, "Now")
}

// evidence tells the last chapter: every batch above is a leaf of a signed,
// tamper-evident log that anyone can check.
func (d *demo) evidence(ctx context.Context) error {
	d.chapter("All of it is on the record: every committed batch is a leaf of a tamper-evident log.")
	key, err := d.c.LogKey(ctx)
	if err != nil {
		d.say("   (this server publishes no log key: %v)", err)
		return nil
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return fmt.Errorf("demo: log key: %w", err)
	}
	var signed []byte
	for range 50 { // the signer runs every second
		signed, err = d.c.LogCheckpoint(ctx)
		if lines := bytes.SplitN(signed, []byte("\n"), 3); err == nil && len(lines) > 1 && !bytes.Equal(lines[1], []byte("0")) {
			break // a checkpoint with at least one batch
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("demo: log checkpoint: %w", err)
	}
	origin, _, _ := strings.Cut(string(signed), "\n")
	cp, _, err := evidence.OpenCheckpoint(signed, origin, verifier)
	if err != nil {
		return fmt.Errorf("demo: checkpoint: %w", err)
	}
	d.say("   The log %q holds %d batches; its root is %s,", cp.Origin, cp.Size, cp.Root)
	d.say("   and the checkpoint's signature verifies with the log's published key.")
	d.say("   Anyone can fetch checkpoints, tiles and proofs from /v1/log/ and check that no")
	d.say("   record was changed or removed since.")
	if d.receipt == "" {
		return nil
	}

	d.chapter("The agent checks its own payment: the receipt, then the proof into a signed checkpoint.")
	if err := d.c.TrustLog(strings.TrimSpace(key), origin); err != nil {
		return fmt.Errorf("demo: trust log: %w", err)
	}
	r, err := d.c.VerifyReceipt(d.receipt, d.paid)
	if err != nil {
		return fmt.Errorf("demo: receipt: %w", err)
	}
	d.say("   The batch response carried a receipt signed by the log: log entry %d holds the %d calls,", r.LogIndex, len(r.Items))
	var ev *sdk.TransferEvidence
	for range 50 { // until a checkpoint covers the payment's batch
		if ev, err = d.c.ProveTransfer(ctx, d.receipt, d.paid.ID); !errors.Is(err, sdk.ErrProofNotReady) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("demo: proof: %w", err)
	}
	d.say("   and %s is proven into the checkpoint of %d entries (root %s):", d.paid.ID, ev.LogSize, ev.Root)
	d.say("   its leaf, the batch's tree, the log's tree and the signature all check out.")
	d.say("   The client keeps that checkpoint and will refuse any later one that does not extend it.")
	d.say("   An operator can check everything at once with `agentpay audit`.")
	return nil
}
