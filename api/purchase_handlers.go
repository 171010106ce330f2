package api

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/agentpay/agentpay/internal/jsonscan"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/wallet"
)

// Checkout purchase routes. The operator (an admin key) registers
// merchants: the public keys that verify the checkouts and price
// attestations they sign. Owners give their agents open checkout mandates
// (POST /v1/checkout-mandates) and may read and revoke only their own
// (403 not_owner otherwise). Agents buy with POST /v1/payments in its
// purchase form ({checkout_mandate, payment_mandate, price?}), signed like
// a direct payment; a body holds exactly one of the two forms.
//
// A purchase is idempotent by its closed mandates, like a direct payment:
// the same closed checkout and payment mandate bytes again (in a newly
// signed request) answer the same purchase with 200 and
// Idempotent-Replayed: true. Another closed payment mandate with the same
// jti, or new closed mandates for a checkout paid already, are refused
// 409 replayed. Refusals are rendered as for direct payments.

// purchaseRoutes lists the merchant and checkout mandate operations
// (POST /v1/payments is walletRoutes', answered by payOrPurchase).
func (s *Server) purchaseRoutes() []*route {
	return []*route{
		{pattern: "POST /v1/merchants", access: accessAdmin, bodyBytesMax: singleBodyBytesMax, handle: s.registerMerchant},
		{pattern: "GET /v1/merchants/{id}", access: accessRead, handle: s.getMerchant},

		{pattern: "POST /v1/checkout-mandates", access: accessWrite, bodyBytesMax: singleBodyBytesMax, handle: s.issueCheckoutMandate},
		{pattern: "GET /v1/checkout-mandates", access: accessRead, query: []string{"owner", "agent"}, handle: s.listCheckoutMandates},
		{pattern: "GET /v1/checkout-mandates/{id}", access: accessRead, handle: s.getCheckoutMandate},
		{pattern: "POST /v1/checkout-mandates/{id}/revoke", access: accessWrite, handle: s.revokeCheckoutMandate},
	}
}

// Merchants.

func (s *Server) registerMerchant(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req protocol.RegisterMerchantRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if req.ID == "" {
		return invalid(codeMissingField, "id", "id is required: the merchant's id, the iss of what it signs")
	}
	if len(req.Key) == 0 {
		return invalid(codeMissingField, "key", "key is required: the merchant's public JWK")
	}
	if err := validText(req.Name, "name"); err != nil {
		return err
	}
	jwk, err := protocol.ParseJWK(req.Key)
	if err != nil {
		return invalid(string(protocol.CodeOf(err)), "key", "key: %v", err)
	}
	mc, err := svc.RegisterMerchant(c.engineCtx(), req.ID, req.Name, req.Category, jwk)
	if err != nil {
		return walletError(err, codeMerchantNotFound)
	}
	return c.sendValue(http.StatusCreated, toProtocolMerchant(mc))
}

func (s *Server) getMerchant(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	mc, err := svc.Merchant(c.r.PathValue("id"))
	if err != nil {
		return walletError(err, codeMerchantNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolMerchant(mc))
}

func toProtocolMerchant(mc *wallet.Merchant) protocol.WalletMerchant {
	return protocol.WalletMerchant{ID: mc.ID, Name: mc.Name, Category: mc.Category, Key: mc.Key, KeyID: mc.KeyID, CreatedAt: rfc3339(mc.CreatedAt)}
}

// Open checkout mandates.

func (s *Server) issueCheckoutMandate(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req protocol.IssueCheckoutMandateRequest
	if err := decodeJSON(c.body, &req, ""); err != nil {
		return err
	}
	if req.Mandate == "" {
		return invalid(codeMissingField, "mandate", "mandate is required: the owner's signed open checkout mandate (compact JWS)")
	}
	owner := c.key.Party
	if c.key.Role == store.RoleAdmin {
		owner = peekIssuer(req.Mandate)
	}
	if owner == "" && c.key.Role != store.RoleAdmin {
		return c.actsFor("")
	}
	cm, err := svc.IssueCheckoutMandate(c.engineCtx(), owner, []byte(req.Mandate))
	if err != nil {
		return walletError(err, codeCheckoutMandateNotFound)
	}
	return c.sendValue(http.StatusCreated, toProtocolCheckoutMandate(cm))
}

// ownCheckoutMandate returns the open checkout mandate of the path, if
// the caller may act for its owner.
func (s *Server) ownCheckoutMandate(c *call) (*wallet.Service, *wallet.CheckoutMandate, error) {
	return own(s, c, (*wallet.Service).CheckoutMandate, func(cm *wallet.CheckoutMandate) string { return cm.Owner }, codeCheckoutMandateNotFound)
}

func (s *Server) getCheckoutMandate(c *call) error {
	_, cm, err := s.ownCheckoutMandate(c)
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolCheckoutMandate(cm))
}

