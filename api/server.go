package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/wallet"
)

// Idempotency retention bounds.
const (
	// IdempotencyRetentionDefault is how long outcomes are kept when
	// Config.IdempotencyRetention is 0.
	IdempotencyRetentionDefault = 48 * time.Hour
	// IdempotencyRetentionMin is the shortest retention New accepts
	// (DESIGN 2.4: kept at least 24 h).
	IdempotencyRetentionMin = 24 * time.Hour
	// SweepIntervalDefault is how often the sweeper deletes expired
	// outcomes when Config.SweepInterval is 0.
	SweepIntervalDefault = 10 * time.Minute
	// sweepTimeout bounds one sweep.
	sweepTimeout = time.Minute
)

// Config configures a Server. Engine and Store are required; zero values
// of the others take the defaults.
type Config struct {
	// Engine applies ledger writes; it must be started by the caller.
	Engine *ledger.Engine
	// Store serves reads, API keys and idempotency outcomes; it must be
	// the store the engine commits to.
	Store store.Store
	// Clock is used for generated ids, key timestamps and the sweeper's
	// cutoff. Default ledger.SystemClock.
	Clock ledger.Clock
	// Logger receives internal errors (once each, with the request id) and
	// sweeper reports. Default: discard.
	Logger *slog.Logger
	// Registry receives the HTTP and engine metrics served on /metrics.
	// Default: a new registry.
	Registry *prometheus.Registry
	// IdempotencyRetention is how long idempotency outcomes are kept.
	// Default IdempotencyRetentionDefault; at least IdempotencyRetentionMin.
	IdempotencyRetention time.Duration
	// SweepInterval is the time between two sweeps of expired outcomes.
	// Default SweepIntervalDefault.
	SweepInterval time.Duration
	// OutcomeFilterBits sizes the in-memory filter that lets a request
	// with a new idempotency key skip the store lookup. Default
	// OutcomeFilterBitsDefault (16 MiB).
	OutcomeFilterBits uint64
	// LogKey is the signed-note verifier key (vkey) of the evidence log's
	// checkpoints, served on GET /v1/log/key; empty: that route answers 404.
	LogKey string
	// ReceiptSigner, when set, signs the receipts of committed transfers
	// (evidence.Receipt) with the evidence log's key; its name is the
	// log's origin. Nil: responses carry no receipt.
	ReceiptSigner note.Signer
	// Evidence, when set, is the engine's evidence log: receipts of recent
	// batches find their log entry in its memory instead of the store.
	Evidence *ledgerlog.Log
	// Witnesses are the verifier keys (vkeys) of the witnesses whose
	// cosignatures (c2sp.org/tlog-cosignature, cosignature/v1) the server
	// accepts on POST /v1/log/cosignatures; they need LogKey.
	Witnesses []string
	// Wallet, when set, is the AI Wallet service the /v1/users, wallets,
	// agents, mandates and payments routes serve (wallet_handlers.go);
	// it must run on Engine and Store. Nil: those routes answer 404
	// wallet_disabled.
	Wallet *wallet.Service
}

// Server is the /v1 HTTP API. Create it with New; serve Handler(); Start
// and Stop its background sweeper. Its methods are safe for concurrent
// use.
type Server struct {
	engine    *ledger.Engine
	store     store.Store
	clock     ledger.Clock
	log       *slog.Logger
	retention time.Duration
	interval  time.Duration

	mux      *http.ServeMux
	routes   []*route
	metrics  *metrics
	keys     *keyCache
	inflight inflightSet
	outcomes *outcomeFilter
	// logKeyText is Config.LogKey.
	logKeyText    string
	receiptSigner note.Signer
	evidence      *ledgerlog.Log
	// logVerifier verifies the log's checkpoints (nil without LogKey);
	// witnesses verify the configured witnesses' cosignatures.
	logVerifier note.Verifier
	witnesses   []note.Verifier
	// wallet serves the AI Wallet routes (nil: disabled); nonces are the
	// agent request signature nonces seen (agentauth.go).
	wallet *wallet.Service
	nonces protocol.NonceCache

	mu          sync.Mutex // guards the sweeper fields
	sweepCancel context.CancelFunc
	sweepDone   chan struct{}
	stopped     bool
}

