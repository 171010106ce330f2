// Package wallet is the AI Wallet: users fund wallets and delegate bounded
// spending to their agents through signed mandates, which the service
// enforces with zero overrun.
//
// # State
//
// Everything the service knows is a ledger.Doc committed with the ledger
// (users, wallets, agent keys, mandates, payments, approvals, in kinds
// Kind*), so each change is one engine request, atomic with the transfers
// it makes and proven by the evidence log. On start the service rebuilds
// its in-memory indexes from the store's docs.
//
// # Money and limits
//
// A wallet is a ledger account (debits must not exceed credits) on the
// currency's ledger. A mandate's limits are accounts too (DESIGN.md 2.1):
// each budget (total, day, week, month) is an account on the currency's
// control ledger credited with its cap, and the use count an account on
// the uses ledger credited with the most uses. A payment is one linked
// chain: a debit of every limit account that applies (the amount, or 1
// use) and the debit of the wallet to the payee. No interleaving of
// payments can overrun a limit, because a limit account cannot go below
// zero and the chain fails as one. Revoking a mandate closes its gate
// account (the total budget), so every payment not yet committed fails.
package wallet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/store"
)

// Doc kinds of the wallet service.
const (
	KindUser           = "user"
	KindWallet         = "wallet"
	KindAgentKey       = "agent_key"
	KindAgentRevoked   = "agent_key_revoked"
	KindMandateIssued  = "mandate_issued"
	KindMandateRevoked = "mandate_revoked"
	KindPayment        = "payment"
	KindApproval       = "approval"
	KindRules          = "risk_rules"

	// Checkout purchases (merchants.go, purchase.go).
	KindMerchantKey            = "merchant_key"
	KindCheckoutMandateIssued  = "checkout_mandate_issued"
	KindCheckoutMandateRevoked = "checkout_mandate_revoked"
)

// Account codes (ledger.Account.Code) of the accounts the service opens.
const (
	CodeFunding     uint16 = 10 // operator: money in from funding rails (may go negative)
	CodePayout      uint16 = 11 // operator: money out to funding rails
	CodeWallet      uint16 = 20 // a user's wallet
	CodePayee       uint16 = 30 // a payee's (merchant's) receiving account
	CodeLimitSource uint16 = 40 // control ledger: where caps come from (may go negative)
	CodeLimitSink   uint16 = 41 // control ledger: where consumed limits go
	CodeBudget      uint16 = 42 // control ledger: a budget or use count of a mandate
)

// Transfer codes.
const (
	TransferTopUp    uint16 = 1
	TransferWithdraw uint16 = 2
	TransferPayment  uint16 = 3
	TransferLimit    uint16 = 4 // a limit consumed by a payment
	TransferCap      uint16 = 5 // a limit account funded with its cap
	TransferRevoke   uint16 = 6 // the closing transfer of a revocation
)

// Ledgers derived from a currency's ledger number.
const (
	controlLedgerBase = 0x4000_0000 // + currency ledger: the control ledger of budgets
	// UsesLedger counts uses of mandates (scale 0), shared by all currencies.
	UsesLedger uint32 = 0x7fff_0001
)

// ControlLedger returns the control ledger of a currency ledger.
func ControlLedger(currency uint32) uint32 { return controlLedgerBase + currency }

// Errors; test with errors.Is. Each API error maps from one.
var (
	ErrNotFound   = errors.New("wallet: not found")
	ErrInvalid    = errors.New("wallet: invalid request")
	ErrForbidden  = errors.New("wallet: not allowed")
	ErrConflict   = errors.New("wallet: conflict")
	ErrRefused    = errors.New("wallet: payment refused")
	ErrRail       = errors.New("wallet: funding rail failed")
	ErrEngine     = errors.New("wallet: ledger engine")
	ErrNotPending = errors.New("wallet: no pending approval")
)

