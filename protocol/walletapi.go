package protocol

import "encoding/json"

// Bodies of the AI Wallet routes of the /v1 API: users, wallets, agents,
// open payment mandates, payments and per-wallet risk rules. Times are
// RFC 3339 UTC strings; amounts are integers in the currency's smallest
// unit (scale decimal places).

// CreateUserRequest is the body of POST /v1/users (admin): the owner's
// name and the public JWK that verifies what the owner signs (agent
// credentials, open payment mandates).
type CreateUserRequest struct {
	Name string          `json:"name,omitempty"`
	Key  json.RawMessage `json:"key"`
}

// WalletUser is a wallet owner. APIKey is set only in the answer of
// POST /v1/users: the user's writer key, with its secret shown once.
type WalletUser struct {
	ID        string  `json:"id"`
	Name      string  `json:"name,omitempty"`
	Key       JWK     `json:"key"`
	KeyID     string  `json:"key_id"`
	CreatedAt string  `json:"created_at"`
	APIKey    *APIKey `json:"api_key,omitempty"`
	// RevokedKeys are the key ids of the user's earlier keys: what they
	// signed is refused (key_revoked).
	RevokedKeys []string `json:"revoked_keys,omitempty"`
}

// CreateWalletRequest is the body of POST /v1/wallets. Owner is required
// of an admin key; a user's key opens wallets for its own user only.
type CreateWalletRequest struct {
	Owner    string `json:"owner,omitempty"`
	Currency string `json:"currency"`
}

// Wallet is a user's balance in one currency, a ledger account (Account).
// Balances is set on GET /v1/wallets/{id}; Available is what the wallet
// can pay now (credits posted − debits posted − debits pending).
type Wallet struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	Currency  string    `json:"currency"`
	Scale     uint8     `json:"scale"`
	Ledger    uint32    `json:"ledger"`
	Account   string    `json:"account"`
	CreatedAt string    `json:"created_at"`
	Balances  *Balances `json:"balances,omitempty"`
	Available string    `json:"available,omitempty"`
}

// WalletList is the answer of GET /v1/wallets?owner=.
type WalletList struct {
	Data []Wallet `json:"data"`
}

// TopUpRequest is the body of POST /v1/wallets/{id}/topups: Amount is
// charged to Source on Rail ("test" if empty) and credited to the wallet.
// The request's Idempotency-Key is the movement's key: the same key moves
// money once.
type TopUpRequest struct {
	Amount uint64 `json:"amount"`
	Rail   string `json:"rail,omitempty"`
	Source string `json:"source"`
}

// WithdrawalRequest is the body of POST /v1/wallets/{id}/withdrawals:
// Amount is debited from the wallet and paid out to Destination on Rail.
type WithdrawalRequest struct {
	Amount      uint64 `json:"amount"`
	Rail        string `json:"rail,omitempty"`
	Destination string `json:"destination"`
}

// WalletMovement is a top-up or a withdrawal: ID is the ledger transfer
// (tr_...), RailRef the rail's reference.
type WalletMovement struct {
	ID      string `json:"id"`
	Wallet  string `json:"wallet"`
	Amount  uint64 `json:"amount"`
	Rail    string `json:"rail"`
	RailRef string `json:"rail_ref"`
}

// RegisterAgentRequest is the body of POST /v1/agents: the owner's signed
// agent credential (compact JWS). A credential for a known agent rotates
// its key.
type RegisterAgentRequest struct {
	Credential string `json:"credential"`
}

// WalletAgent is an agent registered for an owner. Keys lists every key
// it had, the revoked ones with RevokedAt; ActiveKeyID is empty when the
// agent is revoked.
type WalletAgent struct {
	ID          string           `json:"id"`
	Owner       string           `json:"owner"`
	Name        string           `json:"name,omitempty"`
	ActiveKeyID string           `json:"active_key_id,omitempty"`
	Keys        []WalletAgentKey `json:"keys"`
	Credential  string           `json:"credential"`
	CreatedAt   string           `json:"created_at"`
}

// WalletAgentKey is one key of an agent.
type WalletAgentKey struct {
	KeyID     string `json:"key_id"`
	Key       JWK    `json:"key"`
	AddedAt   string `json:"added_at"`
	RevokedAt string `json:"revoked_at,omitempty"`
}

// IssueMandateRequest is the body of POST /v1/mandates: the owner's open
// payment mandate (compact JWS), stored verbatim.
type IssueMandateRequest struct {
	Mandate string `json:"mandate"`
}