// New returns a Server for cfg. It registers the server's metrics on
// cfg.Registry and fails if they are registered there already.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("api: Config.Engine is nil")
	}
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is nil")
	}
	if cfg.Clock == nil {
		cfg.Clock = ledger.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	switch {
	case cfg.IdempotencyRetention == 0:
		cfg.IdempotencyRetention = IdempotencyRetentionDefault
	case cfg.IdempotencyRetention < IdempotencyRetentionMin:
		return nil, fmt.Errorf("api: Config.IdempotencyRetention %v is below the minimum %v",
			cfg.IdempotencyRetention, IdempotencyRetentionMin)
	}
	switch {
	case cfg.SweepInterval == 0:
		cfg.SweepInterval = SweepIntervalDefault
	case cfg.SweepInterval < 0:
		return nil, fmt.Errorf("api: Config.SweepInterval %v is negative", cfg.SweepInterval)
	}
	s := &Server{
		engine:        cfg.Engine,
		store:         cfg.Store,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		retention:     cfg.IdempotencyRetention,
		interval:      cfg.SweepInterval,
		mux:           http.NewServeMux(),
		keys:          newKeyCache(cfg.Clock),
		inflight:      inflightSet{keys: make(map[string]struct{})},
		logKeyText:    cfg.LogKey,
		receiptSigner: cfg.ReceiptSigner,
		evidence:      cfg.Evidence,
		wallet:        cfg.Wallet,
		nonces:        protocol.NewMemoryNonceCache(0, cfg.Clock.Now),
	}
	if cfg.LogKey != "" {
		v, err := note.NewVerifier(cfg.LogKey)
		if err != nil {
			return nil, fmt.Errorf("api: Config.LogKey: %w", err)
		}
		s.logVerifier = v
	}
	if len(cfg.Witnesses) > 0 && s.logVerifier == nil {
		return nil, errors.New("api: Config.Witnesses needs Config.LogKey")
	}
	for _, vkey := range cfg.Witnesses {
		v, err := evidence.NewCosignatureVerifier(vkey)
		if err != nil {
			return nil, fmt.Errorf("api: Config.Witnesses: %w", err)
		}
		s.witnesses = append(s.witnesses, v)
	}
	if cfg.OutcomeFilterBits == 0 {
		cfg.OutcomeFilterBits = OutcomeFilterBitsDefault
	}
	s.outcomes = newOutcomeFilter(cfg.OutcomeFilterBits)
	m, err := newMetrics(cfg.Registry, cfg.Engine, cfg.Wallet)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.pattern, s.routeHandler(rt))
	}
	s.mux.HandleFunc("/", s.unmatched)
	return s, nil
}

// access is what a route requires of the caller.
type access uint8

const (
	accessPublic access = iota // no API key
	accessRead                 // any valid key
	accessWrite                // writer or admin
	accessAdmin                // admin only
	// accessAgent: no API key; the caller is an agent authenticated by
	// its RFC 9421 request signature (agentauth.go).
	accessAgent
)

// route is one operation of the API.
type route struct {
	pattern string // ServeMux pattern, "METHOD /path"
	method  string
	access  access
	// bodyBytesMax bounds the body; 0: the route takes none.
	bodyBytesMax int64
	// query lists the query parameters the route accepts.
	query []string
	// outcome: the route's outcomes are committed by the engine and looked
	// up in the store before the handler runs (ledger writes).
	outcome bool
	// receipts: successful responses carry a receipt for the transfers
	// they name (receiptOne: the body is a transfer; receiptBatch: a
	// batch response).
	receipts receiptKind
	// noteBody: the body is a signed note (text/plain) and the operation
	// is idempotent by nature, so it takes no Idempotency-Key.
	noteBody bool
	handle   func(c *call) error
}

// mutating reports whether the route needs an Idempotency-Key.
func (rt *route) mutating() bool {
	return (rt.method == http.MethodPost || rt.method == http.MethodDelete) && !rt.noteBody && rt.access != accessAgent
}

