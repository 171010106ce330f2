// Command agentpay is the one AgentPay binary: it runs the platform
// (serve), tells its story (demo), measures it (bench) and is a client for
// its API (assets, accounts, transfers, keys, and the AI Wallet's users,
// wallets, agents, mandates and payments).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "agentpay:") {
			msg = "agentpay: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "agentpay",
		Short:         "AgentPay: payments and trust for AI agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cf := &clientFlags{}
	root.PersistentFlags().StringVar(&cf.url, "url", envOr("AGENTPAY_URL", "http://127.0.0.1:8080"),
		"server URL for client commands (env AGENTPAY_URL)")
	root.PersistentFlags().StringVar(&cf.apiKey, "api-key", os.Getenv("AGENTPAY_API_KEY"),
		"API key for client commands (env AGENTPAY_API_KEY)")
	root.AddCommand(
		newServeCommand(),
		newDemoCommand(cf),
		newBenchCommand(cf),
		newVersionCommand(),
		newVerifyCommand(),
		newLogCommand(cf),
		newAuditCommand(cf),
	)
	root.AddCommand(newClientCommands(cf)...)
	root.AddCommand(newWalletCommands(cf)...)
	registerKeysNew(root)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "agentpay", version)
		},
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
