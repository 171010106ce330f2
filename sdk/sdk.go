// Package sdk is the Go client of the AgentPay /v1 HTTP API, for agents,
// merchants and vendors. It imports only the protocol and evidence
// packages (and the signed-note package whose keys evidence verifies) and
// the standard library.
//
// Every method returns the protocol.* value the API answered, or an error:
// an *Error when the API answered with an error (its HTTP status and
// protocol.Error body), or a transport error wrapped with the operation.
//
// Mutating methods take an idempotency key. Pass the same key when you
// retry a call whose outcome you do not know (a timeout, a 503): the API
// then answers with the original response instead of acting twice. An
// empty key makes the client generate a fresh one, which protects nothing
// across your retries.
//
// Committed transfers carry the evidence log's signed receipt. A client
// given the log's key (WithLogKey) verifies receipts (VerifyReceipt),
// proves transfers into the log (ProveTransfer) and monitors the log: it
// keeps the largest checkpoint it has seen and refuses one that is not
// consistent with it (ErrLogFork, ErrLogRollback).
package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentpay/agentpay/protocol"
)

// Limits, units last.
const (
	// ResponseBodyBytesMax bounds a response body the client reads (a full
	// transfers batch answers about 3 MiB).
	ResponseBodyBytesMax = 64 << 20
	// errorBodyBytesMax bounds how much of a non-JSON error body is kept.
	errorBodyBytesMax = 512
	// defaultTimeout is the default HTTP client's timeout.
	defaultTimeout = 60 * time.Second
)

// Client calls one AgentPay server. It is safe for concurrent use.
type Client struct {
	baseURL   string
	apiKey    string
	http      *http.Client
	userAgent string
	signer    protocol.RequestSigner // nil: requests are not signed

	// The evidence log: the options' key and origin, and the monitor
	// built from them (see receipt.go).
	logMu     sync.Mutex
	logVKey   string
	logOrigin string
	log       *logMonitor
	logErr    error
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send requests with hc (default: an
// http.Client with a 60 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for the server at baseURL (e.g.
// "https://pay.example.com") that authenticates with apiKey, an API key
// secret ("ap_…").
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:   strings.TrimRight(baseURL, "/"),
		apiKey:    apiKey,
		http:      &http.Client{Timeout: defaultTimeout},
		userAgent: "agentpay-go-sdk",
	}
	for _, o := range opts {
		o(c)
	}
	c.initLog()
	return c
}

// Error is an error response of the API.
type Error struct {
	// Status is the HTTP status.
	Status int
	// RequestID is the server's Request-Id, to quote when reporting.
	RequestID string
	// Body is the error the server sent. For a response that was not a
	// JSON error (a proxy's page), Type is empty and Message holds the
	// start of the body.
	Body protocol.Error
	// Payment, for a refused payment or mandate, is the refusal's details:
	// what remains of each limit, the check that failed, the decisions.
	Payment *protocol.PaymentError
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("agentpay: %d %s/%s: %s", e.Status, e.Body.Type, e.Body.Code, e.Body.Message)
	if e.Body.Param != "" {
		msg += " (param " + e.Body.Param + ")"
	}
	return msg
}

// NewIdempotencyKey returns a fresh random idempotency key.
func NewIdempotencyKey() string { return "sdk_" + rand.Text() }