// routeTable lists every operation; the OpenAPI document must list the
// same ones (a test checks).
func (s *Server) routeTable() []*route {
	rs := []*route{
		{pattern: "GET /healthz", access: accessPublic, handle: s.health},
		{pattern: "GET /metrics", access: accessPublic, handle: s.serveMetrics},
		{pattern: "GET /v1/openapi.json", access: accessPublic, handle: s.serveOpenAPI},

		{pattern: "POST /v1/assets", access: accessWrite, bodyBytesMax: singleBodyBytesMax, outcome: true, handle: s.createAsset},
		{pattern: "GET /v1/assets", access: accessRead, handle: s.listAssets},

		{pattern: "POST /v1/accounts", access: accessWrite, bodyBytesMax: singleBodyBytesMax, outcome: true, handle: s.createAccount},
		{pattern: "POST /v1/accounts/batch", access: accessWrite, bodyBytesMax: batchBodyBytesMax, outcome: true, handle: s.createAccounts},
		{pattern: "GET /v1/accounts", access: accessRead, query: []string{"after", "limit"}, handle: s.listAccounts},
		{pattern: "GET /v1/accounts/{id}", access: accessRead, handle: s.getAccount},
		{pattern: "GET /v1/accounts/{id}/balances", access: accessRead, handle: s.getBalances},
		{pattern: "GET /v1/accounts/{id}/transfers", access: accessRead, query: []string{"after", "limit"}, handle: s.accountTransfers},
		{pattern: "GET /v1/accounts/{id}/chain", access: accessRead, query: []string{"after", "limit"}, handle: s.accountChain},

		{pattern: "POST /v1/transfers", access: accessWrite, bodyBytesMax: singleBodyBytesMax, outcome: true, receipts: receiptOne, handle: s.createTransfer},
		{pattern: "POST /v1/transfers/batch", access: accessWrite, bodyBytesMax: batchBodyBytesMax, outcome: true, receipts: receiptBatch, handle: s.createTransfers},
		{pattern: "GET /v1/transfers/{id}", access: accessRead, handle: s.getTransfer},
		{pattern: "GET /v1/transfers/{id}/proof", access: accessRead, handle: s.getTransferProof},
		{pattern: "GET /v1/log/proof/doc", access: accessRead, query: []string{"kind", "key", "timestamp"}, handle: s.getDocProof},

		{pattern: "GET /v1/log/checkpoint", access: accessPublic, query: []string{"size"}, handle: s.logCheckpoint},
		{pattern: "GET /v1/log/checkpoints", access: accessPublic, query: []string{"after", "limit"}, handle: s.logCheckpoints},
		{pattern: "POST /v1/log/cosignatures", access: accessPublic, bodyBytesMax: evidence.CheckpointMaxBytes, noteBody: true, handle: s.postCosignatures},
		{pattern: "GET /v1/log/key", access: accessPublic, handle: s.logKey},
		{pattern: "GET /v1/log/tile/{path...}", access: accessPublic, handle: s.logTile},
		{pattern: "GET /v1/log/proof/inclusion", access: accessPublic, query: []string{"index", "size"}, handle: s.logInclusionProof},
		{pattern: "GET /v1/log/proof/consistency", access: accessPublic, query: []string{"from", "to"}, handle: s.logConsistencyProof},
		{pattern: "GET /v1/log/batches/{index}", access: accessRead, handle: s.logBatch},

		{pattern: "POST /v1/api-keys", access: accessAdmin, bodyBytesMax: singleBodyBytesMax, handle: s.createAPIKey},
		{pattern: "GET /v1/api-keys", access: accessAdmin, handle: s.listAPIKeys},
		{pattern: "DELETE /v1/api-keys/{id}", access: accessAdmin, handle: s.revokeAPIKey},
	}
	rs = append(rs, s.walletRoutes()...)
	rs = append(rs, s.purchaseRoutes()...)
	for _, rt := range rs {
		rt.method, _, _ = strings.Cut(rt.pattern, " ")
	}
	return rs
}

// Routes returns the "METHOD /path" patterns the server serves, in table
// order (for documentation and tests).
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern
	}
	return out
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// reqState is what the outer handler and the route handler share about a
// request.
type reqState struct {
	id    string
	route string // the route pattern, or "unmatched"
}

type stateKey struct{}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	if st == nil {
		st = &reqState{route: "unmatched"}
	}
	return st
}

// serveHTTP is the outermost handler: request id, panic recovery and
// metrics around the mux.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &reqState{id: "req_" + s.newID().String(), route: "unmatched"}
	w.Header().Set(protocol.HeaderRequestID, st.id)
	sw := &statusWriter{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: panic serving request", "request_id", st.id, "route", st.route,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeBody(sw, http.StatusInternalServerError, internalBody)
			}
		}
		s.metrics.observe(st.route, sw.statusCode(), time.Since(start))
	}()
	s.mux.ServeHTTP(sw, r)
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeBody writes a JSON response.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client is gone
}

