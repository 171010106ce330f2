package sdk

// AI Wallet methods. Owners (users, and the operator with an admin key)
// call them with an API key: users, wallets and their funding, risk rules,
// agents, open mandates, and the payments their agents make. Agents call
// Pay only, with a client that signs its requests (WithAgentKey or
// WithRequestSigner) and needs no API key.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

// Errors of the wallet methods; test with errors.Is.
var (
	// ErrNoRequestSigner: Pay was called on a client that does not sign
	// its requests (see WithAgentKey).
	ErrNoRequestSigner = errors.New("agentpay: the client has no agent key to sign the request")
	// ErrPaymentReceiptMismatch: a valid receipt does not name the
	// payment's doc ("doc payment/<id>", or "doc approval/<id>" once the
	// owner answered). It matches ErrReceiptMismatch too.
	ErrPaymentReceiptMismatch error = &wrapErr{msg: "agentpay: receipt does not name the payment", base: ErrReceiptMismatch}
)

// wrapErr is a sentinel with its own message that also matches base.
type wrapErr struct {
	msg  string
	base error
}

func (e *wrapErr) Error() string { return e.msg }
func (e *wrapErr) Unwrap() error { return e.base }

// Doc kinds a payment's receipt names (see VerifyPaymentReceipt).
const (
	// DocKindPayment is the doc of a payment as the agent made it.
	DocKindPayment = "payment"
	// DocKindApproval is the doc of the owner's answer to a held payment.
	DocKindApproval = "approval"
	// receiptItemDoc is the record type of docs in receipts.
	receiptItemDoc = "doc"
)

// WithAgentKey makes the client sign every request with the agent's
// Ed25519 key as an RFC 9421 agent request signature (protocol.SignRequest,
// covering the method, target URI, content type, Content-Digest and
// Idempotency-Key), as WithRequestSigner(key) does. An agent's client
// needs no API key: New(url, "", WithAgentKey(key)).
func WithAgentKey(key *protocol.Ed25519PrivateKey) Option {
	return func(c *Client) {
		if key != nil {
			c.signer = key
		}
	}
}

// WalletFilter selects wallets: Owner (a user id) is for admin keys; a
// user's key lists its own wallets.
type WalletFilter struct {
	Owner string
}

// MandateFilter selects open mandates by owner (admin keys) and agent.
type MandateFilter struct {
	Owner string
	Agent string
}

// PaymentFilter selects payments by owner (admin keys), agent and status
// (completed, held, approved, declined or expired).
type PaymentFilter struct {
	Owner  string
	Agent  string
	Status string
	// After is the NextCursor of the previous page ("" for the first),
	// Limit the page size (0: the server's default).
	After string
	Limit int
}

