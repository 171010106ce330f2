package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/agentpay/agentpay/api"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/store/sqlite"
	"github.com/agentpay/agentpay/wallet"
)

// nodeConfig is what a running AgentPay node needs.
type nodeConfig struct {
	DataDir string
	Addr    string // listen address, e.g. 127.0.0.1:8080 (port 0 picks one)
	Logger  *slog.Logger
	// OnFatal runs when the engine fails to commit (default: exit 1).
	OnFatal func(error)
	// OnEvidence, when set, is called after each batch's evidence leaf is
	// durable (see ledgerlog.Options.OnCommitted; tests use it).
	OnEvidence func(r *ledgerlog.Records, logIndex, size uint64)
	// LogOrigin is the evidence log's checkpoint origin line (default
	// defaultLogOrigin); it names the signing key in logKeyFile.
	LogOrigin string
	// CheckpointInterval is how often the checkpoint signer looks for a
	// grown log (default ledgerlog.CheckpointIntervalDefault).
	CheckpointInterval time.Duration
	// Witnesses are the log's witnesses (--witness): their cosignatures
	// are accepted on POST /v1/log/cosignatures, and those with a URL get
	// every new checkpoint (c2sp.org/tlog-witness).
	Witnesses []ledgerlog.Witness
	// PlatformID is the AI Wallet's platform id: the audience agent
	// credentials and mandates must name (default "agentpay.local").
	PlatformID string
	// ApprovalTTL is how long a held payment waits for its owner
	// (default 15 minutes).
	ApprovalTTL time.Duration
	// PaymentDocsKept is wallet.Config.PaymentDocsKept (0: its default).
	PaymentDocsKept int
	// WalletRules replaces the wallet's platform risk rules when not nil
	// (bench drops the per-agent velocity rule).
	WalletRules []risk.Rule
	// PreallocateWAL is sqlite.Options.PreallocateWAL: serve and bench
	// set it; the nodes tests start do not write 128 MiB each.
	PreallocateWAL bool
}

// node is one running AgentPay process: store, engine, API and listener.
type node struct {
	cfg      nodeConfig
	store    *sqlite.Store
	engine   *ledger.Engine
	wallet   *wallet.Service
	evidence *ledgerlog.Log
	signer   *ledgerlog.Signer
	pusher   *ledgerlog.WitnessPusher
	// LogKey is the evidence log's checkpoint verifier key (vkey).
	LogKey   string
	api      *api.Server
	http     *http.Server
	listener net.Listener
	served   chan error
	// AdminSecret is set when this start created the first admin key.
	AdminSecret string
}

const (
	databaseFile = "agentpay.db"
	// logKeyFile holds the Ed25519 signed-note private key (skey) that
	// signs the evidence log's checkpoints; created, mode 0600, on first
	// start.
	logKeyFile = "evidence-log-signing.key"
	// defaultLogOrigin is the checkpoint origin when none is configured.
	defaultLogOrigin = "agentpay.local/log"
)

func startNode(ctx context.Context, cfg nodeConfig) (*node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.OnFatal == nil {
		cfg.OnFatal = func(err error) {
			cfg.Logger.Error("engine failed; exiting so a restart reloads the committed state", "err", err)
			os.Exit(1)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, databaseFile), sqlite.Options{PreallocateWAL: cfg.PreallocateWAL})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := &node{cfg: cfg, store: st, served: make(chan error, 1)}
	if err := n.start(ctx); err != nil {
		n.close(ctx)
		return nil, err
	}
	return n, nil
}