// writeError writes err: an *apiError as itself, anything else as an
// internal error, logged here and only here.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, ok := errors.AsType[*apiError](err)
	if !ok {
		st := stateOf(r)
		if r.Context().Err() != nil {
			// The client went away mid-request; nobody reads the answer.
			s.log.Debug("api: request abandoned", "request_id", st.id, "route", st.route, "err", err)
		} else {
			s.log.Error("api: internal error", "request_id", st.id, "route", st.route, "err", err)
		}
		writeBody(w, http.StatusInternalServerError, internalBody)
		return
	}
	switch ae.body.Type {
	case protocol.ErrorAuthentication:
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentpay"`)
	case protocol.ErrorConflict:
		w.Header().Set("Retry-After", "1")
	}
	if ae.refusal != nil {
		b := *ae.refusal
		b.Type, b.Code, b.Message, b.Param = ae.body.Type, ae.body.Code, ae.body.Message, ae.body.Param
		writeBody(w, statusOf(ae.body.Type), mustMarshal(b))
		return
	}
	writeBody(w, statusOf(ae.body.Type), mustMarshal(ae.body))
}

// unmatched answers requests no route matches: 405 with Allow when the
// path exists for another method, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := *r
		probe.Method = m
		if _, pattern := s.mux.Handler(&probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		s.writeError(w, r, newError(protocol.ErrorNotFound, codeRouteNotFound, "", "no route %s", r.URL.Path))
		return
	}
	for _, m := range allow {
		w.Header().Add("Allow", m)
	}
	s.writeError(w, r, newError(protocol.ErrorMethodNotAllowed, codeMethodNotAllowed, "",
		"%s does not accept %s", r.URL.Path, r.Method))
}

// call is one request being served by a route.
type call struct {
	s    *Server
	rt   *route
	w    http.ResponseWriter
	r    *http.Request
	key  store.APIKey // the caller; zero on public routes
	body []byte
	// known, set by transfer handlers, gives the records of the transfers
	// a fresh commit made, for their receipt.
	known func([]ledger.Result) []ledger.TransferRecord
	// idem is set on mutating routes: the scoped key and request hash.
	// Ledger handlers set Render and pass it to the engine.
	idem *ledger.Idempotency
	// agent is the agent an agent route's request signature names.
	agent string
}

// engineCtx is the context for engine calls: not cancelled when the
// client goes away, so the handler (and the in-flight mark of its
// idempotency key) lives until the engine has answered. The engine always
// answers: it drains its queue on Stop and fails every request on a fatal
// error.
func (c *call) engineCtx() context.Context { return context.WithoutCancel(c.r.Context()) }

// send writes a response body.
func (c *call) send(status int, body []byte) error {
	writeBody(c.w, status, body)
	return nil
}

// sendValue marshals and writes a response value.
func (c *call) sendValue(status int, v any) error {
	switch p := v.(type) {
	case protocol.WalletPayment: // every payment's answer
		if b, ok := appendWalletPayment(make([]byte, 0, 4096), &p); ok {
			return c.send(status, b)
		}
	case protocol.WalletPaymentList:
		if b, ok := appendWalletPaymentList(nil, &p); ok {
			return c.send(status, b)
		}
	}
	return c.send(status, mustMarshal(v))
}

// commit runs a ledger write: submit hands the engine c.idem, whose Render
// is render, so the response commits in the same store transaction as the
// write; then commit sends exactly the response render built.
func (c *call) commit(render func([]ledger.Result) (int, []byte),
	submit func(context.Context, *ledger.Idempotency) ([]ledger.Result, error)) error {
	var status int
	var body []byte
	c.idem.Render = func(results []ledger.Result) (int, []byte) {
		status, body = render(results)
		return status, body
	}
	results, err := submit(c.engineCtx(), c.idem)
	if err != nil {
		return engineError(err)
	}
	if body == nil {
		return errors.New("api: the engine answered without rendering the response")
	}
	var known []ledger.TransferRecord
	if c.known != nil {
		known = c.known(results)
	}
	body, err = c.s.withReceipt(c.r.Context(), c.rt, status, body, known)
	if err != nil {
		return err
	}
	return c.send(status, body)
}

