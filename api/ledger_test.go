package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

func wantCreatedAt(t testing.TB, ts uint64, createdAt string) {
	t.Helper()
	if ts == 0 {
		t.Fatalf("timestamp is 0")
	}
	want := time.Unix(0, int64(ts)).UTC().Format(time.RFC3339Nano)
	if createdAt != want || !strings.HasSuffix(createdAt, "Z") {
		t.Errorf("created_at = %q, want %q", createdAt, want)
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})

	var usd protocol.Asset
	do(t, env, "POST", "/v1/assets", as(env.WriterSecret), body(`{"ledger":1,"code":"USD","scale":2}`)).
		want(t, http.StatusCreated).decode(t, &usd)
	if usd.Ledger != 1 || usd.Code != "USD" || usd.Scale != 2 || usd.CreatedAt == "" {
		t.Fatalf("created asset = %+v", usd)
	}
	var again protocol.Asset
	do(t, env, "POST", "/v1/assets", body(`{"ledger":1,"code":"USD","scale":2}`)).want(t, http.StatusOK).decode(t, &again)
	if again != usd {
		t.Errorf("existing asset = %+v, want %+v", again, usd)
	}
	do(t, env, "POST", "/v1/assets", body(`{"ledger":2,"code":"EUR","scale":2}`)).want(t, http.StatusCreated)

	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"ledger":1,"code":"EUR","scale":2}`, "exists_with_different_fields", "ledger"},
		{`{"ledger":3,"code":"usd","scale":2}`, "asset_code_invalid", "code"},
		{`{"ledger":3,"code":"","scale":2}`, "asset_code_invalid", "code"},
		{`{"ledger":3,"code":"ABCDEFGHIJKLMNOPQ","scale":2}`, "asset_code_invalid", "code"},
		{`{"ledger":3,"code":"X","scale":19}`, "asset_scale_too_large", "scale"},
		{`{"ledger":0,"code":"X","scale":2}`, "ledger_must_not_be_zero", "ledger"},
	} {
		do(t, env, "POST", "/v1/assets", body(tc.body)).wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, tc.code, tc.param)
	}
	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"ledger":3,"code":"X","scale":256}`, "invalid_type", "scale"},
		{`{"ledger":-1,"code":"X","scale":2}`, "invalid_type", "ledger"},
		{`{"ledger":3,"code":7,"scale":2}`, "invalid_type", "code"},
		{`{"ledger":3,"code":"X","scale":2,"created_at":"2026-01-01T00:00:00Z"}`, "read_only_field", "created_at"},
		{`{"ledger":3,"code":"X","scale":2,"name":"x"}`, "unknown_field", "name"},
	} {
		do(t, env, "POST", "/v1/assets", body(tc.body)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, tc.code, tc.param)
	}
	do(t, env, "POST", "/v1/assets", as(env.ReaderSecret), body(`{"ledger":3,"code":"X","scale":2}`)).
		wantError(t, http.StatusForbidden, protocol.ErrorPermission, "insufficient_role", "")

	var list protocol.AssetList
	do(t, env, "GET", "/v1/assets", as(env.ReaderSecret)).want(t, http.StatusOK).decode(t, &list)
	var got []string
	for _, a := range list.Data {
		got = append(got, fmt.Sprintf("%d:%s:%d", a.Ledger, a.Code, a.Scale))
	}
	if want := []string{"1:USD:2", "2:EUR:2"}; !slices.Equal(got, want) {
		t.Errorf("assets = %v, want %v", got, want)
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	createAsset(t, env, 1, "USD")

	id := "acct_" + ledger.IDFromUint64(42).String()
	in := protocol.Account{
		ID: id, Ledger: 1, Code: 7, Limit: 500,
		Flags:       []string{protocol.AccountFlagDebitsMustNotExceedCredits, protocol.AccountFlagHistory},
		UserData128: ledger.IDFromUint64(9).String(), UserData64: 64, UserData32: 32,
	}
	created := createAccount(t, env, in)
	want := in
	want.Balances = &protocol.Balances{DebitsPending: "0", DebitsPosted: "0", CreditsPending: "0", CreditsPosted: "0"}
	want.Timestamp, want.CreatedAt = created.Timestamp, created.CreatedAt
	if !jsonEqual(created, want) {
		t.Fatalf("created = %+v, want %+v", created, want)
	}
	wantCreatedAt(t, created.Timestamp, created.CreatedAt)

	var got protocol.Account
	do(t, env, "GET", "/v1/accounts/"+id, as(env.ReaderSecret)).want(t, http.StatusOK).decode(t, &got)
	if !jsonEqual(got, created) {
		t.Errorf("GET = %+v, want %+v", got, created)
	}
	// Lower-case ids are the same id.
	do(t, env, "GET", "/v1/accounts/acct_"+strings.ToLower(ledger.IDFromUint64(42).String())).want(t, http.StatusOK)
	wantBalances(t, env, id, 0, 0, 0, 0)

	// A server-made id is time-ordered and valid.
	made := createAccount(t, env, protocol.Account{Ledger: 1, Code: 1})
	rawID, ok := strings.CutPrefix(made.ID, "acct_")
	if !ok {
		t.Fatalf("server id %q lacks acct_", made.ID)
	}
	parsed, err := ledger.ParseID(rawID)
	if err != nil {
		t.Fatalf("server id %q: %v", made.ID, err)
	}
	if ms := int64(parsed.Hi() >> 16); time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
		t.Errorf("server id %s is not time-ordered (ms %d)", made.ID, ms)
	}

	// The same account again: 200, echoed without balances.
	var echo protocol.Account
	do(t, env, "POST", "/v1/accounts", body(in)).want(t, http.StatusOK).decode(t, &echo)
	if echo.ID != id || echo.Balances != nil || echo.Code != 7 {
		t.Errorf("existing account echo = %+v", echo)
	}

	for _, tc := range []struct {
		a           protocol.Account
		code, param string
	}{
		{protocol.Account{ID: id, Ledger: 1, Code: 8}, "exists_with_different_fields", "id"},
		{protocol.Account{Ledger: 9, Code: 1}, "ledger_not_found", "ledger"},
		{protocol.Account{Ledger: 0, Code: 1}, "ledger_must_not_be_zero", "ledger"},
		{protocol.Account{Ledger: 1, Code: 0}, "code_must_not_be_zero", "code"},
		{protocol.Account{Ledger: 1, Code: 1, Limit: 5}, "limit_requires_one_balance_flag", "limit"},
		{protocol.Account{Ledger: 1, Code: 1, Flags: []string{"debits_must_not_exceed_credits", "credits_must_not_exceed_debits"}}, "flags_are_mutually_exclusive", "flags"},
		{protocol.Account{Ledger: 1, Code: 1, Flags: []string{"linked"}}, "linked_event_chain_open", "flags"},
		{protocol.Account{ID: "acct_00000000000000000000000000", Ledger: 1, Code: 1}, "id_must_not_be_zero", "id"},
		{protocol.Account{ID: "acct_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", Ledger: 1, Code: 1}, "id_must_not_be_int_max", "id"},
	} {
		do(t, env, "POST", "/v1/accounts", body(tc.a)).wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, tc.code, tc.param)
	}
	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"ledger":1,"code":1,"id":"tr_` + ledger.IDFromUint64(1).String() + `"}`, "invalid_id", "id"},
		{`{"ledger":1,"code":1,"id":"acct_123"}`, "invalid_id", "id"},
		{`{"ledger":1,"code":1,"user_data_128":"acct_` + ledger.IDFromUint64(1).String() + `"}`, "invalid_id", "user_data_128"},
		{`{"ledger":1,"code":1,"flags":["closed"]}`, "read_only_field", "flags[0]"},
		{`{"ledger":1,"code":1,"flags":["history","nope"]}`, "invalid_flag", "flags[1]"},
		{`{"ledger":1,"code":1,"flags":["history","history"]}`, "duplicate_flag", "flags[1]"},
		{`{"ledger":1,"code":1,"balances":{"debits_pending":"0","debits_posted":"0","credits_pending":"0","credits_posted":"0"}}`, "read_only_field", "balances"},
		{`{"ledger":1,"code":1,"timestamp":5}`, "read_only_field", "timestamp"},
		{`{"ledger":1,"code":70000}`, "invalid_type", "code"},
		{`{"ledger":1,"code":1,"limit":-5}`, "invalid_type", "limit"},
		{`{"ledger":1,"code":1,"balances":{"debits_pending":7}}`, "invalid_type", "balances.debits_pending"},
		{`{"ledger":1,"code":1,"flags":"history"}`, "invalid_type", "flags"},
	} {
		do(t, env, "POST", "/v1/accounts", body(tc.body)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, tc.code, tc.param)
	}

	do(t, env, "GET", "/v1/accounts/acct_"+ledger.IDFromUint64(43).String()).
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "account_not_found", "id")
	for _, bad := range []string{"acct_nope", "tr_" + ledger.IDFromUint64(42).String(), ledger.IDFromUint64(42).String()} {
		do(t, env, "GET", "/v1/accounts/"+bad).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_id", "id")
		do(t, env, "GET", "/v1/accounts/"+bad+"/balances").wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_id", "id")
		do(t, env, "GET", "/v1/accounts/"+bad+"/transfers").wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_id", "id")
	}
	do(t, env, "GET", "/v1/accounts/acct_"+ledger.IDFromUint64(43).String()+"/balances").
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "account_not_found", "id")
	do(t, env, "GET", "/v1/accounts/acct_"+ledger.IDFromUint64(43).String()+"/transfers").
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "account_not_found", "id")
}

func TestAccountsBatchAndPagination(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	createAsset(t, env, 1, "USD")

	const n = 25
	req := protocol.CreateAccountsRequest{}
	for range n {
		req.Accounts = append(req.Accounts, protocol.Account{Ledger: 1, Code: 1})
	}
	var res protocol.BatchResponse
	do(t, env, "POST", "/v1/accounts/batch", body(req)).want(t, http.StatusOK).decode(t, &res)
	if res.Accepted != n || res.Rejected != 0 || len(res.Results) != n {
		t.Fatalf("batch: accepted %d rejected %d results %d", res.Accepted, res.Rejected, len(res.Results))
	}
	var want []string
	for i, r := range res.Results {
		if r.Index != i || r.Result != "ok" || r.Account == nil || r.Account.Timestamp == 0 {
			t.Fatalf("result %d = %+v", i, r)
		}
		want = append(want, r.Account.ID)
	}
	slices.Sort(want)

	for _, limit := range []int{1, 7, 25, 1000} {
		var got []string
		after := ""
		for page := 0; ; page++ {
			if page > n {
				t.Fatalf("limit %d: more than %d pages", limit, n)
			}
			path := fmt.Sprintf("/v1/accounts?limit=%d", limit)
			if after != "" {
				path += "&after=" + after
			}
			var list protocol.AccountList
			do(t, env, "GET", path, as(env.ReaderSecret)).want(t, http.StatusOK).decode(t, &list)
			if len(list.Data) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(list.Data))
			}
			for _, a := range list.Data {
				got = append(got, a.ID)
			}
			if list.NextCursor == "" {
				break
			}
			after = list.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: listed %d accounts %v, want each of %d once in id order", limit, len(got), got, len(want))
		}
	}
	var def protocol.AccountList
	do(t, env, "GET", "/v1/accounts").want(t, http.StatusOK).decode(t, &def)
	if len(def.Data) != n || def.NextCursor != "" {
		t.Errorf("default page: %d accounts, cursor %q", len(def.Data), def.NextCursor)
	}

	// A linked chain fails as one: the failing account has its own code and
	// param, the others linked_event_failed; nothing is created.
	ids := []string{"acct_" + ledger.IDFromUint64(101).String(), "acct_" + ledger.IDFromUint64(102).String(), "acct_" + ledger.IDFromUint64(103).String()}
	chain := protocol.CreateAccountsRequest{Accounts: []protocol.Account{
		{ID: ids[0], Ledger: 1, Code: 1, Flags: []string{"linked"}},
		{ID: ids[1], Ledger: 1, Code: 0, Flags: []string{"linked"}},
		{ID: ids[2], Ledger: 1, Code: 1},
	}}
	res = protocol.BatchResponse{}
	do(t, env, "POST", "/v1/accounts/batch", body(chain)).want(t, http.StatusOK).decode(t, &res)
	wantResults := []protocol.EventResult{
		{Index: 0, Result: "linked_event_failed"},
		{Index: 1, Result: "code_must_not_be_zero", Param: "accounts[1].code"},
		{Index: 2, Result: "linked_event_failed"},
	}
	if !slices.Equal(res.Results, wantResults) || res.Accepted != 0 || res.Rejected != 3 {
		t.Errorf("chain results = %+v (accepted %d, rejected %d), want %+v", res.Results, res.Accepted, res.Rejected, wantResults)
	}
	for _, id := range ids {
		do(t, env, "GET", "/v1/accounts/"+id).want(t, http.StatusNotFound)
	}

	for _, tc := range []struct {
		query, code, param string
	}{
		{"limit=0", "invalid_limit", "limit"},
		{"limit=1001", "invalid_limit", "limit"},
		{"limit=ten", "invalid_limit", "limit"},
		{"limit=1&limit=2", "unknown_parameter", "limit"},
		{"after=nope", "invalid_cursor", "after"},
		{"after=tr_" + ledger.IDFromUint64(1).String(), "invalid_cursor", "after"},
		{"offset=3", "unknown_parameter", "offset"},
	} {
		do(t, env, "GET", "/v1/accounts?"+tc.query).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, tc.code, tc.param)
	}
	do(t, env, "GET", "/v1/accounts/"+want[0]+"?limit=3").
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "unknown_parameter", "limit")
}

func TestTransfers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env

	in := protocol.Transfer{
		ID: "tr_" + ledger.IDFromUint64(7).String(), DebitAccountID: f.alice, CreditAccountID: f.bob,
		Amount: u64(300), Ledger: 1, Code: 9, UserData128: ledger.IDFromUint64(5).String(), UserData64: 6, UserData32: 7,
	}
	var out protocol.Transfer
	transfer(t, env, in, as(env.WriterSecret)).want(t, http.StatusCreated).decode(t, &out)
	wantCreatedAt(t, out.Timestamp, out.CreatedAt)
	want := in
	want.Timestamp, want.CreatedAt = out.Timestamp, out.CreatedAt
	if !jsonEqual(out, want) {
		t.Fatalf("created = %+v, want %+v", out, want)
	}
	var got protocol.Transfer
	do(t, env, "GET", "/v1/transfers/"+in.ID, as(env.ReaderSecret)).want(t, http.StatusOK).decode(t, &got)
	if !jsonEqual(got, out) {
		t.Errorf("GET = %+v, want %+v", got, out)
	}
	wantBalances(t, env, f.alice, 0, 300, 0, 1000)
	wantBalances(t, env, f.bob, 0, 0, 0, 300)
	wantBalances(t, env, f.bank, 0, 1000, 0, 0)

	hist := accountTransfers(t, env, f.alice, 100)
	if len(hist) != 2 || hist[1].ID != in.ID || hist[0].Timestamp >= hist[1].Timestamp {
		t.Errorf("alice's transfers = %+v", hist)
	}

	// The same transfer again (another Idempotency-Key): 200, echoed.
	var echo protocol.Transfer
	transfer(t, env, in).want(t, http.StatusOK).decode(t, &echo)
	if echo.ID != in.ID || *echo.Amount != 300 {
		t.Errorf("existing transfer echo = %+v", echo)
	}
	other := in
	other.Amount = u64(301)
	transfer(t, env, other).wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "exists_with_different_fields", "id")
	wantBalances(t, env, f.alice, 0, 300, 0, 1000)

	// Balancing debit moves what alice has left.
	var bal protocol.Transfer
	transfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(5000), Ledger: 1, Code: 1,
		Flags: []string{protocol.TransferFlagBalancingDebit}}).want(t, http.StatusCreated).decode(t, &bal)
	if *bal.Amount != 700 {
		t.Errorf("balancing debit moved %d, want 700", *bal.Amount)
	}
	wantBalances(t, env, f.alice, 0, 1000, 0, 1000)

	do(t, env, "GET", "/v1/transfers/tr_"+ledger.IDFromUint64(8).String()).
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "transfer_not_found", "id")
	do(t, env, "GET", "/v1/transfers/"+f.alice).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_id", "id")
}

func TestExceedsCredits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.snapshot(t)
	transfer(t, f.env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1001), Ledger: 1, Code: 1}).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "exceeds_credits", "amount")
	f.wantUnchanged(t, before)
	wantBalances(t, f.env, f.alice, 0, 0, 0, 1000)

	for _, tc := range []struct {
		tr          protocol.Transfer
		code, param string
	}{
		{protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.alice, Amount: u64(1), Ledger: 1, Code: 1}, "accounts_must_be_different", "credit_account_id"},
		{protocol.Transfer{CreditAccountID: f.bob, Amount: u64(1), Ledger: 1, Code: 1}, "debit_account_id_must_not_be_zero", "debit_account_id"},
		{protocol.Transfer{DebitAccountID: "acct_" + ledger.IDFromUint64(99).String(), CreditAccountID: f.bob, Amount: u64(1), Ledger: 1, Code: 1}, "debit_account_not_found", "debit_account_id"},
		{protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1), Ledger: 2, Code: 1}, "transfer_must_have_the_same_ledger_as_accounts", "ledger"},
		{protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1), Ledger: 1}, "code_must_not_be_zero", "code"},
		{protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1), Ledger: 1, Code: 1, TimeoutSeconds: 5}, "timeout_reserved_for_pending_transfer", "timeout_seconds"},
		{protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1), Ledger: 1, Code: 1, Flags: []string{"pending", "void_pending"}}, "flags_are_mutually_exclusive", "flags"},
		{protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1), Ledger: 1, Code: 1, Flags: []string{"linked"}}, "linked_event_chain_open", "flags"},
		{protocol.Transfer{PendingID: "tr_" + ledger.IDFromUint64(77).String(), Flags: []string{"post_pending"}}, "pending_transfer_not_found", "pending_id"},
	} {
		transfer(t, f.env, tc.tr).wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, tc.code, tc.param)
	}
	f.wantUnchanged(t, before)
}

func TestTwoPhase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env

	pending := mustTransfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(400), Ledger: 1, Code: 1,
		Flags: []string{protocol.TransferFlagPending}, TimeoutSeconds: 3600})
	if pending.TimeoutSeconds != 3600 || !slices.Equal(pending.Flags, []string{"pending"}) {
		t.Errorf("pending = %+v", pending)
	}
	wantBalances(t, env, f.alice, 400, 0, 0, 1000)
	wantBalances(t, env, f.bob, 0, 0, 400, 0)

	// Post part of it: the engine fills in accounts, ledger and code.
	post := mustTransfer(t, env, protocol.Transfer{PendingID: pending.ID, Amount: u64(150), Flags: []string{protocol.TransferFlagPostPending}})
	if post.DebitAccountID != f.alice || post.CreditAccountID != f.bob || *post.Amount != 150 || post.Ledger != 1 || post.Code != 1 || post.PendingID != pending.ID {
		t.Errorf("post = %+v", post)
	}
	wantBalances(t, env, f.alice, 0, 150, 0, 1000)
	wantBalances(t, env, f.bob, 0, 0, 0, 150)
	before := f.snapshot(t)
	transfer(t, env, protocol.Transfer{PendingID: pending.ID, Flags: []string{protocol.TransferFlagPostPending}}).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "pending_transfer_already_posted", "pending_id")
	transfer(t, env, protocol.Transfer{PendingID: pending.ID, Flags: []string{protocol.TransferFlagVoidPending}}).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "pending_transfer_already_posted", "pending_id")
	f.wantUnchanged(t, before)

	// Void releases the reservation; an absent amount is the pending amount.
	p2 := mustTransfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(100), Ledger: 1, Code: 1, Flags: []string{"pending"}})
	wantBalances(t, env, f.alice, 100, 150, 0, 1000)
	void := mustTransfer(t, env, protocol.Transfer{PendingID: p2.ID, Flags: []string{protocol.TransferFlagVoidPending}})
	if void.DebitAccountID != f.alice || void.CreditAccountID != f.bob || void.PendingID != p2.ID {
		t.Errorf("void = %+v", void)
	}
	wantBalances(t, env, f.alice, 0, 150, 0, 1000)
	wantBalances(t, env, f.bob, 0, 0, 0, 150)

	// An absent amount on post_pending posts the full pending amount.
	p3 := mustTransfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(50), Ledger: 1, Code: 1, Flags: []string{"pending"}})
	full := mustTransfer(t, env, protocol.Transfer{PendingID: p3.ID, Flags: []string{protocol.TransferFlagPostPending}})
	if *full.Amount != 50 {
		t.Errorf("full post amount = %d, want 50", *full.Amount)
	}
	wantBalances(t, env, f.alice, 0, 200, 0, 1000)

	p4 := mustTransfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(10), Ledger: 1, Code: 1, Flags: []string{"pending"}})
	transfer(t, env, protocol.Transfer{PendingID: p4.ID, Amount: u64(11), Flags: []string{"post_pending"}}).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "exceeds_pending_transfer_amount", "amount")
	transfer(t, env, protocol.Transfer{PendingID: p4.ID, Amount: u64(9), Flags: []string{"void_pending"}}).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "pending_transfer_has_different_amount", "amount")
	transfer(t, env, protocol.Transfer{PendingID: p4.ID, DebitAccountID: f.bank, Flags: []string{"post_pending"}}).
		wantError(t, http.StatusUnprocessableEntity, protocol.ErrorRejected, "pending_transfer_has_different_debit_account_id", "debit_account_id")
	wantBalances(t, env, f.alice, 10, 200, 0, 1000)

	hist := accountTransfers(t, env, f.bob, 2)
	if len(hist) != 7 {
		t.Errorf("bob has %d transfers, want 7 (4 pending, 2 posts, 1 void)", len(hist))
	}
}

func TestTransfersBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env

	// A linked chain failing in the middle: nothing moves; the failing
	// transfer has its code and param, the others linked_event_failed.
	before := f.snapshot(t)
	chain := protocol.CreateTransfersRequest{Transfers: []protocol.Transfer{
		{DebitAccountID: f.bank, CreditAccountID: f.bob, Amount: u64(5), Ledger: 1, Code: 1, Flags: []string{"linked"}},
		{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(5000), Ledger: 1, Code: 1, Flags: []string{"linked"}},
		{DebitAccountID: f.bank, CreditAccountID: f.alice, Amount: u64(1), Ledger: 1, Code: 1},
	}}
	var res protocol.BatchResponse
	do(t, env, "POST", "/v1/transfers/batch", as(env.WriterSecret), body(chain)).want(t, http.StatusOK).decode(t, &res)
	wantResults := []protocol.EventResult{
		{Index: 0, Result: "linked_event_failed"},
		{Index: 1, Result: "exceeds_credits", Param: "transfers[1].amount"},
		{Index: 2, Result: "linked_event_failed"},
	}
	if !slices.Equal(res.Results, wantResults) || res.Accepted != 0 || res.Rejected != 3 {
		t.Fatalf("chain results = %+v (accepted %d rejected %d), want %+v", res.Results, res.Accepted, res.Rejected, wantResults)
	}
	f.wantUnchanged(t, before)

	// A batch of independent transfers, one rejected: the others commit.
	mixed := protocol.CreateTransfersRequest{Transfers: []protocol.Transfer{
		{DebitAccountID: f.bank, CreditAccountID: f.bob, Amount: u64(5), Ledger: 1, Code: 1, Flags: []string{"linked"}},
		{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(10), Ledger: 1, Code: 1},
		{DebitAccountID: f.bob, CreditAccountID: f.alice, Amount: u64(9999), Ledger: 1, Code: 1},
		{DebitAccountID: f.bank, CreditAccountID: f.alice, Amount: u64(1), Ledger: 1, Code: 1},
	}}
	res = protocol.BatchResponse{}
	do(t, env, "POST", "/v1/transfers/batch", body(mixed)).want(t, http.StatusOK).decode(t, &res)
	if res.Accepted != 3 || res.Rejected != 1 {
		t.Fatalf("mixed: accepted %d rejected %d: %+v", res.Accepted, res.Rejected, res.Results)
	}
	for i, r := range res.Results {
		if r.Index != i {
			t.Errorf("result %d has index %d", i, r.Index)
		}
		if i == 2 {
			if r.Result != "exceeds_credits" || r.Transfer != nil || r.Param != "transfers[2].amount" {
				t.Errorf("result 2 = %+v", r)
			}
			continue
		}
		if r.Result != "ok" || r.Transfer == nil || r.Transfer.Timestamp == 0 || *r.Transfer.Amount != *mixed.Transfers[i].Amount {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	wantBalances(t, env, f.bob, 0, 0, 0, 15)
	wantBalances(t, env, f.alice, 0, 10, 0, 1001)
	var got protocol.Transfer
	do(t, env, "GET", "/v1/transfers/"+res.Results[1].Transfer.ID).want(t, http.StatusOK).decode(t, &got)
	if !jsonEqual(got, *res.Results[1].Transfer) {
		t.Errorf("GET = %+v, want %+v", got, *res.Results[1].Transfer)
	}
}

func TestTransfersBatchLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env

	before := f.snapshot(t)
	do(t, env, "POST", "/v1/transfers/batch", body(bigBatch(f, protocol.TransfersPerRequestMax+1))).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "too_many_events", "transfers")
	do(t, env, "POST", "/v1/transfers/batch", body(`{"transfers":[]}`)).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "empty_batch", "transfers")
	do(t, env, "POST", "/v1/transfers/batch", body(`{}`)).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "empty_batch", "transfers")
	f.wantUnchanged(t, before)

	var res protocol.BatchResponse
	do(t, env, "POST", "/v1/transfers/batch", body(bigBatch(f, protocol.TransfersPerRequestMax))).want(t, http.StatusOK).decode(t, &res)
	if res.Accepted != protocol.TransfersPerRequestMax || res.Rejected != 0 {
		t.Fatalf("full batch: accepted %d rejected %d", res.Accepted, res.Rejected)
	}
	wantBalances(t, env, f.bob, 0, 0, 0, protocol.TransfersPerRequestMax)

	// Every one of bob's transfers is listed exactly once, in order.
	hist := accountTransfers(t, env, f.bob, 1000)
	if len(hist) != protocol.TransfersPerRequestMax {
		t.Fatalf("bob has %d transfers listed, want %d", len(hist), protocol.TransfersPerRequestMax)
	}
	seen := map[string]bool{}
	for i, tr := range hist {
		if seen[tr.ID] {
			t.Fatalf("transfer %s listed twice", tr.ID)
		}
		seen[tr.ID] = true
		if i > 0 && tr.Timestamp <= hist[i-1].Timestamp {
			t.Fatalf("transfers out of order at %d", i)
		}
	}
	for _, r := range res.Results {
		if !seen[r.Transfer.ID] {
			t.Fatalf("transfer %s not listed", r.Transfer.ID)
		}
	}
	small := accountTransfers(t, env, f.alice, 1)
	if len(small) != 1 {
		t.Errorf("alice has %d transfers listed, want 1", len(small))
	}
	for _, q := range []string{"after=x", "after=-1", "limit=0", "limit=1001", "foo=1"} {
		r := do(t, env, "GET", "/v1/accounts/"+f.bob+"/transfers?"+q).want(t, http.StatusBadRequest)
		var e protocol.Error
		r.decode(t, &e)
		if e.Param == "" {
			t.Errorf("?%s: error %+v has no param", q, e)
		}
	}
}