// withQuery appends the non-empty values of q to path.
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// CreateUser registers a wallet owner with the public JWK that verifies
// what the owner signs (admin keys only). The answer's APIKey is the
// user's writer key, its Secret shown only in this response; a retry with
// the same idempotency key answers the user again without it.
func (c *Client) CreateUser(ctx context.Context, idempotencyKey string, req protocol.CreateUserRequest) (*protocol.WalletUser, error) {
	var out protocol.WalletUser
	if err := c.do(ctx, "create user", http.MethodPost, "/v1/users", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUser returns a wallet owner.
func (c *Client) GetUser(ctx context.Context, id string) (*protocol.WalletUser, error) {
	var out protocol.WalletUser
	if err := c.do(ctx, "get user", http.MethodGet, "/v1/users/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateWallet opens a wallet in a registered currency. req.Owner is
// required of an admin key; a user's key opens wallets for its own user.
func (c *Client) CreateWallet(ctx context.Context, idempotencyKey string, req protocol.CreateWalletRequest) (*protocol.Wallet, error) {
	var out protocol.Wallet
	if err := c.do(ctx, "create wallet", http.MethodPost, "/v1/wallets", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWallet returns a wallet with its balances and what it can pay now
// (Available).
func (c *Client) GetWallet(ctx context.Context, id string) (*protocol.Wallet, error) {
	var out protocol.Wallet
	if err := c.do(ctx, "get wallet", http.MethodGet, "/v1/wallets/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWallets returns the wallets f selects.
func (c *Client) ListWallets(ctx context.Context, f WalletFilter) (*protocol.WalletList, error) {
	var out protocol.WalletList
	if err := c.do(ctx, "list wallets", http.MethodGet, withQuery("/v1/wallets", "owner", f.Owner), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TopUp charges req.Source on req.Rail and credits the wallet. The
// idempotency key is the movement's key: the same key moves money once,
// so pass it again when you retry. A declined charge is an *Error with
// status 422 and code rail_failed.
func (c *Client) TopUp(ctx context.Context, idempotencyKey, walletID string, req protocol.TopUpRequest) (*protocol.WalletMovement, error) {
	var out protocol.WalletMovement
	path := "/v1/wallets/" + url.PathEscape(walletID) + "/topups"
	if err := c.do(ctx, "top up wallet", http.MethodPost, path, idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Withdraw debits the wallet and pays req.Amount out to req.Destination
// on req.Rail; the idempotency key is the movement's key, as for TopUp.
func (c *Client) Withdraw(ctx context.Context, idempotencyKey, walletID string, req protocol.WithdrawalRequest) (*protocol.WalletMovement, error) {
	var out protocol.WalletMovement
	path := "/v1/wallets/" + url.PathEscape(walletID) + "/withdrawals"
	if err := c.do(ctx, "withdraw from wallet", http.MethodPost, path, idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetRules replaces every risk rule of a wallet (a CEL expression per
// rule, validated and cost-bounded by the server) and returns them. An
// invalid rule is an *Error with status 400 whose Param names it.
func (c *Client) SetRules(ctx context.Context, walletID string, rules []protocol.RiskRule) (*protocol.WalletRules, error) {
	var out protocol.WalletRules
	if rules == nil {
		rules = []protocol.RiskRule{}
	}
	path := "/v1/wallets/" + url.PathEscape(walletID) + "/rules"
	if err := c.do(ctx, "set wallet rules", http.MethodPut, path, "", protocol.WalletRules{Rules: rules}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRules returns every risk rule of a wallet.
func (c *Client) GetRules(ctx context.Context, walletID string) (*protocol.WalletRules, error) {
	var out protocol.WalletRules
	if err := c.do(ctx, "get wallet rules", http.MethodGet, "/v1/wallets/"+url.PathEscape(walletID)+"/rules", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RegisterAgent registers an agent from the owner's signed agent
// credential (compact JWS). A credential for a known agent rotates its
// key: the old key is revoked.
func (c *Client) RegisterAgent(ctx context.Context, idempotencyKey, credential string) (*protocol.WalletAgent, error) {
	var out protocol.WalletAgent
	req := protocol.RegisterAgentRequest{Credential: credential}
	if err := c.do(ctx, "register agent", http.MethodPost, "/v1/agents", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAgent returns an agent with every key it had.
func (c *Client) GetAgent(ctx context.Context, id string) (*protocol.WalletAgent, error) {
	var out protocol.WalletAgent
	if err := c.do(ctx, "get agent", http.MethodGet, "/v1/agents/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAgent revokes every key of an agent at once: its signed requests
// are refused (key_revoked) from then on.
func (c *Client) RevokeAgent(ctx context.Context, idempotencyKey, id string) (*protocol.WalletAgent, error) {
	var out protocol.WalletAgent
	if err := c.do(ctx, "revoke agent", http.MethodPost, "/v1/agents/"+url.PathEscape(id)+"/revoke", idempotencyKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IssueMandate gives an agent an open payment mandate (the owner's compact
// JWS, stored verbatim) and returns it as the platform enforces it, with
// what remains of each limit. A refused mandate is an *Error whose code
// is the protocol's (e.g. jws_signature_invalid, token_expired).
func (c *Client) IssueMandate(ctx context.Context, idempotencyKey, mandate string) (*protocol.WalletMandate, error) {
	var out protocol.WalletMandate
	req := protocol.IssueMandateRequest{Mandate: mandate}
	if err := c.do(ctx, "issue mandate", http.MethodPost, "/v1/mandates", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListMandates returns the open mandates f selects.
func (c *Client) ListMandates(ctx context.Context, f MandateFilter) (*protocol.WalletMandateList, error) {
	var out protocol.WalletMandateList
	path := withQuery("/v1/mandates", "owner", f.Owner, "agent", f.Agent)
	if err := c.do(ctx, "list mandates", http.MethodGet, path, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMandate returns an open mandate with what remains of each limit now.
func (c *Client) GetMandate(ctx context.Context, id string) (*protocol.WalletMandate, error) {
	var out protocol.WalletMandate
	if err := c.do(ctx, "get mandate", http.MethodGet, "/v1/mandates/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeMandate revokes an open mandate at once: every payment under it
// not yet committed fails, and later ones are refused.
func (c *Client) RevokeMandate(ctx context.Context, idempotencyKey, id string) (*protocol.WalletMandate, error) {
	var out protocol.WalletMandate
	if err := c.do(ctx, "revoke mandate", http.MethodPost, "/v1/mandates/"+url.PathEscape(id)+"/revoke", idempotencyKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPayments returns a page of the payments f selects (without
// receipts), oldest first; pass its NextCursor as f.After for the next.
func (c *Client) ListPayments(ctx context.Context, f PaymentFilter) (*protocol.WalletPaymentList, error) {
	var out protocol.WalletPaymentList
	limit := ""
	if f.Limit > 0 {
		limit = strconv.Itoa(f.Limit)
	}
	path := withQuery("/v1/payments", "owner", f.Owner, "agent", f.Agent, "status", f.Status, "after", f.After, "limit", limit)
	if err := c.do(ctx, "list payments", http.MethodGet, path, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPayment returns a payment with the receipt of its latest change. It
// does not verify the receipt: see VerifyPaymentReceipt.
func (c *Client) GetPayment(ctx context.Context, id string) (*protocol.WalletPayment, error) {
	var out protocol.WalletPayment
	if err := c.do(ctx, "get payment", http.MethodGet, "/v1/payments/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApprovePayment approves a held payment: every leg is posted. Answering
// a payment that is no longer held is an *Error with status 409 and code
// payment_not_pending. With a trusted log key the answer's receipt is
// verified as for Pay (doc approval/<id>).
func (c *Client) ApprovePayment(ctx context.Context, idempotencyKey, id string) (*protocol.WalletPayment, error) {
	return c.answerPayment(ctx, "approve payment", idempotencyKey, id, "approve")
}

// DeclinePayment declines a held payment: every leg is voided and the
// mandate's limits are released. See ApprovePayment.
func (c *Client) DeclinePayment(ctx context.Context, idempotencyKey, id string) (*protocol.WalletPayment, error) {
	return c.answerPayment(ctx, "decline payment", idempotencyKey, id, "decline")
}

func (c *Client) answerPayment(ctx context.Context, op, idempotencyKey, id, verb string) (*protocol.WalletPayment, error) {
	var out protocol.WalletPayment
	if err := c.do(ctx, op, http.MethodPost, "/v1/payments/"+url.PathEscape(id)+"/"+verb, idempotencyKey, nil, &out); err != nil {
		return nil, err
	}
	return c.checkPaymentReceipt(op, &out)
}

// Pay makes a payment as an agent: it sends the agent's closed payment
// mandate (compact JWS, signed with the agent's key) with the risk
// features it adds (category, metadata) as an RFC 9421 signed request.
// The client must sign its requests (WithAgentKey or WithRequestSigner;
// ErrNoRequestSigner otherwise); it needs no API key.
//
// The payment is completed, or held for the owner (Status "held"). A
// refusal is an *Error whose code is the protocol's (budget_exceeded,
// amount_out_of_range, payee_not_allowed, risk_declined, key_revoked,
// ...). Sending the same closed mandate again answers
// the same payment: retry with the same bytes.
//
// With a trusted log key (WithLogKey, TrustLog) Pay verifies the
// payment's receipt: signed by the log and naming the doc
// "payment/<id>". If it does not verify, Pay returns the payment (it was
// made) with an error wrapping ErrReceipt or ErrPaymentReceiptMismatch.
func (c *Client) Pay(ctx context.Context, closedMandate, category string, metadata map[string]string) (*protocol.WalletPayment, error) {
	if c.signer == nil {
		return nil, fmt.Errorf("agentpay: pay: %w (use WithAgentKey)", ErrNoRequestSigner)
	}
	var out protocol.WalletPayment
	req := protocol.PaymentRequest{ClosedMandate: closedMandate, Category: category, Metadata: metadata}
	if err := c.do(ctx, "pay", http.MethodPost, "/v1/payments", "", req, &out); err != nil {
		return nil, err
	}
	return c.checkPaymentReceipt("pay", &out)
}

// checkPaymentReceipt verifies p's receipt when the client trusts a log.
func (c *Client) checkPaymentReceipt(op string, p *protocol.WalletPayment) (*protocol.WalletPayment, error) {
	m, err := c.logMonitor()
	if errors.Is(err, ErrLogNotTrusted) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("agentpay: %s %s: %w", op, p.ID, err)
	}
	if _, err := m.key.VerifyPaymentReceipt(*p); err != nil {
		return p, fmt.Errorf("agentpay: %s %s: %w", op, p.ID, err)
	}
	return p, nil
}

// VerifyPaymentReceipt verifies a payment's receipt (signature, origin)
// and that it names the doc of the payment's latest change: "payment/<id>",
// or "approval/<id>" once the owner answered. Errors wrap ErrReceipt or
// ErrPaymentReceiptMismatch. It works offline.
func (k *LogKey) VerifyPaymentReceipt(p protocol.WalletPayment) (evidence.Receipt, error) {
	r, err := k.OpenReceipt(p.Receipt)
	if err != nil {
		return evidence.Receipt{}, err
	}
	kind := DocKindPayment
	if p.Answer != nil {
		kind = DocKindApproval
	}
	if p.ID == "" {
		return evidence.Receipt{}, fmt.Errorf("%w: the payment has no id", ErrPaymentReceiptMismatch)
	}
	if _, ok := r.Item(receiptItemDoc, kind+"/"+p.ID); !ok {
		return evidence.Receipt{}, fmt.Errorf("%w: the receipt names no doc %s/%s", ErrPaymentReceiptMismatch, kind, p.ID)
	}
	return r, nil
}

// VerifyPaymentReceipt verifies a payment's receipt with the trusted log
// key; see LogKey.VerifyPaymentReceipt.
func (c *Client) VerifyPaymentReceipt(p protocol.WalletPayment) (evidence.Receipt, error) {
	m, err := c.logMonitor()
	if err != nil {
		return evidence.Receipt{}, err
	}
	return m.key.VerifyPaymentReceipt(p)
}

// DocProof returns the proof of a doc (kind, key and timestamp, as a
// receipt's "doc <kind>/<key>" record names it) into the evidence log
// (GET /v1/log/proof/doc, a read-role key), unverified. Until a signed
// checkpoint covers the doc the error wraps ErrProofNotReady.
func (c *Client) DocProof(ctx context.Context, kind, key string, timestamp uint64) (*protocol.DocProof, error) {
	var out protocol.DocProof
	path := withQuery("/v1/log/proof/doc", "kind", kind, "key", key, "timestamp", strconv.FormatUint(timestamp, 10))
	if err := c.do(ctx, "doc proof", http.MethodGet, path, "", nil, &out); err != nil {
		if e, ok := AsError(err); ok && e.Body.Code == codeProofNotReady {
			return nil, fmt.Errorf("%w: %w", ErrProofNotReady, err)
		}
		return nil, err
	}
	return &out, nil
}