// WalletMandate is an open payment mandate as the platform enforces it.
// Limits says what remains of each limit now (budgets by period, and
// "uses").
type WalletMandate struct {
	ID        string          `json:"id"`
	Owner     string          `json:"owner"`
	Agent     string          `json:"agent"`
	Wallet    string          `json:"wallet"`
	JTI       string          `json:"jti"`
	Hash      string          `json:"hash"`
	JWS       string          `json:"jws"`
	Currency  string          `json:"currency"`
	Scale     uint8           `json:"scale"`
	Budgets   []MandateBudget `json:"budgets,omitempty"`
	Uses      int64           `json:"uses,omitempty"`
	NotBefore string          `json:"not_before"`
	Expiry    string          `json:"expiry"`
	IssuedAt  string          `json:"issued_at"`
	RevokedAt string          `json:"revoked_at,omitempty"`
	Limits    []Limit         `json:"limits"`
}

// MandateBudget is one budget of a mandate: its period (day, week, month
// or total) and cap.
type MandateBudget struct {
	Period string `json:"period"`
	Max    int64  `json:"max"`
}

// WalletMandateList is the answer of GET /v1/mandates.
type WalletMandateList struct {
	Data []WalletMandate `json:"data"`
}

// PaymentRequest is the body of POST /v1/payments, an agent's signed
// request: its closed payment mandate (compact JWS) and the risk features
// it may add.
type PaymentRequest struct {
	ClosedMandate string            `json:"closed_mandate"`
	Category      string            `json:"category,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// WalletPayment is a payment an agent made under a mandate. Status is
// completed, held (waiting for the owner until ExpiresAt), approved,
// declined or expired. Decision is the evaluation of every constraint of
// the open mandate; Risk the risk rules' decision; Limits what remains of
// each limit after the payment.
type WalletPayment struct {
	ID            string         `json:"id"`
	Mandate       string         `json:"mandate"`
	Agent         string         `json:"agent"`
	Owner         string         `json:"owner"`
	Wallet        string         `json:"wallet"`
	Payee         string         `json:"payee"`
	Amount        int64          `json:"amount"`
	Currency      string         `json:"currency"`
	Scale         uint8          `json:"scale"`
	Status        string         `json:"status"`
	HoldReason    string         `json:"hold_reason,omitempty"`
	ClosedMandate string         `json:"closed_mandate"`
	Decision      Decision       `json:"decision"`
	Risk          RiskDecision   `json:"risk"`
	Limits        []Limit        `json:"limits"`
	CreatedAt     string         `json:"created_at"`
	ExpiresAt     string         `json:"expires_at,omitempty"`
	Answer        *PaymentAnswer `json:"answer,omitempty"`
	// Receipt (on a single payment, not in lists) is the evidence log's
	// signed receipt for the payment's latest change: its transfers and its
	// doc ("doc payment/<id>" or "doc approval/<id>"); see EvidenceReceipt
	// and GET /v1/log/proof/doc.
	Receipt string `json:"receipt,omitempty"`
}

// PaymentAnswer is the owner's answer to a held payment.
type PaymentAnswer struct {
	Approved bool   `json:"approved"`
	At       string `json:"at"`
}

// WalletPaymentList is a page of the answer of GET /v1/payments, oldest
// first; pass NextCursor as ?after= for the next page. NextCursor is
// empty on the last page.
type WalletPaymentList struct {
	Data       []WalletPayment `json:"data"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// RiskDecision is the risk rules' decision on a payment: its outcome
// (approve, review, step_up or decline), the reason codes of the rules
// that matched, and the matches.
type RiskDecision struct {
	Outcome string      `json:"outcome"`
	Reasons []string    `json:"reasons"`
	Matches []RiskMatch `json:"matches,omitempty"`
}

// RiskMatch is one matched rule.
type RiskMatch struct {
	RuleID  string `json:"rule_id"`
	Scope   string `json:"scope"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

// RiskRule is a wallet's CEL risk rule. Scope is the wallet id; it is set
// by the server and may be omitted on PUT.
type RiskRule struct {
	ID         string `json:"id"`
	Scope      string `json:"scope,omitempty"`
	Expression string `json:"expression"`
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason"`
	Priority   int    `json:"priority,omitempty"`
	Enabled    bool   `json:"enabled"`
}

// WalletRules is the body of PUT /v1/wallets/{id}/rules and the answer of
// both rules routes: every rule of the wallet (a PUT replaces them all).
type WalletRules struct {
	Wallet string     `json:"wallet,omitempty"`
	Rules  []RiskRule `json:"rules"`
}

// PaymentError is the error body of a refused payment or mandate: an
// Error whose code is the refusal's code, with what remains of each limit
// of the mandate, the constraint check that failed, and the decisions.
type PaymentError struct {
	Type     string        `json:"type"`
	Code     string        `json:"code"`
	Message  string        `json:"message"`
	Param    string        `json:"param,omitempty"`
	Limits   []Limit       `json:"limits,omitempty"`
	Check    *Check        `json:"check,omitempty"`
	Decision *Decision     `json:"decision,omitempty"`
	Risk     *RiskDecision `json:"risk,omitempty"`
}

// Checkout purchases. The operator registers merchants (the keys that
// verify the checkouts and price attestations they sign); owners give
// their agents open checkout mandates; an agent buys with
// POST /v1/payments in its purchase form (PurchaseRequest).

// RegisterMerchantRequest is the body of POST /v1/merchants (admin): the
// merchant's id (the iss of what it signs and the payee id agents pay),
// its name, its optional category and its public JWK. Registering a
// known merchant again replaces its key and category.
type RegisterMerchantRequest struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Category is the merchant's category (ValidCategory), judged by
	// payment.allowed_categories; empty for none.
	Category string          `json:"category,omitempty"`
	Key      json.RawMessage `json:"key"`
}

