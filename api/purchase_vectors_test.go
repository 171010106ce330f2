package api_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
)

// purchaseVector is a failing purchase a negative conformance vector
// describes, made over HTTP with the test's own parties: the refusal,
// the field its message must name (the defect the vector is about, not
// another one), and, when the checkout itself is sound, a correct
// purchase of it, which must still go through once nothing changed.
type purchaseVector struct {
	res   *response
	param string
	valid *protocol.PurchaseRequest
}

// vcheckout is a checkout the merchant key k signs as mc: one pair of
// shoes at unit price, changed by mut before it is signed.
func (p *ptest) vcheckout(k protocol.Signer, mc protocol.Merchant, unit int64, mut func(*protocol.Checkout)) string {
	cl := p.claims(mc.ID, "", 24*time.Hour)
	co := &protocol.Checkout{Claims: cl, ID: "co_" + strings.TrimPrefix(cl.ID, "jti-"), Merchant: mc, Currency: "USD", Scale: 2,
		LineItems: []protocol.LineItem{{ID: "li_1", Item: protocol.Item{ID: "sku-runner-42", Title: "Runner 42", Quantity: 1},
			UnitAmount: unit, BaseAmount: unit, Subtotal: unit, Total: unit}},
		Totals: []protocol.Total{{Type: protocol.TotalSubtotal, Amount: unit}, {Type: protocol.TotalTotal, Amount: unit}}}
	if mut != nil {
		mut(co)
	}
	return signObj(p.t, k, co)
}

// closedCheckoutHash is the agent's closed checkout mandate embedding
// checkout co with checkout_hash hash (signed as it is: protocol.Sign
// refuses to sign a mismatch).
func (p *ptest) closedCheckoutHash(co, hash string) string {
	return resign(p.t, p.key, p.closedCheckout(co), func(c map[string]any) { c["checkout_hash"] = hash })
}

// priceOf is a price attestation signed with k as issuer iss: the shoes
// at amount, valid from iat for life.
func (p *ptest) priceOf(k protocol.Signer, iss string, amount int64, iat time.Time, life time.Duration) string {
	cl := p.claims(iss, "", life)
	cl.IssuedAt, cl.Expiry = iat.Unix(), iat.Add(life).Unix()
	return signObj(p.t, k, &protocol.PriceAttestation{Claims: cl, Merchant: shoeShop, ItemID: "sku-runner-42",
		Price: protocol.Money{Amount: amount, Currency: "USD", Scale: 2}, Available: true})
}

// sound is a correct purchase of checkout co at amount.
func (p *ptest) sound(co string, amount int64) *protocol.PurchaseRequest {
	return &protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(co), PaymentMandate: p.closedPayment(co, shoeShop, amount), Category: "shoes"}
}