func (n *node) start(ctx context.Context) error {
	if err := n.store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	// The evidence log resumes at the size committed with the last batch:
	// every batch adds its leaf and tiles in its own store transaction.
	ev, err := ledgerlog.Open(ctx, n.store, ledgerlog.Options{OnCommitted: n.cfg.OnEvidence})
	if err != nil {
		return fmt.Errorf("open evidence log: %w", err)
	}
	n.evidence = ev
	if n.cfg.LogOrigin == "" {
		n.cfg.LogOrigin = defaultLogOrigin
	}
	logSigner, logKey, err := ledgerlog.LoadOrCreateKey(filepath.Join(n.cfg.DataDir, logKeyFile), n.cfg.LogOrigin)
	if err != nil {
		return fmt.Errorf("evidence log key: %w", err)
	}
	n.LogKey = logKey
	pusher, err := ledgerlog.NewWitnessPusher(n.store, n.cfg.Witnesses, ledgerlog.PusherOptions{Logger: n.cfg.Logger})
	if err != nil {
		return fmt.Errorf("witnesses: %w", err)
	}
	signer, err := ledgerlog.NewSigner(n.store, logSigner, ledgerlog.SignerOptions{
		Origin: n.cfg.LogOrigin, Interval: n.cfg.CheckpointInterval, Logger: n.cfg.Logger,
		OnCheckpoint: pusher.Notify,
	})
	if err != nil {
		return fmt.Errorf("checkpoint signer: %w", err)
	}
	loadStart := time.Now()
	engine, err := ledger.Open(ctx, ledger.Config{Store: n.store, OnFatal: n.cfg.OnFatal, Evidence: ev})
	if err != nil {
		return fmt.Errorf("load ledger: %w", err)
	}
	n.cfg.Logger.Info("ledger loaded", "took", time.Since(loadStart).Round(time.Millisecond))
	engine.Start()
	n.engine = engine
	// The AI Wallet rebuilds its state from the docs the engine committed.
	w, err := wallet.New(ctx, wallet.Config{Engine: engine, Store: n.store, PlatformID: n.cfg.PlatformID, PlatformRules: n.cfg.WalletRules,
		ApprovalTTL: n.cfg.ApprovalTTL, PaymentDocsKept: n.cfg.PaymentDocsKept})
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	st := w.Stats()
	n.cfg.Logger.Info("wallet loaded", "payments", st.Loaded, "took", time.Duration(st.LoadNanos).Round(time.Millisecond))
	n.wallet = w
	// The signer reads only committed state: it may start before the API.
	pusher.Start(context.WithoutCancel(ctx))
	n.pusher = pusher
	signer.Start(context.WithoutCancel(ctx))
	n.signer = signer
	secret, err := ensureAdminKey(ctx, n.store)
	if err != nil {
		return err
	}
	n.AdminSecret = secret
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var witnessKeys []string
	for _, w := range n.cfg.Witnesses {
		witnessKeys = append(witnessKeys, w.VKey)
	}
	srv, err := api.New(api.Config{Engine: engine, Store: n.store, Logger: n.cfg.Logger, Registry: reg,
		LogKey: logKey, Witnesses: witnessKeys, ReceiptSigner: logSigner, Evidence: ev, Wallet: w})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	srv.Start(ctx)
	n.api = srv
	ln, err := net.Listen("tcp", n.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.cfg.Addr, err)
	}
	n.listener = ln
	n.http = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() { n.served <- n.http.Serve(ln) }()
	return nil
}

// URL is the base URL the node serves on.
func (n *node) URL() string { return "http://" + n.listener.Addr().String() }

// ensureAdminKey creates the operator's admin key when the store has no
// key at all, and returns its secret ("" when keys already exist).
func ensureAdminKey(ctx context.Context, st store.Store) (string, error) {
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("list api keys: %w", err)
	}
	if len(keys) > 0 {
		return "", nil
	}
	secret, key := api.NewAPIKey(store.RoleAdmin, "operator", "operator admin (created on first start)")
	if err := st.CreateAPIKey(ctx, key); err != nil {
		return "", fmt.Errorf("create admin api key: %w", err)
	}
	return secret, nil
}

// close shuts the node down in order: stop taking HTTP requests and wait
// for those in flight, drain and commit the engine's queued batches, then
// close the store.
func (n *node) close(ctx context.Context) error {
	var errs []error
	if n.http != nil {
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-n.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if n.api != nil {
		n.api.Stop()
	}
	if n.engine != nil {
		if err := n.engine.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("engine stop: %w", err))
		}
	}
	if n.signer != nil {
		// After the engine drained: sign what the last batches committed.
		n.signer.Stop()
		if _, _, err := n.signer.SignNow(ctx); err != nil {
			errs = append(errs, fmt.Errorf("final checkpoint: %w", err))
		}
	}
	if n.pusher != nil {
		n.pusher.Stop()
	}
	if err := n.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store close: %w", err))
	}
	return errors.Join(errs...)
}