// do sends one request: in (if not nil) as the JSON body, and decodes a
// 2xx response into out.
func (c *Client) do(ctx context.Context, op, method, path, idempotencyKey string, in, out any) error {
	var body io.Reader
	var reqBody []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("agentpay: %s: encoding request: %w", op, err)
		}
		body, reqBody = bytes.NewReader(b), b
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("agentpay: %s: %w", op, err)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost || method == http.MethodDelete {
		if idempotencyKey == "" {
			idempotencyKey = NewIdempotencyKey()
		}
		req.Header.Set(protocol.HeaderIdempotencyKey, idempotencyKey)
	}
	if c.signer != nil {
		if err := protocol.SignRequest(req, reqBody, c.signer, protocol.SignOptions{}); err != nil {
			return fmt.Errorf("agentpay: %s: signing request: %w", op, err)
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("agentpay: %s: %w", op, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, ResponseBodyBytesMax+1))
	if err != nil {
		return fmt.Errorf("agentpay: %s: reading response: %w", op, err)
	}
	if len(b) > ResponseBodyBytesMax {
		return fmt.Errorf("agentpay: %s: response body exceeds %d bytes", op, ResponseBodyBytesMax)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		e := &Error{Status: res.StatusCode, RequestID: res.Header.Get(protocol.HeaderRequestID)}
		if json.Unmarshal(b, &e.Body) != nil || e.Body.Type == "" {
			e.Body = protocol.Error{Message: string(b[:min(len(b), errorBodyBytesMax)])}
		} else {
			var pe protocol.PaymentError
			if json.Unmarshal(b, &pe) == nil && (pe.Limits != nil || pe.Check != nil || pe.Decision != nil || pe.Risk != nil) {
				e.Payment = &pe
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok { // a non-JSON body (log checkpoint, key, tile)
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("agentpay: %s: decoding response: %w", op, err)
	}
	return nil
}

func page(path, after string, limit int) string {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Health reports the server's health: nil error while its ledger engine
// runs, an *Error with status 503 (whose message is the reason) once it
// has failed. It needs no API key.
func (c *Client) Health(ctx context.Context) (*protocol.Health, error) {
	var out protocol.Health
	if err := c.do(ctx, "health", http.MethodGet, "/healthz", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAsset registers an asset (a ledger number with a code and scale).
// Creating an existing asset with the same fields succeeds.
func (c *Client) CreateAsset(ctx context.Context, idempotencyKey string, a protocol.Asset) (*protocol.Asset, error) {
	var out protocol.Asset
	if err := c.do(ctx, "create asset", http.MethodPost, "/v1/assets", idempotencyKey, a, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAssets returns every asset in ledger order.
func (c *Client) ListAssets(ctx context.Context) (*protocol.AssetList, error) {
	var out protocol.AssetList
	if err := c.do(ctx, "list assets", http.MethodGet, "/v1/assets", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAccount creates one account; leave ID empty to have the server
// make one. A ledger rejection is an *Error with status 422 whose code is
// the ledger result (e.g. ledger_not_found).
func (c *Client) CreateAccount(ctx context.Context, idempotencyKey string, a protocol.Account) (*protocol.Account, error) {
	var out protocol.Account
	if err := c.do(ctx, "create account", http.MethodPost, "/v1/accounts", idempotencyKey, a, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAccounts creates up to protocol.AccountsPerRequestMax accounts and
// returns one result per account (rejections are results, not errors).
func (c *Client) CreateAccounts(ctx context.Context, idempotencyKey string, accounts []protocol.Account) (*protocol.BatchResponse, error) {
	var out protocol.BatchResponse
	req := protocol.CreateAccountsRequest{Accounts: accounts}
	if err := c.do(ctx, "create accounts", http.MethodPost, "/v1/accounts/batch", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAccount returns an account with its balances.
func (c *Client) GetAccount(ctx context.Context, id string) (*protocol.Account, error) {
	var out protocol.Account
	if err := c.do(ctx, "get account", http.MethodGet, "/v1/accounts/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AccountBalances returns an account's balances.
func (c *Client) AccountBalances(ctx context.Context, id string) (*protocol.Balances, error) {
	var out protocol.Balances
	if err := c.do(ctx, "get balances", http.MethodGet, "/v1/accounts/"+url.PathEscape(id)+"/balances", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAccounts returns a page of accounts in id order after the cursor
// after ("" for the first page); limit 0 is the server's default. Pass
// the page's NextCursor for the next page; it is "" on the last.
func (c *Client) ListAccounts(ctx context.Context, after string, limit int) (*protocol.AccountList, error) {
	var out protocol.AccountList
	if err := c.do(ctx, "list accounts", http.MethodGet, page("/v1/accounts", after, limit), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AccountTransfers returns a page of the transfers of an account in
// timestamp order, like ListAccounts.
func (c *Client) AccountTransfers(ctx context.Context, id, after string, limit int) (*protocol.TransferList, error) {
	var out protocol.TransferList
	path := page("/v1/accounts/"+url.PathEscape(id)+"/transfers", after, limit)
	if err := c.do(ctx, "list account transfers", http.MethodGet, path, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateTransfer applies one transfer and returns it as committed. A
// ledger rejection is an *Error with status 422 whose code is the ledger
// result (e.g. exceeds_credits). With the server's evidence log on, the
// transfer's Receipt is the log's signed receipt for it: check it with
// VerifyReceipt, prove it later with ProveTransfer.
func (c *Client) CreateTransfer(ctx context.Context, idempotencyKey string, t protocol.Transfer) (*protocol.Transfer, error) {
	var out protocol.Transfer
	if err := c.do(ctx, "create transfer", http.MethodPost, "/v1/transfers", idempotencyKey, t, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateTransfers applies up to protocol.TransfersPerRequestMax transfers
// and returns one result per transfer (rejections are results, not
// errors). Linked chains commit or fail as one. The response's Receipt
// (with the server's evidence log on) is one signed receipt naming every
// committed transfer: check each with VerifyReceipt and prove each with
// ProveTransfer.
func (c *Client) CreateTransfers(ctx context.Context, idempotencyKey string, transfers []protocol.Transfer) (*protocol.BatchResponse, error) {
	var out protocol.BatchResponse
	req := protocol.CreateTransfersRequest{Transfers: transfers}
	if err := c.do(ctx, "create transfers", http.MethodPost, "/v1/transfers/batch", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTransfer returns a committed transfer.
func (c *Client) GetTransfer(ctx context.Context, id string) (*protocol.Transfer, error) {
	var out protocol.Transfer
	if err := c.do(ctx, "get transfer", http.MethodGet, "/v1/transfers/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAPIKey creates an API key (admin keys only). The returned key's
// Secret is shown only in this response; a retry with the same
// idempotency key returns the key without it.
func (c *Client) CreateAPIKey(ctx context.Context, idempotencyKey string, req protocol.CreateAPIKeyRequest) (*protocol.APIKey, error) {
	var out protocol.APIKey
	if err := c.do(ctx, "create API key", http.MethodPost, "/v1/api-keys", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAPIKeys returns every API key, without secrets (admin keys only).
func (c *Client) ListAPIKeys(ctx context.Context) (*protocol.APIKeyList, error) {
	var out protocol.APIKeyList
	if err := c.do(ctx, "list API keys", http.MethodGet, "/v1/api-keys", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAPIKey revokes an API key (admin keys only) and returns it.
// Revoking a revoked key returns it unchanged.
func (c *Client) RevokeAPIKey(ctx context.Context, idempotencyKey, id string) (*protocol.APIKey, error) {
	var out protocol.APIKey
	if err := c.do(ctx, "revoke API key", http.MethodDelete, "/v1/api-keys/"+url.PathEscape(id), idempotencyKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Evidence log (public routes; no API key needed). These only fetch: a
// client with a log key verifies and monitors (SyncLog, ObserveCheckpoint,
// ProveTransfer in receipt.go), or feed them into package evidence.

// LogCheckpoint returns the latest signed checkpoint of the evidence log, a
// C2SP signed note, as served.
func (c *Client) LogCheckpoint(ctx context.Context) ([]byte, error) {
	var out []byte
	if err := c.do(ctx, "log checkpoint", http.MethodGet, "/v1/log/checkpoint", "", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// LogKey returns the signed-note verifier key (vkey) of the log's
// checkpoints. Pin it out of band: a key fetched from the server it
// verifies proves nothing on its own.
func (c *Client) LogKey(ctx context.Context) (string, error) {
	var out []byte
	if err := c.do(ctx, "log key", http.MethodGet, "/v1/log/key", "", nil, &out); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// LogTile returns the tile or entry bundle at a c2sp.org/tlog-tiles path
// ("tile/0/x001/234", "tile/entries/000.p/5", ...).
func (c *Client) LogTile(ctx context.Context, path string) ([]byte, error) {
	if !strings.HasPrefix(path, "tile/") {
		return nil, fmt.Errorf("agentpay: log tile: path %q does not start with tile/", path)
	}
	var out []byte
	if err := c.do(ctx, "log tile", http.MethodGet, "/v1/log/"+path, "", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// LogInclusionProof returns the inclusion proof of leaf index in the log
// tree of size leaves (size at most the latest checkpoint's).
func (c *Client) LogInclusionProof(ctx context.Context, index, size uint64) (*protocol.LogInclusionProof, error) {
	var out protocol.LogInclusionProof
	q := url.Values{"index": {strconv.FormatUint(index, 10)}, "size": {strconv.FormatUint(size, 10)}}
	if err := c.do(ctx, "log inclusion proof", http.MethodGet, "/v1/log/proof/inclusion?"+q.Encode(), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LogConsistencyProof returns the consistency proof from the log tree of
// from leaves to the tree of to leaves (to at most the latest checkpoint's).
func (c *Client) LogConsistencyProof(ctx context.Context, from, to uint64) (*protocol.LogConsistencyProof, error) {
	var out protocol.LogConsistencyProof
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	if err := c.do(ctx, "log consistency proof", http.MethodGet, "/v1/log/proof/consistency?"+q.Encode(), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AsError returns err's *Error, if it holds one.
func AsError(err error) (*Error, bool) {
	return errors.AsType[*Error](err)
}
