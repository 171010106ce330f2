package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/agentpay/agentpay/wallet"
	"github.com/spf13/cobra"
)

func newServeCommand() *cobra.Command {
	var cfg nodeConfig
	var shutdownTimeout time.Duration
	var schedBatch bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the AgentPay server on the embedded store",
		Long: `Run the AgentPay HTTP API on the embedded SQLite store in the data directory
(created if missing). On first start it creates an operator admin API key and
prints it once. SIGINT or SIGTERM stops taking requests, commits every batch
in flight and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			proc.UseServerProcs()
			proc.UseServerGC()
			batch := false
			if schedBatch {
				_, batch = proc.UseBatchScheduling()
			}
			cfg.Logger = logger
			cfg.PreallocateWAL = true
			ctx := cmd.Context()
			n, err := startNode(ctx, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			dir, _ := filepath.Abs(cfg.DataDir)
			fmt.Fprintf(out, "AgentPay is running at %s (data in %s)\n", n.URL(), dir)
			if n.AdminSecret != "" {
				fmt.Fprintf(out, "\nAdmin API key (shown once, keep it safe):\n  %s\n", n.AdminSecret)
				fmt.Fprintf(out, "\nTry next:\n  export AGENTPAY_API_KEY=%s\n  agentpay accounts list\n\n", n.AdminSecret)
			} else {
				fmt.Fprintf(out, "Try next: agentpay demo --url %s, or curl %s/healthz\n", n.URL(), n.URL())
			}
			logger.Info("serving", "url", n.URL(), "data_dir", dir, "gomaxprocs", runtime.GOMAXPROCS(0),
				"gogc", proc.GCPercent(), "gomemlimit", debug.SetMemoryLimit(-1), "sched_batch", batch)
			select {
			case <-ctx.Done():
			case err := <-n.served:
				n.served <- err
			}
			logger.Info("shutting down: draining requests and batches")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := n.close(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			logger.Info("stopped cleanly")
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", envOr("AGENTPAY_DATA_DIR", "./agentpay-data"),
		"data directory (env AGENTPAY_DATA_DIR)")
	cmd.Flags().StringVar(&cfg.Addr, "addr", envOr("AGENTPAY_ADDR", "127.0.0.1:8080"),
		"listen address (env AGENTPAY_ADDR)")
	cmd.Flags().StringVar(&cfg.LogOrigin, "log-origin", envOr("AGENTPAY_LOG_ORIGIN", defaultLogOrigin),
		"origin line of the evidence log's signed checkpoints; names the signing key (env AGENTPAY_LOG_ORIGIN)")
	cmd.Flags().DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", time.Second,
		"how often to sign a checkpoint of the evidence log when it grew")
	cmd.Flags().Var(&witnessFlag{ws: &cfg.Witnesses}, "witness",
		"a witness of the evidence log, name=vkey[@url] (repeatable): its cosignatures are accepted on POST /v1/log/cosignatures and, with a URL (c2sp.org/tlog-witness submission prefix), each new checkpoint is sent to it")
	cmd.Flags().StringVar(&cfg.PlatformID, "platform-id", envOr("AGENTPAY_PLATFORM_ID", "agentpay.local"),
		"the AI Wallet's platform id: the audience agent credentials and mandates must name (env AGENTPAY_PLATFORM_ID)")
	cmd.Flags().DurationVar(&cfg.ApprovalTTL, "approval-ttl", 15*time.Minute,
		"how long a held payment waits for its owner before it expires and its funds are released")
	cmd.Flags().IntVar(&cfg.PaymentDocsKept, "payment-docs-kept", wallet.DefaultPaymentDocsKept,
		"how many payments' docs (about 2.7 KB each) the AI Wallet keeps in memory, the most recently made or changed; the others are read from the store when asked for (-1: all)")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second,
		"how long a graceful shutdown may take")
	cmd.Flags().BoolVar(&schedBatch, "sched-batch", proc.BatchSchedulingFromEnv(),
		"run the server's threads in the kernel's SCHED_BATCH class (Linux): its threads' wakeups do not preempt one another (env AGENTPAY_SCHED_BATCH=0 to turn off)")
	return cmd
}
