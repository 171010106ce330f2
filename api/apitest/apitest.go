// Package apitest runs a real AgentPay API for tests: a SQLite store in a
// temporary directory, a started ledger engine, an api.Server and an
// httptest.Server in front of it, with one API key of each role. It is
// used by the api and sdk tests; nothing in it is mocked.
package apitest

import (
	"golang.org/x/mod/sumdb/note"

	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentpay/agentpay/api"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/store/sqlite"
	"github.com/agentpay/agentpay/wallet"
)

// stopTimeout bounds the engine's drain when an Env closes.
const stopTimeout = 10 * time.Second

// Options configures an Env; the zero value is the default.
type Options struct {
	// Clock is given to the engine and the server. Default: the system
	// clock.
	Clock ledger.Clock
	// Logger is given to the server. Default: discard.
	Logger *slog.Logger
	// IdempotencyRetention and SweepInterval are passed to api.Config.
	IdempotencyRetention time.Duration
	SweepInterval        time.Duration
	// Sweep starts the server's outcome sweeper.
	Sweep bool
	// Evidence wires the evidence log into the engine and creates a
	// checkpoint signer (Env.LogSigner, not started: tests call SignNow)
	// with a fresh key for LogOrigin, served on /v1/log/key.
	Evidence bool
	// Witnesses are witness verifier keys passed to api.Config (they need
	// Evidence).
	Witnesses []string
	// Wallet builds an AI Wallet service (Env.Wallet) on the Env's engine
	// and store and serves its routes.
	Wallet bool
	// WalletClock is the wallet service's clock (mandate validity, budget
	// periods, approvals). Default: Clock.
	WalletClock ledger.Clock
	// WalletPlatform is the platform id mandates and credentials must
	// name as their audience. Default WalletPlatform.
	WalletPlatform string
}

// WalletPlatform is the default platform id of an Env's wallet service.
const WalletPlatform = "apitest.agentpay.local"

// LogOrigin is the checkpoint origin of an Env with Options.Evidence.
const LogOrigin = "apitest.agentpay.local/log"

// Env is a running API. Its fields are valid until Restart or Close.
type Env struct {
	t    testing.TB
	opts Options
	// Path is the SQLite file.
	Path string
	// URL is the base URL of the HTTP server (no trailing slash).
	URL      string
	Store    *sqlite.Store
	Engine   *ledger.Engine
	Server   *api.Server
	HTTP     *httptest.Server
	Registry *prometheus.Registry
	// Secrets of the keys New creates, one per role.
	AdminSecret, WriterSecret, ReaderSecret string
	// Keys New created, by role.
	AdminKey, WriterKey, ReaderKey store.APIKey
	// LogSigner and LogKey (the verifier key) are set with Options.Evidence.
	LogSigner *ledgerlog.Signer
	LogKey    string
	// Wallet is the AI Wallet service, set with Options.Wallet.
	Wallet *wallet.Service

	closeOnce sync.Once
}

// New starts an Env and registers its Close with t.Cleanup. It fails the
// test on any error.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	e := &Env{t: t, opts: opts, Path: filepath.Join(t.TempDir(), "agentpay.db")}
	e.start()
	ctx := context.Background()
	for _, k := range []struct {
		role   store.Role
		secret *string
		key    *store.APIKey
	}{
		{store.RoleAdmin, &e.AdminSecret, &e.AdminKey},
		{store.RoleWriter, &e.WriterSecret, &e.WriterKey},
		{store.RoleReader, &e.ReaderSecret, &e.ReaderKey},
	} {
		secret, key := api.NewAPIKey(k.role, "operator", "test "+string(k.role))
		if err := e.Store.CreateAPIKey(ctx, key); err != nil {
			t.Fatalf("apitest: create %s key: %v", k.role, err)
		}
		*k.secret, *k.key = secret, key
	}
	t.Cleanup(e.Close)
	return e
}

func (e *Env) start() {
	t := e.t
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, e.Path, sqlite.Options{})
	if err != nil {
		t.Fatalf("apitest: open store: %v", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		t.Fatalf("apitest: migrate: %v", err)
	}
	cfg := ledger.Config{Store: st, Clock: e.opts.Clock}
	var receipts note.Signer
	var evLog *ledgerlog.Log
	if e.opts.Evidence {
		ev, err := ledgerlog.Open(ctx, st, ledgerlog.Options{})
		if err != nil {
			st.Close()
			t.Fatalf("apitest: open evidence log: %v", err)
		}
		cfg.Evidence = ev
		keyPath := e.Path + ".logkey"
		signer, vkey, err := ledgerlog.LoadOrCreateKey(keyPath, LogOrigin)
		if err != nil {
			st.Close()
			t.Fatalf("apitest: log key: %v", err)
		}
		e.LogKey, receipts, evLog = vkey, signer, ev
		if e.LogSigner, err = ledgerlog.NewSigner(st, signer, ledgerlog.SignerOptions{Origin: LogOrigin}); err != nil {
			st.Close()
			t.Fatalf("apitest: checkpoint signer: %v", err)
		}
	}
	eng, err := ledger.Open(ctx, cfg)
	if err != nil {
		st.Close()
		t.Fatalf("apitest: open engine: %v", err)
	}
	eng.Start()
	var svc *wallet.Service
	if e.opts.Wallet {
		clock, platform := e.opts.WalletClock, e.opts.WalletPlatform
		if clock == nil {
			clock = e.opts.Clock
		}
		if platform == "" {
			platform = WalletPlatform
		}
		if svc, err = wallet.New(ctx, wallet.Config{Engine: eng, Store: st, Clock: clock, PlatformID: platform}); err != nil {
			_ = eng.Stop(ctx)
			st.Close()
			t.Fatalf("apitest: wallet service: %v", err)
		}
	}
	reg := prometheus.NewRegistry()
	srv, err := api.New(api.Config{
		Engine: eng, Store: st, Clock: e.opts.Clock, Logger: e.opts.Logger, Registry: reg,
		IdempotencyRetention: e.opts.IdempotencyRetention, SweepInterval: e.opts.SweepInterval,
		LogKey: e.LogKey, Witnesses: e.opts.Witnesses, ReceiptSigner: receipts, Evidence: evLog,
		Wallet: svc,
	})
	if err != nil {
		_ = eng.Stop(ctx)
		st.Close()
		t.Fatalf("apitest: new server: %v", err)
	}
	if e.opts.Sweep {
		srv.Start(ctx)
	}
	e.Store, e.Engine, e.Server, e.Registry, e.Wallet = st, eng, srv, reg, svc
	e.HTTP = httptest.NewServer(srv.Handler())
	e.URL = e.HTTP.URL
}

func (e *Env) stop() {
	e.HTTP.Close() // waits for handlers, which wait for the engine
	e.Server.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := e.Engine.Stop(ctx); err != nil {
		e.t.Errorf("apitest: stop engine: %v", err)
	}
	if err := e.Store.Close(); err != nil {
		e.t.Errorf("apitest: close store: %v", err)
	}
}

// Restart stops everything and starts it again on the same SQLite file,
// as a process restart would. URL changes.
func (e *Env) Restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

// Close stops the HTTP server, the sweeper and the engine and closes the
// store. It is idempotent.
func (e *Env) Close() {
	e.closeOnce.Do(e.stop)
}

// Clock is a manual clock for tests. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
