package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	url    string
	apiKey string
}

func (cf *clientFlags) client() (*sdk.Client, error) {
	if cf.apiKey == "" {
		return nil, fmt.Errorf("no API key: set AGENTPAY_API_KEY or pass --api-key (serve prints the admin key on first start)")
	}
	return sdk.New(cf.url, cf.apiKey, sdk.WithUserAgent("agentpay-cli/"+version)), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// newClientCommands returns the commands that call a running server's API.
// Every one prints the API's JSON answer.
func newClientCommands(cf *clientFlags) []*cobra.Command {
	return []*cobra.Command{assetsCommand(cf), accountsCommand(cf), transfersCommand(cf), keysCommand(cf)}
}

// call wraps a client command body: it builds the client and prints what
// the body returns.
func call(cf *clientFlags, body func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		v, err := body(cmd, c, args)
		if err != nil {
			return err
		}
		return printJSON(cmd.OutOrStdout(), v)
	}
}

func assetsCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "assets", Short: "Create and list assets"}
	var a protocol.Asset
	var key string
	create := &cobra.Command{
		Use: "create", Short: "Register an asset (ledger number, code, scale)", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.CreateAsset(cmd.Context(), key, a)
		}),
	}
	create.Flags().Uint32Var(&a.Ledger, "ledger", 0, "ledger number (required)")
	create.Flags().StringVar(&a.Code, "code", "", "asset code, e.g. USD (required)")
	create.Flags().Uint8Var(&a.Scale, "scale", 2, "decimal places of the smallest unit")
	create.Flags().StringVar(&key, "idempotency-key", "", "idempotency key (default: a fresh one)")
	list := &cobra.Command{
		Use: "list", Short: "List assets", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.ListAssets(cmd.Context())
		}),
	}
	cmd.AddCommand(create, list)
	return cmd
}

func accountsCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "accounts", Short: "Create, get and list accounts"}
	var a protocol.Account
	var flags, key, after string
	var limit int
	create := &cobra.Command{
		Use: "create", Short: "Create an account", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			a.Flags = splitList(flags)
			return c.CreateAccount(cmd.Context(), key, a)
		}),
	}
	f := create.Flags()
	f.StringVar(&a.ID, "id", "", "account id (acct_...; default: the server makes one)")
	f.Uint32Var(&a.Ledger, "ledger", 0, "ledger (asset) number (required)")
	f.Uint16Var(&a.Code, "code", 0, "account code, your chart of accounts (required)")
	f.StringVar(&flags, "flags", "", "comma-separated: debits_must_not_exceed_credits, credits_must_not_exceed_debits, history")
	f.Uint64Var(&a.Limit, "limit", 0, "overdraft (or credit) allowance in minor units")
	f.Uint64Var(&a.UserData64, "user-data-64", 0, "opaque 64-bit reference")
	f.StringVar(&key, "idempotency-key", "", "idempotency key (default: a fresh one)")
	get := &cobra.Command{
		Use: "get ID", Short: "Get an account with its balances", Args: cobra.ExactArgs(1),
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetAccount(cmd.Context(), args[0])
		}),
	}
	list := &cobra.Command{
		Use: "list", Short: "List accounts in id order", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.ListAccounts(cmd.Context(), after, limit)
		}),
	}
	transfers := &cobra.Command{
		Use: "transfers ID", Short: "List an account's transfers in time order", Args: cobra.ExactArgs(1),
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.AccountTransfers(cmd.Context(), args[0], after, limit)
		}),
	}
	for _, c := range []*cobra.Command{list, transfers} {
		c.Flags().StringVar(&after, "after", "", "cursor: next_cursor of the previous page")
		c.Flags().IntVar(&limit, "limit", 0, "page size (default 100, at most 1000)")
	}
	cmd.AddCommand(create, get, list, transfers)
	return cmd
}

func transfersCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "transfers", Short: "Create and get transfers"}
	var t protocol.Transfer
	var flags, key string
	var amount uint64
	create := &cobra.Command{
		Use: "create", Short: "Create a transfer (or post/void a pending one)", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			t.Flags = splitList(flags)
			if cmd.Flags().Changed("amount") {
				t.Amount = &amount
			}
			return c.CreateTransfer(cmd.Context(), key, t)
		}),
	}
	f := create.Flags()
	f.StringVar(&t.ID, "id", "", "transfer id (tr_...; default: the server makes one)")
	f.StringVar(&t.DebitAccountID, "debit", "", "debit account id (acct_...)")
	f.StringVar(&t.CreditAccountID, "credit", "", "credit account id (acct_...)")
	f.Uint64Var(&amount, "amount", 0, "amount in minor units (post_pending without it posts the full amount)")
	f.Uint32Var(&t.Ledger, "ledger", 0, "ledger number")
	f.Uint16Var(&t.Code, "code", 0, "transfer code (reason)")
	f.StringVar(&flags, "flags", "", "comma-separated: pending, post_pending, void_pending, balancing_debit, balancing_credit, closing_debit, closing_credit")
	f.StringVar(&t.PendingID, "pending-id", "", "the pending transfer to post or void (tr_...)")
	f.Uint32Var(&t.TimeoutSeconds, "timeout", 0, "seconds until a pending transfer expires (0 = never)")
	f.StringVar(&key, "idempotency-key", "", "idempotency key (default: a fresh one)")
	get := &cobra.Command{
		Use: "get ID", Short: "Get a transfer", Args: cobra.ExactArgs(1),
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.GetTransfer(cmd.Context(), args[0])
		}),
	}
	cmd.AddCommand(create, get)
	return cmd
}

func keysCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys (admin)"}
	var req protocol.CreateAPIKeyRequest
	var key string
	create := &cobra.Command{
		Use: "create", Short: "Create an API key; its secret is printed once", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.CreateAPIKey(cmd.Context(), key, req)
		}),
	}
	create.Flags().StringVar(&req.Role, "role", "writer", "admin, writer or reader")
	create.Flags().StringVar(&req.Name, "name", "", "a name to recognise the key by")
	create.Flags().StringVar(&req.Party, "party", "", "the party the key acts for")
	create.Flags().StringVar(&key, "idempotency-key", "", "idempotency key (default: a fresh one)")
	list := &cobra.Command{
		Use: "list", Short: "List API keys", Args: cobra.NoArgs,
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, _ []string) (any, error) {
			return c.ListAPIKeys(cmd.Context())
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API key at once", Args: cobra.ExactArgs(1),
		RunE: call(cf, func(cmd *cobra.Command, c *sdk.Client, args []string) (any, error) {
			return c.RevokeAPIKey(cmd.Context(), "", args[0])
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
