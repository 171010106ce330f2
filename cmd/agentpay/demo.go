package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
no money twice and a chain of transfers fails as one.`,
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
	if err := d.evidence(ctx); err != nil {
		return err
	}
	d.say("\nNext: `agentpay serve`, then the walk-through in README.md.")
	return nil
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
