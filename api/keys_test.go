package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})

	req := `{"role":"writer","name":"checkout bot","party":"merchant_42"}`
	first := do(t, env, "POST", "/v1/api-keys", body(req), idem("key-1")).want(t, http.StatusCreated)
	wantReplayed(t, first, false)
	var k protocol.APIKey
	first.decode(t, &k)
	if !strings.HasPrefix(k.ID, "key_") || k.Role != "writer" || k.Name != "checkout bot" || k.Party != "merchant_42" ||
		!strings.HasPrefix(k.Secret, "ap_") || len(k.Secret) < 40 || k.Prefix != k.Secret[:len(k.Prefix)] || len(k.Prefix) < 6 ||
		k.CreatedAt == "" || k.RevokedAt != "" {
		t.Fatalf("created key = %+v", k)
	}

	// The new secret works with its role.
	do(t, env, "GET", "/v1/assets", as(k.Secret)).want(t, http.StatusOK)
	do(t, env, "POST", "/v1/assets", as(k.Secret), body(`{"ledger":1,"code":"USD","scale":2}`)).want(t, http.StatusCreated)
	do(t, env, "GET", "/v1/api-keys", as(k.Secret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")
	do(t, env, "POST", "/v1/api-keys", as(k.Secret), body(req)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")
	do(t, env, "GET", "/v1/api-keys", as(env.ReaderSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")

	// A replay returns the key again, without the secret (never stored).
	again := do(t, env, "POST", "/v1/api-keys", body(req), idem("key-1")).want(t, http.StatusCreated)
	wantReplayed(t, again, true)
	var k2 protocol.APIKey
	again.decode(t, &k2)
	want := k
	want.Secret = ""
	if k2 != want {
		t.Errorf("replayed key = %+v, want %+v", k2, want)
	}
	do(t, env, "POST", "/v1/api-keys", body(`{"role":"admin","name":"checkout bot","party":"merchant_42"}`), idem("key-1")).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorIdempotencyMismatch, "idempotency_conflict", "")
	// The same Idempotency-Key from another admin is another key.
	otherAdmin := do(t, env, "POST", "/v1/api-keys", body(`{"role":"admin"}`)).want(t, http.StatusCreated)
	var admin2 protocol.APIKey
	otherAdmin.decode(t, &admin2)
	var k3 protocol.APIKey
	do(t, env, "POST", "/v1/api-keys", as(admin2.Secret), body(req), idem("key-1")).want(t, http.StatusCreated).decode(t, &k3)
	if k3.ID == k.ID || k3.Secret == "" {
		t.Errorf("another admin's key-1 = %+v, want a new key", k3)
	}

	var list protocol.APIKeyList
	do(t, env, "GET", "/v1/api-keys").want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 6 {
		t.Fatalf("listed %d keys, want 6", len(list.Data))
	}
	found := false
	for _, l := range list.Data {
		if l.Secret != "" {
			t.Errorf("listed key %s shows its secret", l.ID)
		}
		if l.ID == k.ID {
			found = l == want
		}
	}
	if !found {
		t.Errorf("key %+v not listed as %+v", k, want)
	}
	if !bytes.Contains(do(t, env, "GET", "/v1/api-keys").Body, []byte(`"role":"reader"`)) {
		t.Errorf("list lacks the reader key")
	}

	// Revocation takes effect at once, although the key was just used.
	do(t, env, "GET", "/v1/assets", as(k.Secret)).want(t, http.StatusOK)
	rev := do(t, env, "DELETE", "/v1/api-keys/"+k.ID, idem("revoke-1")).want(t, http.StatusOK)
	wantReplayed(t, rev, false)
	var revoked protocol.APIKey
	rev.decode(t, &revoked)
	if revoked.ID != k.ID || revoked.RevokedAt == "" || revoked.Secret != "" {
		t.Fatalf("revoked = %+v", revoked)
	}
	do(t, env, "GET", "/v1/assets", as(k.Secret)).wantError(t, http.StatusUnauthorized, protocol.ErrorAuthentication, "api_key_revoked", "")
	do(t, env, "POST", "/v1/assets", as(k.Secret), body(`{"ledger":2,"code":"EUR","scale":2}`)).
		wantError(t, http.StatusUnauthorized, protocol.ErrorAuthentication, "api_key_revoked", "")
	// Revoking again (a retry) returns the same body.
	rev2 := do(t, env, "DELETE", "/v1/api-keys/"+k.ID, idem("revoke-1")).want(t, http.StatusOK)
	wantReplayed(t, rev2, true)
	if !bytes.Equal(rev2.Body, rev.Body) {
		t.Errorf("second revoke = %s, want %s", rev2.Body, rev.Body)
	}
	// Revoked even after a restart.
	env.Restart()
	do(t, env, "GET", "/v1/assets", as(k.Secret)).wantError(t, http.StatusUnauthorized, protocol.ErrorAuthentication, "api_key_revoked", "")

	unknown := "key_" + ledger.IDFromUint64(5).String()
	do(t, env, "DELETE", "/v1/api-keys/"+unknown).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "api_key_not_found", "id")
	do(t, env, "DELETE", "/v1/api-keys/acct_"+ledger.IDFromUint64(5).String()).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_id", "id")
	do(t, env, "DELETE", "/v1/api-keys/"+k.ID, noIdem()).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "idempotency_key_required", "")
	do(t, env, "DELETE", "/v1/api-keys/"+k.ID, body(`{}`)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "body_not_allowed", "")
	do(t, env, "DELETE", "/v1/api-keys/"+admin2.ID, as(env.WriterSecret)).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")

	keysBefore := len(list.Data)
	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"name":"x"}`, "missing_field", "role"},
		{`{"role":"owner"}`, "invalid_role", "role"},
		{`{"role":"Admin"}`, "invalid_role", "role"},
		{`{"role":"reader","name":"a\u0000b"}`, "invalid_text", "name"},
		{`{"role":"reader","party":"` + strings.Repeat("p", protocol.APIKeyTextBytesMax+1) + `"}`, "invalid_text", "party"},
		{`{"role":"reader","secret":"ap_mine"}`, "unknown_field", "secret"},
		{`{"role":"reader","id":"key_` + ledger.IDFromUint64(1).String() + `"}`, "unknown_field", "id"},
		{`{"role":1}`, "invalid_type", "role"},
		{`{"role":"reader"`, "invalid_json", ""},
	} {
		do(t, env, "POST", "/v1/api-keys", body(tc.body)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, tc.code, tc.param)
	}
	list = protocol.APIKeyList{}
	do(t, env, "GET", "/v1/api-keys").want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != keysBefore {
		t.Errorf("bad requests changed the keys: %d → %d", keysBefore, len(list.Data))
	}
}

func TestReaderMayRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	for _, path := range []string{
		"/v1/assets", "/v1/accounts", "/v1/accounts/" + f.alice, "/v1/accounts/" + f.alice + "/balances",
		"/v1/accounts/" + f.alice + "/transfers",
	} {
		do(t, env, "GET", path, as(env.ReaderSecret)).want(t, http.StatusOK)
		do(t, env, "GET", path, as("")).wantError(t, http.StatusUnauthorized, protocol.ErrorAuthentication, "missing_api_key", "")
	}
	r := do(t, env, "GET", "/v1/assets", as(""))
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}