// WalletMerchant is a registered merchant.
type WalletMerchant struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Category  string `json:"category,omitempty"`
	Key       JWK    `json:"key"`
	KeyID     string `json:"key_id"`
	CreatedAt string `json:"created_at"`
}

// IssueCheckoutMandateRequest is the body of POST /v1/checkout-mandates:
// the owner's open checkout mandate (compact JWS), stored verbatim.
type IssueCheckoutMandateRequest struct {
	Mandate string `json:"mandate"`
}

// WalletCheckoutMandate is an open checkout mandate as the platform
// enforces it: which checkouts its agent may choose (allowed merchants,
// line items, price conditions, in JWS). Hash is what the agent's closed
// checkout mandates name as open_mandate_hash and what the open payment
// mandate's payment.reference constraint names.
type WalletCheckoutMandate struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	Agent     string `json:"agent"`
	JTI       string `json:"jti"`
	Hash      string `json:"hash"`
	JWS       string `json:"jws"`
	NotBefore string `json:"not_before"`
	Expiry    string `json:"expiry"`
	IssuedAt  string `json:"issued_at"`
	RevokedAt string `json:"revoked_at,omitempty"`
}

// WalletCheckoutMandateList is the answer of GET /v1/checkout-mandates.
type WalletCheckoutMandateList struct {
	Data []WalletCheckoutMandate `json:"data"`
}

// PurchaseRequest is the purchase form of the body of POST /v1/payments,
// an agent's signed request: its closed checkout mandate (embedding the
// merchant-signed checkout), the closed payment mandate paying for that
// checkout (both compact JWS), an optional price attestation (compact
// JWS) for a price condition that names attestors, and the risk features
// it may add. A body carries either this form or PaymentRequest's
// closed_mandate, never both.
type PurchaseRequest struct {
	CheckoutMandate string            `json:"checkout_mandate"`
	PaymentMandate  string            `json:"payment_mandate"`
	Price           string            `json:"price,omitempty"`
	Category        string            `json:"category,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

// PurchaseCheckout is what a purchase paid for: the checkout (its hash,
// the merchant's checkout id, the merchant that signed it), the hash of
// the agent's closed checkout mandate, the id of the open checkout
// mandate it was made under and the issuer of the price attestation
// used, if any.
type PurchaseCheckout struct {
	Hash            string `json:"hash"`
	ID              string `json:"id"`
	Merchant        string `json:"merchant"`
	MandateHash     string `json:"mandate_hash"`
	OpenMandate     string `json:"open_mandate"`
	PriceAttestedBy string `json:"price_attested_by,omitempty"`
}

// WalletPurchase is the answer of POST /v1/payments in its purchase form:
// the payment (with its receipt, as a direct payment's) and the checkout
// it paid for.
type WalletPurchase struct {
	WalletPayment
	Checkout PurchaseCheckout `json:"checkout"`
}

// RotateUserKeyRequest is the body of POST /v1/users/{id}/key: the user's
// new public key (JWK); the old one is revoked at once.
type RotateUserKeyRequest struct {
	Key json.RawMessage `json:"key"`
}
