package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// badCase is a request that must fail with exactly this error and change
// nothing.
type badCase struct {
	name             string
	method, path     string
	opts             []reqOpt
	status           int
	typ, code, param string
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	acct := func(n uint64) string { return "acct_" + ledger.IDFromUint64(n).String() }
	tr := func(n uint64) string { return "tr_" + ledger.IDFromUint64(n).String() }
	// transfer builds a single-transfer body from extra members.
	transferBody := func(members string) string {
		base := fmt.Sprintf(`"debit_account_id":%q,"credit_account_id":%q,"ledger":1,"code":1`, f.alice, f.bob)
		if members != "" {
			base += "," + members
		}
		return "{" + base + "}"
	}
	ok := transferBody(`"amount":1`)
	const bad = http.StatusBadRequest
	inv := protocol.ErrorInvalidRequest

	cases := []badCase{
		// JSON shape.
		{name: "malformed", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":`)}, status: bad, typ: inv, code: "invalid_json"},
		{name: "syntax error", path: "/v1/transfers", opts: []reqOpt{body(`{"amount" 1}`)}, status: bad, typ: inv, code: "invalid_json"},
		{name: "empty body", path: "/v1/transfers", opts: []reqOpt{body(``)}, status: bad, typ: inv, code: "invalid_json"},
		{name: "array body", path: "/v1/transfers", opts: []reqOpt{body(`[]`)}, status: bad, typ: inv, code: "invalid_type"},
		{name: "string body", path: "/v1/transfers", opts: []reqOpt{body(`"x"`)}, status: bad, typ: inv, code: "invalid_type"},
		{name: "two values", path: "/v1/transfers", opts: []reqOpt{body(ok + ok)}, status: bad, typ: inv, code: "trailing_data"},
		{name: "trailing garbage", path: "/v1/transfers", opts: []reqOpt{body(ok + "x")}, status: bad, typ: inv, code: "trailing_data"},
		{name: "trailing brace", path: "/v1/transfers", opts: []reqOpt{body(ok + "}")}, status: bad, typ: inv, code: "trailing_data"},
		{name: "unknown field", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1,"memo":"x"`))}, status: bad, typ: inv, code: "unknown_field", param: "memo"},
		{name: "null body", path: "/v1/transfers", opts: []reqOpt{body(`null`)}, status: bad, typ: inv, code: "missing_field", param: "amount"},

		// Types and ranges.
		{name: "amount string", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":"1"`))}, status: bad, typ: inv, code: "invalid_type", param: "amount"},
		{name: "amount negative", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":-1`))}, status: bad, typ: inv, code: "invalid_type", param: "amount"},
		{name: "amount fraction", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1.5`))}, status: bad, typ: inv, code: "invalid_type", param: "amount"},
		{name: "amount exponent", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1e3`))}, status: bad, typ: inv, code: "invalid_type", param: "amount"},
		{name: "amount 2^64", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":18446744073709551616`))}, status: bad, typ: inv, code: "invalid_type", param: "amount"},
		{name: "amount missing", path: "/v1/transfers", opts: []reqOpt{body(transferBody(``))}, status: bad, typ: inv, code: "missing_field", param: "amount"},
		{name: "amount null", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":null`))}, status: bad, typ: inv, code: "missing_field", param: "amount"},
		{name: "code too big", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"code":65536}`)}, status: bad, typ: inv, code: "invalid_type", param: "code"},
		{name: "ledger string", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"ledger":"1"}`)}, status: bad, typ: inv, code: "invalid_type", param: "ledger"},
		{name: "timeout negative", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"timeout_seconds":-1}`)}, status: bad, typ: inv, code: "invalid_type", param: "timeout_seconds"},
		{name: "user_data_32 too big", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"user_data_32":4294967296}`)}, status: bad, typ: inv, code: "invalid_type", param: "user_data_32"},
		{name: "flags string", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"flags":"pending"}`)}, status: bad, typ: inv, code: "invalid_type", param: "flags"},
		{name: "flags number", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"flags":[1]}`)}, status: bad, typ: inv, code: "invalid_type", param: "flags"},
		{name: "unknown flag", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1,"flags":["pending","instant"]`))}, status: bad, typ: inv, code: "invalid_flag", param: "flags[1]"},
		{name: "duplicate flag", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1,"flags":["pending","pending"]`))}, status: bad, typ: inv, code: "duplicate_flag", param: "flags[1]"},
		{name: "account id number", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"credit_account_id":5}`)}, status: bad, typ: inv, code: "invalid_type", param: "credit_account_id"},

		// Ids.
		{name: "debit id garbage", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"debit_account_id":"acct_xyz"}`)}, status: bad, typ: inv, code: "invalid_id", param: "debit_account_id"},
		{name: "debit id wrong prefix", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"debit_account_id":"` + tr(1) + `"}`)}, status: bad, typ: inv, code: "invalid_id", param: "debit_account_id"},
		{name: "debit id no prefix", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"debit_account_id":"` + ledger.IDFromUint64(1).String() + `"}`)}, status: bad, typ: inv, code: "invalid_id", param: "debit_account_id"},
		{name: "debit id 27 chars", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"debit_account_id":"` + acct(1) + `0"}`)}, status: bad, typ: inv, code: "invalid_id", param: "debit_account_id"},
		{name: "debit id overflow", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"debit_account_id":"acct_8ZZZZZZZZZZZZZZZZZZZZZZZZZ"}`)}, status: bad, typ: inv, code: "invalid_id", param: "debit_account_id"},
		{name: "debit id letter U", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"debit_account_id":"acct_0000000000000000000000000U"}`)}, status: bad, typ: inv, code: "invalid_id", param: "debit_account_id"},
		{name: "credit id", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"credit_account_id":"acct_"}`)}, status: bad, typ: inv, code: "invalid_id", param: "credit_account_id"},
		{name: "transfer id prefix", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"id":"` + acct(1) + `"}`)}, status: bad, typ: inv, code: "invalid_id", param: "id"},
		{name: "pending id prefix", path: "/v1/transfers", opts: []reqOpt{body(`{"flags":["post_pending"],"pending_id":"` + acct(1) + `"}`)}, status: bad, typ: inv, code: "invalid_id", param: "pending_id"},
		{name: "user_data_128 prefix", path: "/v1/transfers", opts: []reqOpt{body(`{"amount":1,"user_data_128":"` + tr(1) + `"}`)}, status: bad, typ: inv, code: "invalid_id", param: "user_data_128"},

		// Read-only fields.
		{name: "timestamp", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1,"timestamp":5`))}, status: bad, typ: inv, code: "read_only_field", param: "timestamp"},
		{name: "created_at", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1,"created_at":"2026-01-01T00:00:00Z"`))}, status: bad, typ: inv, code: "read_only_field", param: "created_at"},
		{name: "receipt", path: "/v1/transfers", opts: []reqOpt{body(transferBody(`"amount":1,"receipt":"x"`))}, status: bad, typ: inv, code: "read_only_field", param: "receipt"},

		// Media type and size.
		{name: "text/plain", path: "/v1/transfers", opts: []reqOpt{body(ok), contentType("text/plain")}, status: http.StatusUnsupportedMediaType, typ: protocol.ErrorUnsupportedMedia, code: "unsupported_content_type"},
		{name: "no content type", path: "/v1/transfers", opts: []reqOpt{body(ok), contentType("-")}, status: http.StatusUnsupportedMediaType, typ: protocol.ErrorUnsupportedMedia, code: "unsupported_content_type"},
		{name: "latin1", path: "/v1/transfers", opts: []reqOpt{body(ok), contentType("application/json; charset=latin1")}, status: http.StatusUnsupportedMediaType, typ: protocol.ErrorUnsupportedMedia, code: "unsupported_content_type"},
		{name: "oversize single", path: "/v1/transfers", opts: []reqOpt{body(ok + strings.Repeat(" ", protocol.SingleRequestBodyBytesMax))}, status: http.StatusRequestEntityTooLarge, typ: protocol.ErrorRequestTooLarge, code: "body_too_large"},
		{name: "oversize batch", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[]}` + strings.Repeat(" ", protocol.RequestBodyBytesMax))}, status: http.StatusRequestEntityTooLarge, typ: protocol.ErrorRequestTooLarge, code: "body_too_large"},
		{name: "oversize account", path: "/v1/accounts", opts: []reqOpt{body(`{"ledger":1,"code":1}` + strings.Repeat(" ", protocol.SingleRequestBodyBytesMax))}, status: http.StatusRequestEntityTooLarge, typ: protocol.ErrorRequestTooLarge, code: "body_too_large"},

		// Idempotency-Key.
		{name: "no idempotency key", path: "/v1/transfers", opts: []reqOpt{body(ok), noIdem()}, status: bad, typ: inv, code: "idempotency_key_required"},
		{name: "long idempotency key", path: "/v1/transfers", opts: []reqOpt{body(ok), idem(strings.Repeat("k", 256))}, status: bad, typ: inv, code: "idempotency_key_invalid"},
		{name: "tab in idempotency key", path: "/v1/transfers", opts: []reqOpt{body(ok), idem("a\tb")}, status: bad, typ: inv, code: "idempotency_key_invalid"},
		{name: "non-ASCII idempotency key", path: "/v1/transfers", opts: []reqOpt{body(ok), idem("clé")}, status: bad, typ: inv, code: "idempotency_key_invalid"},
		{name: "two idempotency keys", path: "/v1/transfers", opts: []reqOpt{body(ok), header(protocol.HeaderIdempotencyKey, "second")}, status: bad, typ: inv, code: "idempotency_key_invalid"},
		{name: "query on POST", path: "/v1/transfers?dry_run=1", opts: []reqOpt{body(ok)}, status: bad, typ: inv, code: "unknown_parameter", param: "dry_run"},

		// Auth.
		{name: "no auth", path: "/v1/transfers", opts: []reqOpt{body(ok), as("")}, status: http.StatusUnauthorized, typ: protocol.ErrorAuthentication, code: "missing_api_key"},
		{name: "basic auth", path: "/v1/transfers", opts: []reqOpt{body(ok), as(""), header("Authorization", "Basic YTpi")}, status: http.StatusUnauthorized, typ: protocol.ErrorAuthentication, code: "invalid_api_key"},
		{name: "not a secret", path: "/v1/transfers", opts: []reqOpt{body(ok), as("sk_live_123")}, status: http.StatusUnauthorized, typ: protocol.ErrorAuthentication, code: "invalid_api_key"},
		{name: "unknown secret", path: "/v1/transfers", opts: []reqOpt{body(ok), as("ap_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")}, status: http.StatusUnauthorized, typ: protocol.ErrorAuthentication, code: "invalid_api_key"},
		{name: "huge secret", path: "/v1/transfers", opts: []reqOpt{body(ok), as("ap_" + strings.Repeat("a", 500))}, status: http.StatusUnauthorized, typ: protocol.ErrorAuthentication, code: "invalid_api_key"},
		{name: "reader writes", path: "/v1/transfers", opts: []reqOpt{body(ok), as(env.ReaderSecret)}, status: http.StatusForbidden, typ: protocol.ErrorPermission, code: "insufficient_role"},
		{name: "reader writes batch", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `]}`), as(env.ReaderSecret)}, status: http.StatusForbidden, typ: protocol.ErrorPermission, code: "insufficient_role"},
		{name: "reader creates account", path: "/v1/accounts", opts: []reqOpt{body(`{"ledger":1,"code":1}`), as(env.ReaderSecret)}, status: http.StatusForbidden, typ: protocol.ErrorPermission, code: "insufficient_role"},

		// Batches name the bad element.
		{name: "batch bad id", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `,` + ok + `,{"amount":1,"debit_account_id":"acct_1"}]}`)}, status: bad, typ: inv, code: "invalid_id", param: "transfers[2].debit_account_id"},
		{name: "batch unknown field", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `,{"amount":1,"memo":"x"}]}`)}, status: bad, typ: inv, code: "unknown_field", param: "transfers[1].memo"},
		{name: "batch wrong type", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `,` + ok + `,` + ok + `,{"amount":"x"}]}`)}, status: bad, typ: inv, code: "invalid_type", param: "transfers[3].amount"},
		{name: "batch element not object", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `,5]}`)}, status: bad, typ: inv, code: "invalid_type", param: "transfers[1]"},
		{name: "batch missing amount", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `,{}]}`)}, status: bad, typ: inv, code: "missing_field", param: "transfers[1].amount"},
		{name: "batch bad flag", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + transferBody(`"amount":1,"flags":["linked","nope"]`) + `]}`)}, status: bad, typ: inv, code: "invalid_flag", param: "transfers[0].flags[1]"},
		{name: "batch not array", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":{}}`)}, status: bad, typ: inv, code: "invalid_type", param: "transfers"},
		{name: "batch top-level unknown", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `],"atomic":true}`)}, status: bad, typ: inv, code: "unknown_field", param: "atomic"},
		{name: "batch trailing", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok + `]} []`)}, status: bad, typ: inv, code: "trailing_data"},
		{name: "batch malformed", path: "/v1/transfers/batch", opts: []reqOpt{body(`{"transfers":[` + ok)}, status: bad, typ: inv, code: "invalid_json"},
		{name: "accounts batch bad flag", path: "/v1/accounts/batch", opts: []reqOpt{body(`{"accounts":[{"ledger":1,"code":1},{"ledger":1,"code":1,"flags":["frozen"]}]}`)}, status: bad, typ: inv, code: "invalid_flag", param: "accounts[1].flags[0]"},
		{name: "accounts batch unknown", path: "/v1/accounts/batch", opts: []reqOpt{body(`{"accounts":[{"ledger":1,"code":1,"name":"x"}]}`)}, status: bad, typ: inv, code: "unknown_field", param: "accounts[0].name"},
		{name: "accounts batch balances", path: "/v1/accounts/batch", opts: []reqOpt{body(`{"accounts":[{"ledger":1,"code":1},{"ledger":1,"code":1,"balances":{}}]}`)}, status: bad, typ: inv, code: "read_only_field", param: "accounts[1].balances"},
		{name: "accounts batch empty", path: "/v1/accounts/batch", opts: []reqOpt{body(`{"accounts":[]}`)}, status: bad, typ: inv, code: "empty_batch", param: "accounts"},
		{name: "accounts batch too many", path: "/v1/accounts/batch", opts: []reqOpt{body(`{"accounts":[` + strings.Repeat(`{},`, protocol.AccountsPerRequestMax) + `{}]}`)}, status: bad, typ: inv, code: "too_many_events", param: "accounts"},
	}
	before := f.snapshot(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			do(t, env, method, tc.path, tc.opts...).wantError(t, tc.status, tc.typ, tc.code, tc.param)
		})
	}
	f.wantUnchanged(t, before)
}