// purchaseVectors are the negative conformance vectors TestPurchaseVectors
// refuses at POST /v1/payments in its purchase form; TestWalletVectors
// counts them as covered.
var purchaseVectors = map[string]func(p *ptest) purchaseVector{
	// A checkout a day and two minutes old whose lifetime is a day (the
	// vector's exp is two minutes before now, past the clock skew).
	"checkout_expired": func(p *ptest) purchaseVector {
		now := p.clock.Now()
		co := p.vcheckout(p.merchant, shoeShop, 6500, func(c *protocol.Checkout) {
			c.IssuedAt, c.Expiry = now.Add(-24*time.Hour-2*time.Minute).Unix(), now.Add(-2*time.Minute).Unix()
		})
		return purchaseVector{res: p.send(p.sound(co, 6500)), param: "checkout_mandate.checkout_jwt.exp"}
	},
	// The shoe shop's checkout signed with the agent's key.
	"checkout_signed_by_agent": func(p *ptest) purchaseVector {
		co := p.vcheckout(p.key, shoeShop, 6500, nil)
		return purchaseVector{res: p.send(p.sound(co, 6500)), param: "checkout_mandate.checkout_jwt.header.kid"}
	},
	// The checkout's total lowered to 1 after the merchant signed it; the
	// payment pays the lowered total.
	"checkout_tampered_total": func(p *ptest) purchaseVector {
		co := resign(p.t, nil, p.vcheckout(p.merchant, shoeShop, 6500, nil), func(c map[string]any) {
			for _, tt := range c["totals"].([]any) {
				if tt := tt.(map[string]any); tt["type"] == string(protocol.TotalTotal) {
					tt["amount"] = 1
				}
			}
		})
		return purchaseVector{res: p.send(p.sound(co, 1)), param: "checkout_mandate.checkout_jwt.signature"}
	},
	// A merchant-signed checkout whose total (100) is not its subtotal
	// (6500), signed as it is (protocol.Sign refuses to); the payment
	// pays the total.
	"checkout_totals_do_not_add_up": func(p *ptest) purchaseVector {
		co := resign(p.t, p.merchant, p.vcheckout(p.merchant, shoeShop, 6500, nil), func(c map[string]any) {
			c["totals"].([]any)[1].(map[string]any)["amount"] = 100
		})
		return purchaseVector{res: p.send(p.sound(co, 100)), param: "checkout_mandate.checkout_jwt.totals"}
	},
	// The closed checkout mandate embeds one checkout with the hash of
	// another; the payment pays the embedded one.
	"closed_checkout_mandate_checkout_hash_mismatch": func(p *ptest) purchaseVector {
		co, other := p.vcheckout(p.merchant, shoeShop, 6500, nil), p.vcheckout(p.merchant, shoeShop, 6500, nil)
		req := protocol.PurchaseRequest{CheckoutMandate: p.closedCheckoutHash(co, protocol.HashJWS([]byte(other))),
			PaymentMandate: p.closedPayment(co, shoeShop, 6500)}
		return purchaseVector{res: p.send(req), param: "checkout_mandate.checkout_hash", valid: p.sound(co, 6500)}
	},
	// The closed payment mandate pays less than the checkout's total.
	"purchase_changed_amount": func(p *ptest) purchaseVector {
		co := p.vcheckout(p.merchant, shoeShop, 6500, nil)
		req := protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(co), PaymentMandate: p.closedPayment(co, shoeShop, 6400)}
		return purchaseVector{res: p.send(req), param: "payment_mandate.payment_amount.amount", valid: p.sound(co, 6500)}
	},
	// The closed payment mandate pays another merchant than the one that
	// signed the checkout.
	"purchase_changed_merchant": func(p *ptest) purchaseVector {
		co := p.vcheckout(p.merchant, shoeShop, 6500, nil)
		req := protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(co),
			PaymentMandate: p.closedPayment(co, protocol.Merchant{ID: "mch_other", Name: "Other Shop"}, 6500)}
		return purchaseVector{res: p.send(req), param: "payment_mandate.payee.id", valid: p.sound(co, 6500)}
	},
	// The closed payment mandate's transaction_id is the hash of another
	// checkout than the one the closed checkout mandate embeds.
	"purchase_payment_checkout_hash_mismatch": func(p *ptest) purchaseVector {
		co, other := p.vcheckout(p.merchant, shoeShop, 6500, nil), p.vcheckout(p.merchant, shoeShop, 6500, nil)
		req := protocol.PurchaseRequest{CheckoutMandate: p.closedCheckout(co), PaymentMandate: p.closedPayment(other, shoeShop, 6500)}
		return purchaseVector{res: p.send(req), param: "payment_mandate.transaction_id", valid: p.sound(co, 6500)}
	},
	// A price attestation naming the shoe shop as issuer, signed with
	// another party's key. The vector's signer is the platform key; the
	// wallet's key directory holds users, agents and registered merchants
	// (no platform key: one would be key_unknown), so the other party
	// here is a second registered merchant, whose role may sign price
	// attestations, leaving the issuer as the only defect.
	"price_attestation_issuer_mismatch": func(p *ptest) purchaseVector {
		other, _ := protocol.GenerateEd25519Key(rand.Reader)
		jwk, _ := json.Marshal(other.PublicKey().JWK())
		do(p.t, p.env, "POST", "/v1/merchants", body(protocol.RegisterMerchantRequest{ID: "mch_other", Name: "Other Shop", Key: jwk})).
			want(p.t, http.StatusCreated)
		co := p.vcheckout(p.merchant, shoeShop, 6500, nil)
		req := p.sound(co, 6500)
		bad := *req
		bad.Price = p.priceOf(other, shoeShop.ID, 6500, p.clock.Now().Add(-time.Minute), 30*time.Minute)
		return purchaseVector{res: p.send(bad), param: "price attestation: protocol: issuer_mismatch (iss)", valid: req}
	},
	// The shoe shop's price attestation, 30 minutes long, presented 31
	// minutes after it expired.
	"price_attestation_stale": func(p *ptest) purchaseVector {
		co := p.vcheckout(p.merchant, shoeShop, 6500, nil)
		req := p.sound(co, 6500)
		bad := *req
		bad.Price = p.priceOf(p.merchant, shoeShop.ID, 6500, p.clock.Now().Add(-61*time.Minute), 30*time.Minute)
		return purchaseVector{res: p.send(bad), param: "price attestation: protocol: expired (exp)", valid: req}
	},
}

// TestPurchaseVectors refuses, at POST /v1/payments in its purchase
// form, every negative conformance vector about a checkout, a closed
// checkout mandate, a purchase's binding or a price attestation
// (purchaseVectors): each case makes the vector's defect with the test's
// own merchant, user and agent after a first purchase, and expects the
// vector's code with the registry's status, the defect named, nothing
// changed (wallet, the payment mandate's limits, payments), and a sound
// checkout still payable.
func TestPurchaseVectors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../protocol/testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	ran := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := protocol.ParseVector(data)
		if err != nil {
			t.Fatal(err)
		}
		run, ok := purchaseVectors[v.Name]
		if !ok {
			continue
		}
		if v.Expected.Valid {
			t.Errorf("vector %s is valid: purchaseVectors lists negative vectors", v.Name)
			continue
		}
		ran++
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			p := newPurchaseTest(t)
			p.send(p.order(6000)).want(t, http.StatusCreated)
			before := p.state(p.m.ID)
			got := run(p)
			e := wantCode(t, got.res, v.Expected.Code)
			if !strings.Contains(e.Message, got.param) {
				t.Errorf("refusal %q does not name %s", e.Message, got.param)
			}
			p.wantSame(before, p.m.ID)
			if got.valid != nil {
				var pu protocol.WalletPurchase
				p.send(*got.valid).want(t, http.StatusCreated).decode(t, &pu)
				if pu.Status != "completed" || pu.Checkout.Hash == "" {
					t.Fatalf("sound purchase after the refusal: %s", mustJSON(t, pu))
				}
			}
		})
	}
	if ran != len(purchaseVectors) {
		t.Errorf("ran %d purchase vector cases of %d (a case names no negative vector)", ran, len(purchaseVectors))
	}
}
