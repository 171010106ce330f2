// Package protocol holds AgentPay's public wire types: the JSON objects of
// the HTTP API (/v1) and, as the ACT protocol lands, its signed objects.
// It imports only the standard library so that any client can use it.
package protocol

// ID prefixes used on the wire. An ID is the prefix followed by 26
// characters of Crockford base32 (a 128-bit value, ULID text form).
const (
	PrefixAccount  = "acct_"
	PrefixTransfer = "tr_"
	PrefixAPIKey   = "key_"
)

// Header names.
const (
	HeaderIdempotencyKey      = "Idempotency-Key"
	HeaderIdempotentReplayed  = "Idempotent-Replayed"
	HeaderRequestID           = "Request-Id"
	IdempotencyKeyLengthMax   = 255
	TransfersPerRequestMax    = 8189
	AccountsPerRequestMax     = 8189
	PageLimitDefault          = 100
	PageLimitMax              = 1000
	RequestBodyBytesMax       = 4 << 20 // batch endpoints
	SingleRequestBodyBytesMax = 64 << 10
)

// Error is every error response body. Type is one of the ErrorType values;
// Code is a stable snake_case reason (for ledger rejections, the ledger's
// result name, e.g. "exceeds_credits"); Param names the offending field
// when there is one, as a JSON path like "transfers[3].amount".
type Error struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// Error types. Each maps to exactly one HTTP status.
const (
	ErrorInvalidRequest      = "invalid_request"      // 400
	ErrorAuthentication      = "authentication"       // 401
	ErrorPermission          = "permission"           // 403
	ErrorNotFound            = "not_found"            // 404
	ErrorMethodNotAllowed    = "method_not_allowed"   // 405
	ErrorConflict            = "conflict"             // 409: idempotent request in flight
	ErrorRequestTooLarge     = "request_too_large"    // 413
	ErrorUnsupportedMedia    = "unsupported_media"    // 415
	ErrorIdempotencyMismatch = "idempotency_mismatch" // 422: same key, different request
	ErrorRejected            = "rejected"             // 422: the ledger refused the request
	ErrorUnavailable         = "unavailable"          // 503
	ErrorInternal            = "internal"             // 500
)

// Asset is a unit of value on one ledger.
type Asset struct {
	Ledger    uint32 `json:"ledger"`
	Code      string `json:"code"`
	Scale     uint8  `json:"scale"`
	CreatedAt string `json:"created_at,omitempty"` // RFC 3339, UTC, nanoseconds
}

// Balances are an account's four balances as base-10 strings (128-bit).
type Balances struct {
	DebitsPending  string `json:"debits_pending"`
	DebitsPosted   string `json:"debits_posted"`
	CreditsPending string `json:"credits_pending"`
	CreditsPosted  string `json:"credits_posted"`
}

// Account is a ledger account. On create, ID is optional (the server
// makes one), Balances and CreatedAt are ignored if empty and refused if
// set.
type Account struct {
	ID          string    `json:"id,omitempty"`
	Ledger      uint32    `json:"ledger"`
	Code        uint16    `json:"code"`
	Flags       []string  `json:"flags,omitempty"` // account flag names
	Limit       uint64    `json:"limit,omitempty"`
	UserData128 string    `json:"user_data_128,omitempty"` // 26-char ID text
	UserData64  uint64    `json:"user_data_64,omitempty"`
	UserData32  uint32    `json:"user_data_32,omitempty"`
	Balances    *Balances `json:"balances,omitempty"`
	Timestamp   uint64    `json:"timestamp,omitempty"` // engine timestamp, ns since epoch
	CreatedAt   string    `json:"created_at,omitempty"`
}

// Account flag names.
const (
	AccountFlagLinked                     = "linked"
	AccountFlagDebitsMustNotExceedCredits = "debits_must_not_exceed_credits"
	AccountFlagCreditsMustNotExceedDebits = "credits_must_not_exceed_debits"
	AccountFlagHistory                    = "history"
	AccountFlagClosed                     = "closed" // read-only
)

