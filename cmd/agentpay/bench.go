package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/spf13/cobra"

	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/internal/bench"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store/sqlite"
)

func newBenchCommand(cf *clientFlags) *cobra.Command {
	var (
		transfers, baseline, accounts, concurrency int
		duration                                   time.Duration
		skipEngine, skipHTTP, remote, walletRun    bool
		agents, serviceCallers                     int
		cpuProfile                                 string
		rate                                       float64
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure durable transfers/s through the engine and over HTTP, with a baseline",
		Long: `Measure AgentPay on this machine, each figure next to its baseline in the same run:

  1. engine: durable transfers/s through the ledger engine on SQLite with
     full requests of 8,189 transfers, with the evidence log on as in
     serve, and the baseline of one SQLite
     transaction per transfer on the same disk;
  2. HTTP: concurrent single-transfer POST /v1/transfers over loopback
     (closed loop at --concurrency, then an open loop at half the measured
     peak rate), with p50/p99 latency;
  3. with --wallet: authorized AI Wallet payments over HTTP (RFC 9421
     signed requests carrying closed payment mandates) from --agents
     agents, with the time per stage in the service; then the same
     payments made by --service-callers concurrent callers of the
     service itself (signature, mandate, rules, ledger: no HTTP), with
     the process's CPU time per payment.

The server is started in-process on a temporary data directory unless
--remote is given, in which case --url and --api-key name a running one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if !remote {
				proc.UseServerProcs() // as serve runs
				proc.UseServerGC()
				if proc.BatchSchedulingFromEnv() {
					proc.UseBatchScheduling()
				}
			}
			fmt.Fprintf(out, "agentpay bench — %s, %d CPUs (GOMAXPROCS %d), %s\n\n",
				runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
			dir, err := os.MkdirTemp("", "agentpay-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if !skipEngine {
				if err := benchEngine(ctx, cmd, dir, transfers, baseline, accounts); err != nil {
					return err
				}
			}
			if !skipHTTP {
				if err := benchHTTP(ctx, cmd, cf, dir, remote, accounts, concurrency, duration, rate); err != nil {
					return err
				}
			}
			if walletRun {
				return benchWallet(ctx, cmd, dir, agents, concurrency, serviceCallers, duration)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&transfers, "transfers", 1_000_000, "transfers for the engine run")
	f.IntVar(&baseline, "baseline-transfers", 2_000, "transfers for the one-transaction-per-transfer baseline")
	f.IntVar(&accounts, "accounts", 1_000, "accounts the transfers move between")
	f.IntVar(&concurrency, "concurrency", 64, "concurrent HTTP clients in the closed loop")
	f.DurationVar(&duration, "duration", 5*time.Second, "length of each HTTP run")
	f.BoolVar(&skipEngine, "skip-engine", false, "skip the engine runs")
	f.BoolVar(&skipHTTP, "skip-http", false, "skip the HTTP runs")
	f.BoolVar(&remote, "remote", false, "load the server at --url instead of an in-process one")
	f.Float64Var(&rate, "rate", 0, "requests/s of the open loop (default: half the closed loop's peak)")
	f.BoolVar(&walletRun, "wallet", false, "also measure AI Wallet payments over HTTP (in-process server only)")
	f.IntVar(&agents, "agents", 8, "agents paying in the --wallet run")
	f.IntVar(&serviceCallers, "service-callers", 1024, "concurrent callers of the --wallet run's second part, in the service without HTTP (0: skip it)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	return cmd
}

func benchEngine(ctx context.Context, cmd *cobra.Command, dir string, transfers, baseline, accounts int) error {
	out := cmd.OutOrStdout()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "engine.db"), sqlite.Options{PreallocateWAL: true})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	// As `serve` runs it: every batch also commits its evidence log leaf.
	ev, err := ledgerlog.Open(ctx, st, ledgerlog.Options{})
	if err != nil {
		return err
	}
	e, err := ledger.Open(ctx, ledger.Config{Store: st, Evidence: ev})
	if err != nil {
		return err
	}
	e.Start()
	defer e.Stop(context.Background())
	if err := bench.SetupAccounts(ctx, e, accounts); err != nil {
		return err
	}
	before := e.Stats()
	res, err := bench.Engine(ctx, e, transfers, ledger.BatchEventsMax, accounts, 1<<32)
	if err != nil {
		return err
	}
	after := e.Stats()
	batches := after.Batches - before.Batches
	fmt.Fprintln(out, res)
	if batches > 0 {
		fmt.Fprintf(out, "%-44s %d batches, %.0f transfers/batch, commit %.2f ms/batch (%.0f%% of wall time)\n",
			"", batches, float64(after.Transfers-before.Transfers)/float64(batches),
			float64(after.CommitNanos-before.CommitNanos)/float64(batches)/1e6,
			100*float64(after.CommitNanos-before.CommitNanos)/float64(res.Elapsed))
	}
	base, err := bench.Baseline(ctx, filepath.Join(dir, "baseline.db"), baseline, accounts)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, base)
	fmt.Fprintf(out, "%-44s %.0fx the baseline\n\n", "engine speed-up:", res.PerSecond()/base.PerSecond())
	return nil
}

func benchHTTP(ctx context.Context, cmd *cobra.Command, cf *clientFlags, dir string, remote bool, accounts, concurrency int, duration time.Duration, rate float64) error {
	out := cmd.OutOrStdout()
	url, key := cf.url, cf.apiKey
	stats := func() ledger.Stats { return ledger.Stats{} }
	if !remote {
		n, err := startNode(ctx, nodeConfig{DataDir: filepath.Join(dir, "node"), Addr: "127.0.0.1:0", PreallocateWAL: true})
		if err != nil {
			return err
		}
		defer n.close(context.Background())
		url, key = n.URL(), n.AdminSecret
		stats = n.engine.Stats
	}
	report := func(before ledger.Stats, elapsed time.Duration) {
		after := stats()
		batches := after.Batches - before.Batches
		if batches == 0 {
			return
		}
		commit := time.Duration(after.CommitNanos - before.CommitNanos)
		fmt.Fprintf(out, "%-44s %d batches, %.1f requests/batch, commit %.2f ms/batch (%.0f%% of wall time), commit p99 < %s\n", "",
			batches, float64(after.Requests-before.Requests)/float64(batches),
			float64(commit)/float64(batches)/1e6, 100*float64(commit)/float64(elapsed),
			commitP99(before.CommitHistogram, after.CommitHistogram))
	}
	c := bench.NewHTTPClient(url, key, concurrency)
	ids, err := bench.SetupHTTP(ctx, c, accounts)
	if err != nil {
		return err
	}
	firstID := uint64(time.Now().UnixNano())
	before := stats()
	peak := bench.HTTPClosedLoop(ctx, c, ids, concurrency, duration, firstID)
	fmt.Fprintln(out, peak)
	report(before, peak.Elapsed)
	half := peak.PerSecond() / 2
	if half < 1 {
		return fmt.Errorf("bench: closed loop completed no transfers")
	}
	if rate > 0 {
		half = rate
	}
	before = stats()
	open := bench.HTTPOpenLoop(ctx, c, ids, half, duration, firstID+uint64(peak.Requests)+1)
	fmt.Fprintln(out, open)
	report(before, open.Elapsed)
	return nil
}

// commitP99 returns the upper bound of the histogram bucket holding the
// 99th percentile of the commits between two snapshots.
func commitP99(before, after [ledger.CommitHistogramBuckets]uint64) time.Duration {
	var total uint64
	for i := range after {
		total += after[i] - before[i]
	}
	var seen uint64
	for i := range after {
		seen += after[i] - before[i]
		if seen*100 >= total*99 {
			return time.Duration(1<<i) * time.Microsecond
		}
	}
	return 0
}
