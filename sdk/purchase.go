package sdk

// Checkout purchase methods. The operator registers merchants (admin
// keys); owners give their agents open checkout mandates and may list,
// read and revoke their own; agents buy with Purchase, signed like Pay.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/agentpay/agentpay/protocol"
)

// RegisterMerchant registers a merchant (admin keys only): the public JWK
// that verifies the checkouts and price attestations it signs. req.ID is
// the iss of what the merchant signs and the payee id agents pay.
// Registering a known merchant again replaces its key; a key another
// party holds is an *Error with status 409.
func (c *Client) RegisterMerchant(ctx context.Context, idempotencyKey string, req protocol.RegisterMerchantRequest) (*protocol.WalletMerchant, error) {
	var out protocol.WalletMerchant
	if err := c.do(ctx, "register merchant", http.MethodPost, "/v1/merchants", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMerchant returns a registered merchant and its key.
func (c *Client) GetMerchant(ctx context.Context, id string) (*protocol.WalletMerchant, error) {
	var out protocol.WalletMerchant
	if err := c.do(ctx, "get merchant", http.MethodGet, "/v1/merchants/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IssueCheckoutMandate gives an agent an open checkout mandate (the
// owner's compact JWS: allowed merchants, line items, price conditions),
// stored verbatim. The owner needs a wallet. A refused mandate is an
// *Error whose code is the protocol's.
func (c *Client) IssueCheckoutMandate(ctx context.Context, idempotencyKey, mandate string) (*protocol.WalletCheckoutMandate, error) {
	var out protocol.WalletCheckoutMandate
	req := protocol.IssueCheckoutMandateRequest{Mandate: mandate}
	if err := c.do(ctx, "issue checkout mandate", http.MethodPost, "/v1/checkout-mandates", idempotencyKey, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCheckoutMandates returns the open checkout mandates f selects
// (Owner for admin keys, Agent).
func (c *Client) ListCheckoutMandates(ctx context.Context, f MandateFilter) (*protocol.WalletCheckoutMandateList, error) {
	var out protocol.WalletCheckoutMandateList
	path := withQuery("/v1/checkout-mandates", "owner", f.Owner, "agent", f.Agent)
	if err := c.do(ctx, "list checkout mandates", http.MethodGet, path, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCheckoutMandate returns an open checkout mandate.
func (c *Client) GetCheckoutMandate(ctx context.Context, id string) (*protocol.WalletCheckoutMandate, error) {
	var out protocol.WalletCheckoutMandate
	if err := c.do(ctx, "get checkout mandate", http.MethodGet, "/v1/checkout-mandates/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeCheckoutMandate revokes an open checkout mandate at once: every
// purchase under it not yet committed fails, and later ones are refused
// (revoked).
func (c *Client) RevokeCheckoutMandate(ctx context.Context, idempotencyKey, id string) (*protocol.WalletCheckoutMandate, error) {
	var out protocol.WalletCheckoutMandate
	path := "/v1/checkout-mandates/" + url.PathEscape(id) + "/revoke"
	if err := c.do(ctx, "revoke checkout mandate", http.MethodPost, path, idempotencyKey, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Purchase buys a checkout as an agent: it sends the agent's closed
// checkout mandate (embedding the merchant-signed checkout) and the
// closed payment mandate paying for it (both compact JWS signed with the
// agent's key), an optional price attestation (compact JWS; "" for none)
// and the risk features it adds, as an RFC 9421 signed request to
// POST /v1/payments. The client must sign its requests (WithAgentKey or
// WithRequestSigner; ErrNoRequestSigner otherwise).
//
// The purchase is completed, or held for the owner (Status "held"). A
// refusal is an *Error whose code is the protocol's
// (price_condition_not_met, merchant_mismatch, merchant_not_allowed,
// checkout_hash_mismatch, budget_exceeded, replayed, ...). Sending the
// same closed mandates again answers the same purchase; a checkout is
// paid once.
//
// With a trusted log key Purchase verifies the receipt as Pay does
// (doc "payment/<id>"); if it does not verify, Purchase returns the
// purchase (it was made) with an error wrapping ErrReceipt or
// ErrPaymentReceiptMismatch.
func (c *Client) Purchase(ctx context.Context, checkoutMandate, paymentMandate, price, category string, metadata map[string]string) (*protocol.WalletPurchase, error) {
	if c.signer == nil {
		return nil, fmt.Errorf("agentpay: purchase: %w (use WithAgentKey)", ErrNoRequestSigner)
	}
	var out protocol.WalletPurchase
	req := protocol.PurchaseRequest{CheckoutMandate: checkoutMandate, PaymentMandate: paymentMandate, Price: price,
		Category: category, Metadata: metadata}
	if err := c.do(ctx, "purchase", http.MethodPost, "/v1/payments", "", req, &out); err != nil {
		return nil, err
	}
	if _, err := c.checkPaymentReceipt("purchase", &out.WalletPayment); err != nil {
		return &out, err
	}
	return &out, nil
}