// Transfer moves an amount between two accounts of one ledger. On create,
// ID is the client's idempotency key for the transfer (optional: the
// server makes one); Amount is required except for post_pending (absent =
// the full pending amount) and void_pending.
type Transfer struct {
	ID              string   `json:"id,omitempty"`
	DebitAccountID  string   `json:"debit_account_id,omitempty"`
	CreditAccountID string   `json:"credit_account_id,omitempty"`
	Amount          *uint64  `json:"amount,omitempty"`
	PendingID       string   `json:"pending_id,omitempty"`
	UserData128     string   `json:"user_data_128,omitempty"`
	UserData64      uint64   `json:"user_data_64,omitempty"`
	UserData32      uint32   `json:"user_data_32,omitempty"`
	TimeoutSeconds  uint32   `json:"timeout_seconds,omitempty"`
	Ledger          uint32   `json:"ledger,omitempty"`
	Code            uint16   `json:"code,omitempty"`
	Flags           []string `json:"flags,omitempty"` // transfer flag names
	Timestamp       uint64   `json:"timestamp,omitempty"`
	CreatedAt       string   `json:"created_at,omitempty"`
	// Receipt, on the response to a committed transfer, is the evidence
	// log's signed receipt for it (see EvidenceReceipt); read-only.
	Receipt string `json:"receipt,omitempty"`
}

// A receipt (the Receipt of a committed transfer or batch) is a signed
// note by the evidence log's key, the key of GET /v1/log/key:
//
//	agentpay.dev/receipt/v1
//	<log origin>
//	<log index> <entry hash, base64>
//	transfer <transfer id> <timestamp> <leaf hash, base64>
//	...
//
// naming the log entry of the batch that committed the transfers and each
// transfer's leaf hash in that batch's tree. GET /v1/transfers/{id}/proof
// returns the proof from the leaf to a signed checkpoint once one covers
// the entry. Package evidence parses and verifies receipts (OpenReceipt).
const EvidenceReceipt = "agentpay.dev/receipt/v1"

// TransferProof is the body of GET /v1/transfers/{id}/proof: a two-level
// inclusion proof of a committed transfer into the evidence log at the
// latest checkpoint. Leaf is the transfer's leaf in its batch's tree (the
// byte 'T', then its 128-byte record: id 16, debit account 16, credit
// account 16, amount 8, pending id 16, user_data_128 16, user_data_64 8,
// user_data_32 4, timeout 4, ledger 4, code 2, flags 2, timestamp 8,
// fingerprint 8, integers big-endian); BatchEntry is the canonical log entry of the
// batch, committing to the batch tree's root; BatchPath the leaf's audit
// path in the batch tree; LogPath the entry's audit path in the log tree of
// LogSize leaves; Checkpoint the signed checkpoint of that size. Byte
// strings are base64 (standard, padded) in JSON.
type TransferProof struct {
	TransferID string   `json:"transfer_id"`
	Leaf       []byte   `json:"leaf"`
	BatchEntry []byte   `json:"batch_entry"`
	BatchIndex uint64   `json:"batch_index"`
	BatchPath  [][]byte `json:"batch_path"`
	LogIndex   uint64   `json:"log_index"`
	LogSize    uint64   `json:"log_size"`
	LogPath    [][]byte `json:"log_path"`
	Checkpoint string   `json:"checkpoint"`
}

// Transfer flag names.
const (
	TransferFlagLinked          = "linked"
	TransferFlagPending         = "pending"
	TransferFlagPostPending     = "post_pending"
	TransferFlagVoidPending     = "void_pending"
	TransferFlagBalancingDebit  = "balancing_debit"
	TransferFlagBalancingCredit = "balancing_credit"
	TransferFlagClosingDebit    = "closing_debit"
	TransferFlagClosingCredit   = "closing_credit"
)

// CreateTransfersRequest is the body of POST /v1/transfers/batch.
type CreateTransfersRequest struct {
	Transfers []Transfer `json:"transfers"`
}

// CreateAccountsRequest is the body of POST /v1/accounts/batch.
type CreateAccountsRequest struct {
	Accounts []Account `json:"accounts"`
}

// EventResult is the outcome of one event of a batch request. Result is
// "ok", "exists" or a ledger rejection code; Index is the event's position
// in the request.
type EventResult struct {
	Index    int       `json:"index"`
	Result   string    `json:"result"`
	Transfer *Transfer `json:"transfer,omitempty"` // batch transfers: the transfer as committed
	Account  *Account  `json:"account,omitempty"`  // batch accounts: the account as created
	// Param names the field a rejection is about, as a JSON path into the
	// request (e.g. "transfers[3].amount"), when one field is to blame.
	Param string `json:"param,omitempty"`
}