func (s *Server) revokeCheckoutMandate(c *call) error {
	svc, cm, err := s.ownCheckoutMandate(c)
	if err != nil {
		return err
	}
	cm, err = svc.RevokeCheckoutMandate(c.engineCtx(), cm.Owner, cm.ID)
	if err != nil {
		return walletError(err, codeCheckoutMandateNotFound)
	}
	return c.sendValue(http.StatusOK, toProtocolCheckoutMandate(cm))
}

func (s *Server) listCheckoutMandates(c *call) error {
	svc, err := s.svc()
	if err != nil {
		return err
	}
	owner, err := c.listOwner(svc)
	if err != nil {
		return err
	}
	list := protocol.WalletCheckoutMandateList{Data: []protocol.WalletCheckoutMandate{}}
	for _, cm := range svc.CheckoutMandates(owner, c.r.URL.Query().Get("agent")) {
		list.Data = append(list.Data, toProtocolCheckoutMandate(cm))
	}
	return c.sendValue(http.StatusOK, list)
}

func toProtocolCheckoutMandate(cm *wallet.CheckoutMandate) protocol.WalletCheckoutMandate {
	return protocol.WalletCheckoutMandate{ID: cm.ID, Owner: cm.Owner, Agent: cm.Agent, JTI: cm.JTI, Hash: cm.Hash, JWS: cm.JWS,
		NotBefore: rfc3339(cm.NotBefore), Expiry: rfc3339(cm.Expiry), IssuedAt: rfc3339(cm.IssuedAt), RevokedAt: rfc3339p(cm.RevokedAt)}
}

// Purchases.

// paymentBody is the body of POST /v1/payments in either of its forms:
// a direct payment (protocol.PaymentRequest) or a purchase
// (protocol.PurchaseRequest).
type paymentBody struct {
	ClosedMandate   string            `json:"closed_mandate"`
	CheckoutMandate string            `json:"checkout_mandate"`
	PaymentMandate  string            `json:"payment_mandate"`
	Price           string            `json:"price"`
	Category        string            `json:"category"`
	Metadata        map[string]string `json:"metadata"`
}

// readPaymentBody reads the usual body of POST /v1/payments (its mandates
// and price as plain strings, a category, no metadata) without
// reflection, the way decodeJSON would; it gives up (false) on anything
// else, and decodeJSON reads it as always, so every error stays
// decodeJSON's (FuzzPaymentBody checks the two agree).
func readPaymentBody(body []byte, req *paymentBody) bool {
	if !utf8.Valid(body) {
		return false
	}
	s := jsonscan.New(body)
	ok := s.Object(func(name []byte) bool {
		switch string(name) {
		case "closed_mandate":
			return s.Str(&req.ClosedMandate)
		case "checkout_mandate":
			return s.Str(&req.CheckoutMandate)
		case "payment_mandate":
			return s.Str(&req.PaymentMandate)
		case "price":
			return s.Str(&req.Price)
		case "category":
			return s.Str(&req.Category)
		}
		return false // metadata, or a member decodeJSON refuses
	})
	return ok && s.End()
}