// routeHandler runs the steps every route shares: auth, query check,
// idempotency and body, then the route's handler.
func (s *Server) routeHandler(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stateOf(r).route = rt.pattern
		c := &call{s: s, rt: rt, w: w, r: r}
		if err := s.prepare(c, rt); err != nil {
			s.writeError(w, r, err)
			return
		}
		if c.idem != nil {
			if !s.inflight.acquire(c.idem.Key) {
				s.writeError(w, r, newError(protocol.ErrorConflict, codeIdempotencyInFlight, "",
					"a request with this Idempotency-Key is still in flight; retry after it completes"))
				return
			}
			defer s.inflight.release(c.idem.Key)
			if rt.outcome {
				replayed, err := s.replay(c)
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				if replayed {
					return
				}
			}
		}
		if err := rt.handle(c); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// prepare authenticates the caller, checks the query and, on mutating
// routes, reads the body and derives the idempotency scope.
func (s *Server) prepare(c *call, rt *route) error {
	r := c.r
	if rt.access == accessAgent {
		return s.prepareAgent(c, rt)
	}
	if rt.access != accessPublic {
		key, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if !allowed(key.Role, rt.access) {
			return newError(protocol.ErrorPermission, codeInsufficientRole, "",
				"API key role %q may not call %s", key.Role, rt.pattern)
		}
		c.key = key
		if err := checkQuery(r, rt.query); err != nil {
			return err
		}
	}
	if rt.noteBody {
		var err error
		c.body, err = readNoteBody(c.w, r, rt.bodyBytesMax)
		return err
	}
	if rt.method == http.MethodPut {
		// PUT replaces a whole resource: idempotent by nature, no key.
		var err error
		c.body, err = readBody(c.w, r, rt.bodyBytesMax)
		return err
	}
	if !rt.mutating() {
		return nil
	}
	idemKey, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if c.body, err = readBody(c.w, r, rt.bodyBytesMax); err != nil {
		return err
	}
	c.idem = &ledger.Idempotency{
		Key:         scopeKey(c.key.ID, rt.pattern, idemKey),
		RequestHash: requestHash(r.Method, r.URL.EscapedPath(), c.body),
	}
	return nil
}

// checkQuery refuses query parameters the route does not take and
// parameters given twice.
func checkQuery(r *http.Request, allowedNames []string) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return invalid(codeUnknownParameter, "", "malformed query string: %v", err)
	}
next:
	for name, vs := range q {
		for _, a := range allowedNames {
			if name == a {
				if len(vs) > 1 {
					return invalid(codeUnknownParameter, name, "query parameter %s is given %d times", name, len(vs))
				}
				continue next
			}
		}
		return invalid(codeUnknownParameter, name, "unknown query parameter %q", name)
	}
	return nil
}

// newID returns a fresh time-ordered id.
func (s *Server) newID() ledger.ID { return ledger.NewID(s.clock.Now(), rand.Reader) }

// Start starts the sweeper that deletes idempotency outcomes older than
// the retention, every sweep interval (and once right away), until ctx
// ends or Stop is called. It is idempotent; after Stop it does nothing.
func (s *Server) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sweepDone != nil || s.stopped {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	s.sweepCancel = cancel
	s.sweepDone = make(chan struct{})
	go s.sweepLoop(ctx, s.sweepDone)
}

// Stop stops the sweeper and waits for it (a sweep in progress is
// cancelled). It is idempotent and safe to call without Start.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopped = true
	cancel, done := s.sweepCancel, s.sweepDone
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (s *Server) sweepLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// sweep deletes the outcomes created before now - retention.
func (s *Server) sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	cutoff := s.clock.Now().Add(-s.retention).UnixNano()
	if cutoff <= 0 {
		return
	}
	n, err := s.store.DeleteOutcomesBefore(ctx, uint64(cutoff))
	if err != nil {
		if !errors.Is(err, context.Canceled) { // Canceled: Stop was called
			s.log.Warn("api: sweeping idempotency outcomes", "err", err)
		}
		return
	}
	if n > 0 {
		s.log.Info("api: swept idempotency outcomes", "deleted", n)
	}
	if n > 0 || s.outcomes.cur.Load() == nil {
		if err := s.outcomes.rebuild(ctx, &s.inflight, s.store.OutcomeKeys); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("api: rebuilding the idempotency key filter", "err", err)
		}
	}
}