// BatchResponse is the body of a batch create response (200 even if some
// events were rejected; each event carries its own result).
type BatchResponse struct {
	Results  []EventResult `json:"results"`
	Accepted int           `json:"accepted"` // events with result ok or exists
	Rejected int           `json:"rejected"`
	// Receipt, on a transfer batch that committed transfers, is the
	// evidence log's signed receipt for them (see EvidenceReceipt).
	Receipt string `json:"receipt,omitempty"`
}

// AccountList is a page of accounts; pass NextCursor as ?after= for the
// next page. NextCursor is empty on the last page.
type AccountList struct {
	Data       []Account `json:"data"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// TransferList is a page of transfers.
type TransferList struct {
	Data       []Transfer `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// AssetList is every asset.
type AssetList struct {
	Data []Asset `json:"data"`
}

// APIKey describes an API key. Secret is present only in the response that
// creates the key.
type APIKey struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Party     string `json:"party,omitempty"`
	Role      string `json:"role"` // admin, writer or reader
	Prefix    string `json:"prefix,omitempty"`
	Secret    string `json:"secret,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	RevokedAt string `json:"revoked_at,omitempty"`
}

// CreateAPIKeyRequest is the body of POST /v1/api-keys. Role is required
// (admin, writer or reader); Name and Party are free text (printable, at
// most APIKeyTextBytesMax bytes each).
type CreateAPIKeyRequest struct {
	Name  string `json:"name,omitempty"`
	Party string `json:"party,omitempty"`
	Role  string `json:"role"`
}

// APIKeyTextBytesMax bounds an API key's name and party.
const APIKeyTextBytesMax = 200

// API key roles.
const (
	RoleAdmin  = "admin"  // everything, including API keys
	RoleWriter = "writer" // ledger writes and reads
	RoleReader = "reader" // reads only
)

// Health is the body of a healthy GET /healthz. An unhealthy server
// answers 503 with an Error of type unavailable whose message is the
// reason.
type Health struct {
	Status string `json:"status"` // "ok"
}

// APIKeyList is every API key.
type APIKeyList struct {
	Data []APIKey `json:"data"`
}

// LogInclusionProof is the body of GET /v1/log/proof/inclusion: the RFC
// 6962 audit path of leaf Index in the evidence log tree of Size leaves.
// Hashes are 32 bytes each, base64 (standard, padded) in JSON.
type LogInclusionProof struct {
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
}

// LogConsistencyProof is the body of GET /v1/log/proof/consistency: the
// RFC 6962 consistency proof from the tree of From leaves to the tree of To
// leaves. Hashes are 32 bytes each, base64 (standard, padded) in JSON.
type LogConsistencyProof struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// AccountChain is a page of GET /v1/accounts/{id}/chain: the account's
// transfers, oldest first, each with its leaf (as in TransferProof) and its
// link in the account's hash chain (see package evidence, ChainStart and
// ChainNext), and Head, the evidence log's signed head of the chain at
// Count, the position of the page's last link. A wallet recomputes the
// links from the leaves alone and keeps the last head it verified. Byte
// strings are base64 (standard, padded) in JSON.
type AccountChain struct {
	AccountID  string             `json:"account_id"`
	Links      []AccountChainLink `json:"links"`
	Count      uint64             `json:"count"`
	Head       string             `json:"head"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// AccountChainLink is one transfer of an account chain.
type AccountChainLink struct {
	Position   uint64 `json:"position"` // 1 for the account's first transfer
	TransferID string `json:"transfer_id"`
	Timestamp  uint64 `json:"timestamp"`
	Leaf       []byte `json:"leaf"`
	Link       []byte `json:"link"`
}

// DocProof is the body of GET /v1/log/proof/doc: the two-level inclusion
// proof of a doc (a service's committed state change: a payment, a
// mandate, an approval) that a receipt names as "doc <kind>/<key>", like
// TransferProof. Leaf is the byte 'D', the kind's length and the kind, the
// key's length and the key, the timestamp (8 bytes, big-endian) and the
// SHA-256 of the doc's body.
type DocProof struct {
	Kind       string   `json:"kind"`
	Key        string   `json:"key"`
	Timestamp  uint64   `json:"timestamp"`
	Leaf       []byte   `json:"leaf"`
	BatchEntry []byte   `json:"batch_entry"`
	BatchIndex uint64   `json:"batch_index"`
	BatchPath  [][]byte `json:"batch_path"`
	LogIndex   uint64   `json:"log_index"`
	LogSize    uint64   `json:"log_size"`
	LogPath    [][]byte `json:"log_path"`
	Checkpoint string   `json:"checkpoint"`
}
