package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
)

// TestPlatformRules: only an admin key reads or replaces the platform's
// rules; an invalid rule is a structured 400 and changes nothing.
func TestPlatformRules(t *testing.T) {
	t.Parallel()
	clock := apitest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	w := &wtest{t: t, clock: clock, env: apitest.New(t, apitest.Options{Clock: clock, Wallet: true})}
	env := w.env
	createAsset(t, env, 1, "USD")
	w.user, w.secret, w.ukey = w.newUser("Alice")
	var before protocol.WalletRules
	do(t, env, "GET", "/v1/risk/rules").want(t, http.StatusOK).decode(t, &before)
	if len(before.Rules) == 0 {
		t.Fatal("no default platform rules")
	}
	do(t, env, "PUT", "/v1/risk/rules", as(w.secret), body(`{"rules":[]}`)).want(t, http.StatusForbidden)
	do(t, env, "PUT", "/v1/risk/rules", body(`{"rules":[{"id":"bad","expression":"payment.amount >","outcome":"decline","reason":"x","enabled":true}]}`)).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "rule_invalid_expression", "rules[0]")
	var after protocol.WalletRules
	do(t, env, "GET", "/v1/risk/rules").want(t, http.StatusOK).decode(t, &after)
	if len(after.Rules) != len(before.Rules) {
		t.Fatal("an invalid rule changed the platform's rules")
	}
	var saved protocol.WalletRules
	do(t, env, "PUT", "/v1/risk/rules", body(`{"rules":[{"id":"cap","expression":"payment.amount > 500","outcome":"decline","reason":"platform_cap","enabled":true}]}`)).
		want(t, http.StatusOK).decode(t, &saved)
	if len(saved.Rules) != 1 || saved.Rules[0].Scope != "platform" {
		t.Fatalf("saved %+v", saved)
	}
	do(t, env, "GET", "/v1/risk/rules").want(t, http.StatusOK).decode(t, &after)
	if len(after.Rules) != 1 || after.Rules[0].ID != "cap" {
		t.Fatalf("read back %+v", after)
	}
}
