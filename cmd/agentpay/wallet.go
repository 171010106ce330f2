package main

// AI Wallet commands for owners and the operator: users, wallets, agents,
// mandates and payments, and `keys new` to make the Ed25519 key a user or
// an agent signs with. Each prints a short human-readable answer, or the
// API's JSON with --json.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// keyFileBytesMax bounds a key file the CLI reads (a JWK or a seed).
const keyFileBytesMax = 16 << 10

// newWalletCommands returns the AI Wallet client commands.
func newWalletCommands(cf *clientFlags) []*cobra.Command {
	return []*cobra.Command{usersCommand(cf), walletsCommand(cf), agentsCommand(cf), mandatesCommand(cf), paymentsCommand(cf)}
}

// registerKeysNew adds `keys new` to root's keys command (making one if
// root has none).
func registerKeysNew(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "keys" {
			c.Short += "; make a user's or an agent's signing key (new)"
			c.AddCommand(keysNewCommand())
			return
		}
	}
	keys := &cobra.Command{Use: "keys", Short: "Manage keys"}
	keys.AddCommand(keysNewCommand())
	root.AddCommand(keys)
}

// walletCall wraps a wallet command body: it builds the client and prints
// what the body returns, as JSON with --json and for people otherwise.
func walletCall(cf *clientFlags, asJSON *bool, body func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		v, err := body(cmd, c, args)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), v)
		}
		return printHuman(cmd.OutOrStdout(), v)
	}
}

// group returns a command group with a persistent --json flag.
func group(use, short string, asJSON *bool) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.PersistentFlags().BoolVar(asJSON, "json", false, "print the API's JSON answer")
	return cmd
}

func usersCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := group("users", "Create wallet owners (admin) and show them", &asJSON)
	var name, keyFile, idem string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user from its public key; prints the user id and its API key secret (shown once)",
		Args:  cobra.NoArgs,
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			if keyFile == "" {
				return nil, errors.New("--key is required: a public JWK file, or a key file from `agentpay keys new`")
			}
			jwk, err := readPublicJWK(keyFile)
			if err != nil {
				return nil, err
			}
			return c.CreateUser(cmd.Context(), idem, protocol.CreateUserRequest{Name: name, Key: jwk})
		}),
	}
	create.Flags().StringVar(&name, "name", "", "the user's name")
	create.Flags().StringVar(&keyFile, "key", "", "the user's public JWK (a JSON file), or its key file from `keys new` (required)")
	create.Flags().StringVar(&idem, "idempotency-key", "", "idempotency key (default: a fresh one)")
	get := &cobra.Command{
		Use: "get ID", Short: "Show a user", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetUser(cmd.Context(), args[0])
		}),
	}
	cmd.AddCommand(create, get)
	return cmd
}

func walletsCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := group("wallets", "Open, show and fund wallets", &asJSON)
	var req protocol.CreateWalletRequest
	var idem, owner string
	create := &cobra.Command{
		Use: "create", Short: "Open a wallet in a registered currency", Args: cobra.NoArgs,
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.CreateWallet(cmd.Context(), idem, req)
		}),
	}
	create.Flags().StringVar(&req.Currency, "currency", "", "currency code, a registered asset (required)")
	create.Flags().StringVar(&req.Owner, "owner", "", "the owner's user id (required with an admin key)")
	create.Flags().StringVar(&idem, "idempotency-key", "", "idempotency key (default: a fresh one)")
	get := &cobra.Command{
		Use: "get ID", Short: "Show a wallet with its balances", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetWallet(cmd.Context(), args[0])
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "List wallets", Args: cobra.NoArgs,
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.ListWallets(cmd.Context(), sdk.WalletFilter{Owner: owner})
		}),
	}
	list.Flags().StringVar(&owner, "owner", "", "the owner's user id (admin keys)")
	var top protocol.TopUpRequest
	var topKey string
	topup := &cobra.Command{
		Use: "topup ID", Short: "Charge a funding source and credit the wallet", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.TopUp(cmd.Context(), topKey, args[0], top)
		}),
	}
	topup.Flags().Uint64Var(&top.Amount, "amount", 0, "amount in minor units (required)")
	topup.Flags().StringVar(&top.Source, "source", "", "funding source on the rail, e.g. ok-card on the test rail (required)")
	topup.Flags().StringVar(&top.Rail, "rail", "", "funding rail (default test)")
	topup.Flags().StringVar(&topKey, "key", "", "the movement's idempotency key: the same key moves money once (default: a fresh one)")
	var wd protocol.WithdrawalRequest
	var wdKey string
	withdraw := &cobra.Command{
		Use: "withdraw ID", Short: "Debit the wallet and pay out to a destination", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.Withdraw(cmd.Context(), wdKey, args[0], wd)
		}),
	}
	withdraw.Flags().Uint64Var(&wd.Amount, "amount", 0, "amount in minor units (required)")
	withdraw.Flags().StringVar(&wd.Destination, "destination", "", "payout destination on the rail, e.g. ok-bank on the test rail (required)")
	withdraw.Flags().StringVar(&wd.Rail, "rail", "", "payout rail (default test)")
	withdraw.Flags().StringVar(&wdKey, "key", "", "the movement's idempotency key (default: a fresh one)")
	for _, c := range []*cobra.Command{topup, withdraw} {
		_ = c.MarkFlagRequired("amount")
	}
	_ = create.MarkFlagRequired("currency")
	_ = topup.MarkFlagRequired("source")
	_ = withdraw.MarkFlagRequired("destination")
	cmd.AddCommand(create, get, list, topup, withdraw)
	return cmd
}

func agentsCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := group("agents", "Show and revoke agents", &asJSON)
	get := &cobra.Command{
		Use: "get ID", Short: "Show an agent and its keys", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetAgent(cmd.Context(), args[0])
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke every key of an agent at once", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.RevokeAgent(cmd.Context(), "", args[0])
		}),
	}
	cmd.AddCommand(get, revoke)
	return cmd
}

func mandatesCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := group("mandates", "List, show and revoke open payment mandates", &asJSON)
	var f sdk.MandateFilter
	list := &cobra.Command{
		Use: "list", Short: "List mandates with what remains of their limits", Args: cobra.NoArgs,
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.ListMandates(cmd.Context(), f)
		}),
	}
	list.Flags().StringVar(&f.Agent, "agent", "", "only this agent's mandates")
	list.Flags().StringVar(&f.Owner, "owner", "", "the owner's user id (admin keys)")
	get := &cobra.Command{
		Use: "get ID", Short: "Show a mandate and what remains of its limits", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetMandate(cmd.Context(), args[0])
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a mandate at once", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.RevokeMandate(cmd.Context(), "", args[0])
		}),
	}
	cmd.AddCommand(list, get, revoke)
	return cmd
}

func paymentsCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := group("payments", "List, show, approve and decline agents' payments", &asJSON)
	var f sdk.PaymentFilter
	var all bool
	list := &cobra.Command{
		Use: "list", Short: "List payments, oldest first, a page at a time", Args: cobra.NoArgs,
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			page, err := c.ListPayments(cmd.Context(), f)
			if err != nil || !all {
				return page, err
			}
			// Every page, as one list.
			out := &protocol.WalletPaymentList{Data: page.Data}
			for g := f; page.NextCursor != ""; {
				g.After = page.NextCursor
				if page, err = c.ListPayments(cmd.Context(), g); err != nil {
					return nil, err
				}
				out.Data = append(out.Data, page.Data...)
			}
			return out, nil
		}),
	}
	list.Flags().BoolVar(&all, "all", false, "every page, not one")
	list.Flags().StringVar(&f.Agent, "agent", "", "only this agent's payments")
	list.Flags().StringVar(&f.Status, "status", "", "only payments in this status: completed, held, approved, declined or expired")
	list.Flags().StringVar(&f.Owner, "owner", "", "the owner's user id (admin keys)")
	list.Flags().StringVar(&f.After, "after", "", "cursor: next_cursor of the previous page")
	list.Flags().IntVar(&f.Limit, "limit", 0, "page size (default 100, at most 1000)")
	get := &cobra.Command{
		Use: "get ID", Short: "Show a payment and its decision", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetPayment(cmd.Context(), args[0])
		}),
	}
	approve := &cobra.Command{
		Use: "approve ID", Short: "Approve a held payment", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.ApprovePayment(cmd.Context(), "", args[0])
		}),
	}
	decline := &cobra.Command{
		Use: "decline ID", Short: "Decline a held payment (its limits are released)", Args: cobra.ExactArgs(1),
		RunE: walletCall(cf, &asJSON, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.DeclinePayment(cmd.Context(), "", args[0])
		}),
	}
	cmd.AddCommand(list, get, approve, decline)
	return cmd
}

func keysNewCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Make an Ed25519 key for a user or an agent: writes its private seed to --out, prints its public JWK",
		Long: "Makes an Ed25519 key pair. The private seed (32 bytes, base64url) is written to the --out file\n" +
			"with mode 0600; it is never printed. The public JWK is printed on stdout (give it, or the key\n" +
			"file, to `users create --key`), and the key id (RFC 7638 thumbprint) on stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			k, err := protocol.GenerateEd25519Key(rand.Reader)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("key file: %w (it is never overwritten)", err)
			}
			_, err = f.WriteString(base64.RawURLEncoding.EncodeToString(k.Seed()) + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(out)
				return fmt.Errorf("key file: %w", err)
			}
			if err := printJSON(cmd.OutOrStdout(), k.PublicKey().JWK()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "key id %s; private seed written to %s\n", k.KeyID(), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the private seed to (mode 0600; must not exist)")
	return cmd
}

// readKeyFile reads an Ed25519 private key written by `keys new`: its
// 32-byte seed in base64url (padded or not).
func readKeyFile(path string) (*protocol.Ed25519PrivateKey, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	return parseSeed(b)
}

func parseSeed(b []byte) (*protocol.Ed25519PrivateKey, error) {
	s := strings.TrimRight(strings.TrimSpace(string(b)), "=")
	seed, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("key file: not a base64url Ed25519 seed: %w", err)
	}
	return protocol.NewEd25519PrivateKey(seed)
}

// readPublicJWK reads a public JWK file, or a key file from `keys new`
// whose public JWK it derives.
func readPublicJWK(path string) (json.RawMessage, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		if _, err := protocol.ParseJWK([]byte(t)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return json.RawMessage(t), nil
	}
	k, err := parseSeed(b)
	if err != nil {
		return nil, fmt.Errorf("%s: neither a public JWK nor a key file: %w", path, err)
	}
	return json.Marshal(k.PublicKey().JWK())
}

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, keyFileBytesMax+1))
	if err != nil {
		return nil, err
	}
	if len(b) > keyFileBytesMax {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, keyFileBytesMax)
	}
	return b, nil
}