// payOrPurchase answers POST /v1/payments: a body with closed_mandate is
// a direct payment (pay), one with checkout_mandate and payment_mandate a
// purchase; a body with both forms, or with neither, is refused 400.
func (s *Server) payOrPurchase(c *call) error {
	agentID, err := c.agentID()
	if err != nil {
		return err
	}
	svc, err := s.svc()
	if err != nil {
		return err
	}
	var req paymentBody
	if !readPaymentBody(c.body, &req) {
		req = paymentBody{}
		if err := decodeJSON(c.body, &req, ""); err != nil {
			return err
		}
	}
	direct := req.ClosedMandate != ""
	purchase := req.CheckoutMandate != "" || req.PaymentMandate != "" || req.Price != ""
	switch {
	case direct && purchase:
		param := "checkout_mandate"
		if req.CheckoutMandate == "" {
			param = "payment_mandate"
			if req.PaymentMandate == "" {
				param = "price"
			}
		}
		return invalid(codeConflictingFields, param,
			"a payment is either a direct payment (closed_mandate) or a purchase (checkout_mandate, payment_mandate, price), not both")
	case direct, !purchase:
		return s.pay(c, agentID, svc, protocol.PaymentRequest{ClosedMandate: req.ClosedMandate, Category: req.Category, Metadata: req.Metadata})
	case req.CheckoutMandate == "":
		return invalid(codeMissingField, "checkout_mandate", "checkout_mandate is required in a purchase: the agent's signed closed checkout mandate (compact JWS)")
	case req.PaymentMandate == "":
		return invalid(codeMissingField, "payment_mandate", "payment_mandate is required in a purchase: the agent's signed closed payment mandate (compact JWS)")
	}
	for k, v := range req.Metadata {
		if err := validText(k, "metadata"); err != nil {
			return err
		}
		if err := validText(v, "metadata."+k); err != nil {
			return err
		}
	}
	pr := wallet.PurchaseRequest{CheckoutMandate: []byte(req.CheckoutMandate), PaymentMandate: []byte(req.PaymentMandate),
		Category: req.Category, Metadata: req.Metadata}
	if req.Price != "" {
		pr.Price = []byte(req.Price)
	}
	if p, ok, err := s.purchaseFor(c, svc, agentID, pr); err != nil {
		return err
	} else if ok {
		c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
		return c.sendValue(http.StatusOK, s.toProtocolPurchase(c, svc, p))
	}
	p, err := svc.Purchase(c.engineCtx(), agentID, pr)
	if err != nil {
		// The same closed mandates, made by a concurrent request: its
		// purchase.
		if r, ok := errors.AsType[*wallet.Refusal](err); ok && r.Code == protocol.CodeReplayed {
			if p, ok, _ := s.purchaseFor(c, svc, agentID, pr); ok {
				c.w.Header().Set(protocol.HeaderIdempotentReplayed, "true")
				return c.sendValue(http.StatusOK, s.toProtocolPurchase(c, svc, p))
			}
		}
		return walletError(err, codeAgentNotFound)
	}
	return c.sendValue(http.StatusCreated, s.toProtocolPurchase(c, svc, p))
}

// purchaseFor returns the purchase agentID made with exactly these closed
// checkout and payment mandate bytes, if it made one. When the closed
// payment mandate paid already, for a direct payment or with another
// closed checkout mandate, it returns the replayed refusal.
func (s *Server) purchaseFor(c *call, svc *wallet.Service, agentID string, pr wallet.PurchaseRequest) (*wallet.Purchase, bool, error) {
	pay, ok := svc.PaymentFor(agentID, pr.PaymentMandate)
	if !ok {
		return nil, false, nil
	}
	p, err := svc.PurchaseOf(c.r.Context(), pay.ID)
	if errors.Is(err, wallet.ErrNotFound) {
		return nil, false, refusalError(&wallet.Refusal{Code: protocol.CodeReplayed,
			Detail: "this closed payment mandate was used for direct payment " + pay.ID})
	}
	if err != nil {
		return nil, false, walletError(err, codePaymentNotFound)
	}
	if p.Checkout.MandateHash != protocol.HashJWS(pr.CheckoutMandate) {
		return nil, false, refusalError(&wallet.Refusal{Code: protocol.CodeReplayed,
			Detail: "this closed payment mandate paid for checkout " + p.Checkout.ID + " with another closed checkout mandate (payment " + pay.ID + ")"})
	}
	// PaymentFor's view (the limits the payment recorded) with the
	// checkout PurchaseOf read.
	return &wallet.Purchase{Payment: pay, Checkout: p.Checkout}, true, nil
}

// toProtocolPurchase renders a purchase: its payment as a direct
// payment's (with the receipt of its latest change) and its checkout.
func (s *Server) toProtocolPurchase(c *call, svc *wallet.Service, p *wallet.Purchase) protocol.WalletPurchase {
	ck := p.Checkout
	return protocol.WalletPurchase{WalletPayment: s.toProtocolPayment(c, svc, p.Payment),
		Checkout: protocol.PurchaseCheckout{Hash: ck.Hash, ID: ck.ID, Merchant: ck.Merchant, MandateHash: ck.MandateHash,
			OpenMandate: ck.OpenMandate, PriceAttestedBy: ck.PriceAttestedBy}}
}