// Config configures a Service.
type Config struct {
	Engine *ledger.Engine
	Store  store.Store
	// Clock is the service's clock (mandate validity, budget periods,
	// approvals); default ledger.SystemClock. Tests use a fake one.
	Clock ledger.Clock
	// PlatformID is the audience mandates and credentials must name.
	PlatformID string
	// Rails are the funding rails by name; "test" (TestRail) is added
	// when absent.
	Rails map[string]Rail
	// ApprovalTTL is how long a held payment waits for its owner before
	// it expires and its funds are released; default 15 minutes.
	ApprovalTTL time.Duration
	// PlatformRules are the risk rules every payment is evaluated against
	// (risk.DefaultPlatformRules when nil).
	PlatformRules []risk.Rule
	// PaymentDocsKept is how many payments' latest docs the service keeps
	// in memory: those most recently made or changed. Every payment keeps
	// its id, parties, status and times in memory; the doc of one not
	// among these is read from the store when the payment is asked for.
	// 0: DefaultPaymentDocsKept; negative: every payment's.
	PaymentDocsKept int
}

// DefaultPaymentDocsKept is Config.PaymentDocsKept's default: about
// 270 MB of docs (a payment's is about 2.7 KB).
const DefaultPaymentDocsKept = 100_000

// Service is the wallet service; safe for concurrent use.
type Service struct {
	engine   *ledger.Engine
	store    store.Store
	clock    ledger.Clock
	platform string
	rails    map[string]Rail
	ttl      time.Duration
	shard    uint32

	mu            sync.RWMutex
	users         map[string]*User
	wallets       map[string]*Wallet
	agents        map[string]*Agent // by agent id
	agentKeys     map[string]*Agent // by key thumbprint (kid)
	mandates      map[string]*Mandate
	payments      paymentIndex      // payment id -> *kept
	byOwner       sync.Map          // owner id -> *ownerPayments
	docsKept      docRing           // the payments whose docs are kept
	legacyJTIs    sync.Map          // jtiKey -> payment id, of payments without a single-use leg
	hasLegacyJTIs atomic.Bool       // legacyJTIs holds an entry
	loadNames     names             // while load runs: the owners, agents and statuses of the payments read
	assets        map[string]uint32 // currency code -> ledger
	ensured       sync.Map          // period account id -> struct{}: funded
	payees        sync.Map          // payeeLedger -> its account id (PayeeAccount): opened

	stats  stats
	usage  sync.Map // limit account id -> *used
	byHash sync.Map // mandate JWS hash -> *Mandate
	byJTI  sync.Map // issuerJTI{owner, jti} -> *Mandate
	keys   sync.Map // kid -> protocol.PublicKey of a registered key

	platformRules atomic.Pointer[[]*risk.CompiledRule]
	walletRules   map[string][]*risk.CompiledRule // by wallet id
	perMinute     *risk.SlidingCounter            // payments per agent in the last minute
	perHour       *risk.SlidingCounter            // amount per agent in the last hour
	merchantDay   *risk.DailyCounter              // amount per wallet and payee today
	walletDay     *risk.DailyCounter              // amount per wallet today
	seenPayees    sync.Map                        // walletPayee key -> the same key

	acts actState // merchant keys and open checkout mandates (merchants.go)
}

// New returns a service, its state rebuilt from the store's docs.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Engine == nil || cfg.Store == nil {
		return nil, errors.New("wallet: Config.Engine and Config.Store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = ledger.SystemClock
	}
	if cfg.PlatformID == "" {
		cfg.PlatformID = "agentpay.local"
	}
	if cfg.ApprovalTTL <= 0 {
		cfg.ApprovalTTL = 15 * time.Minute
	}
	s := &Service{
		engine: cfg.Engine, store: cfg.Store, clock: cfg.Clock, platform: cfg.PlatformID,
		rails: map[string]Rail{}, ttl: cfg.ApprovalTTL, shard: cfg.Engine.State().Shard(),
		users: map[string]*User{}, wallets: map[string]*Wallet{}, agents: map[string]*Agent{},
		agentKeys: map[string]*Agent{}, mandates: map[string]*Mandate{},
		assets: map[string]uint32{}, walletRules: map[string][]*risk.CompiledRule{},
	}
	switch {
	case cfg.PaymentDocsKept == 0:
		s.docsKept.max = DefaultPaymentDocsKept
	case cfg.PaymentDocsKept > 0:
		s.docsKept.max = cfg.PaymentDocsKept
	}
	for name, r := range cfg.Rails {
		s.rails[name] = r
	}
	if _, ok := s.rails["test"]; !ok {
		s.rails["test"] = NewTestRail()
	}
	rules := cfg.PlatformRules
	if rules == nil {
		rules = risk.DefaultPlatformRules()
	}
	compiled, err := risk.CompileAll(rules)
	if err != nil {
		return nil, fmt.Errorf("wallet: platform rules: %w", err)
	}
	s.platformRules.Store(&compiled)
	const keysMax = 1 << 20
	s.perMinute = risk.NewSlidingCounter(time.Minute, 60, keysMax, s.now)
	s.perHour = risk.NewSlidingCounter(time.Hour, 60, keysMax, s.now)
	s.merchantDay = risk.NewDailyCounter(keysMax, s.now)
	s.walletDay = risk.NewDailyCounter(keysMax, s.now)
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.clock.Now() }