// printHuman prints a wallet answer for people.
func printHuman(w io.Writer, v any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
	switch x := v.(type) {
	case *protocol.WalletUser:
		line("user", x.ID)
		if x.Name != "" {
			line("name", x.Name)
		}
		line("key id", x.KeyID)
		if x.APIKey != nil {
			line("api key", x.APIKey.ID)
			if x.APIKey.Secret != "" {
				line("api key secret", x.APIKey.Secret+"  (shown once: store it now)")
			}
		}
	case *protocol.Wallet:
		line("wallet", x.ID)
		line("owner", x.Owner)
		line("currency", x.Currency)
		line("account", x.Account)
		if x.Available != "" {
			line("available", minorUnits(x.Available, x.Scale, x.Currency))
		}
		if b := x.Balances; b != nil {
			line("credits posted", minorUnits(b.CreditsPosted, x.Scale, x.Currency))
			line("debits posted", minorUnits(b.DebitsPosted, x.Scale, x.Currency))
			line("debits pending", minorUnits(b.DebitsPending, x.Scale, x.Currency))
		}
	case *protocol.WalletList:
		fmt.Fprintln(tw, "WALLET\tOWNER\tCURRENCY\tCREATED")
		for _, x := range x.Data {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.ID, x.Owner, x.Currency, x.CreatedAt)
		}
	case *protocol.WalletMovement:
		line("transfer", x.ID)
		line("wallet", x.Wallet)
		line("amount", strconv.FormatUint(x.Amount, 10)+" (minor units)")
		line("rail", x.Rail+" "+x.RailRef)
	case *protocol.WalletAgent:
		line("agent", x.ID)
		line("owner", x.Owner)
		if x.Name != "" {
			line("name", x.Name)
		}
		if x.ActiveKeyID != "" {
			line("active key", x.ActiveKeyID)
		} else {
			line("status", "revoked")
		}
		for _, k := range x.Keys {
			state := k.KeyID + " added " + k.AddedAt
			if k.RevokedAt != "" {
				state += ", revoked " + k.RevokedAt
			}
			line("key", state)
		}
	case *protocol.WalletMandate:
		line("mandate", x.ID)
		line("agent", x.Agent)
		line("wallet", x.Wallet)
		line("valid", x.NotBefore+" to "+x.Expiry)
		if x.RevokedAt != "" {
			line("revoked", x.RevokedAt)
		}
		for _, l := range x.Limits {
			line("limit", limitText(l))
		}
	case *protocol.WalletMandateList:
		fmt.Fprintln(tw, "MANDATE\tAGENT\tWALLET\tSTATUS\tLIMITS")
		for _, m := range x.Data {
			status := "active"
			if m.RevokedAt != "" {
				status = "revoked"
			}
			var ls []string
			for _, l := range m.Limits {
				ls = append(ls, limitText(l))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Agent, m.Wallet, status, strings.Join(ls, "; "))
		}
	case *protocol.WalletPayment:
		line("payment", x.ID)
		status := x.Status
		if x.Status == "held" {
			status += " (" + x.HoldReason + ") until " + x.ExpiresAt + ": approve or decline it"
		} else if x.HoldReason != "" {
			status += " (was held: " + x.HoldReason + ")"
		}
		line("status", status)
		line("amount", minorUnits(strconv.FormatInt(x.Amount, 10), x.Scale, x.Currency))
		line("payee", x.Payee)
		line("agent", x.Agent)
		line("mandate", x.Mandate)
		line("wallet", x.Wallet)
		if x.Answer != nil {
			answer := "declined"
			if x.Answer.Approved {
				answer = "approved"
			}
			line("answer", answer+" at "+x.Answer.At)
		}
		if x.Risk.Outcome != "" {
			risk := x.Risk.Outcome
			if len(x.Risk.Reasons) > 0 {
				risk += " (" + strings.Join(x.Risk.Reasons, ", ") + ")"
			}
			line("risk", risk)
		}
		for _, l := range x.Limits {
			line("limit", limitText(l))
		}
		line("created", x.CreatedAt)
		if x.Receipt != "" {
			line("receipt", "signed by the evidence log (--json shows it)")
		}
	case *protocol.WalletPaymentList:
		fmt.Fprintln(tw, "PAYMENT\tSTATUS\tAMOUNT\tPAYEE\tAGENT\tCREATED")
		for _, p := range x.Data {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Status, minorUnits(strconv.FormatInt(p.Amount, 10), p.Scale, p.Currency),
				p.Payee, p.Agent, p.CreatedAt)
		}
		if x.NextCursor != "" {
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "more: --after %s\n", x.NextCursor)
		}
	default:
		return printJSON(w, v)
	}
	return tw.Flush()
}

// limitText says what remains of a limit, in its own unit ("USD" with
// its scale, or "uses").
func limitText(l protocol.Limit) string {
	return fmt.Sprintf("%s: %s used, %s remaining of %s", l.Name, minorUnits(strconv.FormatInt(l.Used, 10), l.Scale, l.Unit),
		minorUnits(strconv.FormatInt(l.Remaining, 10), l.Scale, l.Unit), minorUnits(strconv.FormatInt(l.Max, 10), l.Scale, l.Unit))
}

// minorUnits renders an amount of minor units as a decimal with its currency
// ("1234", 2, "USD" → "12.34 USD"); an amount that is not an integer is
// shown as is.
func minorUnits(minor string, scale uint8, currency string) string {
	s := strings.TrimSpace(minor)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return strings.TrimSpace(minor + " " + currency)
	}
	if scale > 0 {
		for len(s) <= int(scale) {
			s = "0" + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	}
	if neg {
		s = "-" + s
	}
	return strings.TrimSpace(s + " " + currency)
}
