package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/agentpay/agentpay/protocol"
)

// TestMerchantCategory: POST /v1/merchants takes an optional category,
// GET /v1/merchants/{id} shows it, registering again with the merchant's
// own key changes it, and a malformed one is refused.
func TestMerchantCategory(t *testing.T) {
	t.Parallel()
	p := newPurchaseTest(t)
	env := p.env
	jwk, _ := json.Marshal(p.merchant.PublicKey().JWK())
	var mc protocol.WalletMerchant
	do(t, env, "POST", "/v1/merchants", body(protocol.RegisterMerchantRequest{ID: shoeShop.ID, Name: shoeShop.Name, Category: "shoes", Key: jwk})).
		want(t, http.StatusCreated).decode(t, &mc)
	if mc.ID != shoeShop.ID || mc.Category != "shoes" {
		t.Fatalf("merchant %s", mustJSON(t, mc))
	}
	mc = protocol.WalletMerchant{}
	do(t, env, "GET", "/v1/merchants/"+shoeShop.ID, as(p.secret)).want(t, http.StatusOK).decode(t, &mc)
	if mc.Category != "shoes" || mc.KeyID != p.merchant.KeyID() {
		t.Fatalf("merchant %s", mustJSON(t, mc))
	}
	do(t, env, "POST", "/v1/merchants", body(protocol.RegisterMerchantRequest{ID: shoeShop.ID, Category: "Shoes!", Key: jwk})).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "wallet_request_invalid", "")
}