// id returns a deterministic ledger id for the parts: the first 16 bytes
// of SHA-256 over them, so every node and every retry names an account or
// transfer the same way (and a retry is idempotent).
func id(parts ...string) ledger.ID {
	// The input is built on the stack for the usual short parts.
	var buf [256]byte
	in := append(buf[:0], "agentpay/wallet/v1"...)
	for _, p := range parts {
		in = append(in, 0)
		in = append(in, p...)
	}
	sum := sha256.Sum256(in)
	var out ledger.ID
	copy(out[:], sum[:])
	if out.IsZero() || out == ledger.IDMax {
		out[15] ^= 1
	}
	return out
}

// newID returns a fresh time-ordered id text with prefix.
func (s *Service) newID(prefix string) string {
	return prefix + ledger.NewID(s.now(), rand.Reader).String()
}

// commit submits one request and fails unless every event committed.
func (s *Service) commit(ctx context.Context, req *ledger.Request) ([]ledger.Result, error) {
	res, ok, err := s.engine.Submit(ctx, req, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	if !ok && len(req.Docs) > 0 {
		return res, fmt.Errorf("%w: %v", ErrConflict, firstFailure(res))
	}
	return res, nil
}

func firstFailure(res []ledger.Result) string {
	for i, r := range res {
		if r != ledger.ResultOK {
			return fmt.Sprintf("event %d: %v", i, r)
		}
	}
	return "ok"
}

// doc returns a doc of kind and key with v as its JSON body.
// docBufs are buffers for encoding payment docs.
var docBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func doc(kind, key string, v any) ledger.Doc {
	if p, ok := v.(*Payment); ok {
		// Encoded into a reused buffer, kept at its exact size.
		buf := docBufs.Get().(*[]byte)
		defer docBufs.Put(buf)
		var ok bool
		if *buf, ok = appendPayment((*buf)[:0], p); ok {
			return ledger.Doc{Kind: kind, Key: key, Body: bytes.Clone(*buf)}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("wallet: marshal %s: %v", kind, err))
	}
	return ledger.Doc{Kind: kind, Key: key, Body: b}
}

// load rebuilds the indexes from the docs, in commit order per kind.
func (s *Service) load(ctx context.Context) error {
	steps := []struct {
		kind  string
		apply func(ledger.Doc) error
	}{
		{KindUser, s.applyUser},
		{KindWallet, s.applyWallet},
		{KindAgentKey, s.applyAgentKey},
		{KindAgentRevoked, s.applyAgentRevoked},
		{KindMandateIssued, s.applyMandateIssued},
		{KindMandateRevoked, s.applyMandateRevoked},
		{KindMerchantKey, s.applyMerchantKey},
		{KindCheckoutMandateIssued, s.applyCheckoutMandateIssued},
		{KindCheckoutMandateRevoked, s.applyCheckoutMandateRevoked},
		{KindPayment, s.applyPayment},
		{KindApproval, s.applyApproval},
		{KindRules, s.applyRules},
	}
	// New calls load before the service is shared: the apply functions
	// run without s.mu (mandates verify through LookupKey, which takes it).
	s.loadNames = names{}
	start := time.Now()
	defer func() {
		s.loadNames = nil
		s.stats.loadNanos.Store(uint64(time.Since(start)))
	}()
	for _, st := range steps {
		if err := s.store.DocsOfKind(ctx, st.kind, 0, st.apply); err != nil {
			return fmt.Errorf("wallet: load %s docs: %w", st.kind, err)
		}
	}
	return nil
}
