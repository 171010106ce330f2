package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
)

// response is an HTTP response with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// reqOpt adjusts a request made by do.
type reqOpt func(*reqSpec)

type reqSpec struct {
	secret      string
	idem        string
	noIdem      bool
	body        []byte
	hasBody     bool
	contentType string
	header      http.Header
}

// as authenticates with secret ("" sends no Authorization header).
func as(secret string) reqOpt { return func(s *reqSpec) { s.secret = secret } }

// idem sets the Idempotency-Key (default: a fresh one on POST and DELETE).
func idem(key string) reqOpt { return func(s *reqSpec) { s.idem = key } }

// noIdem sends no Idempotency-Key.
func noIdem() reqOpt { return func(s *reqSpec) { s.noIdem = true } }

// body sends v: a string or []byte as is, anything else as JSON.
func body(v any) reqOpt {
	return func(s *reqSpec) {
		s.hasBody = true
		switch b := v.(type) {
		case string:
			s.body = []byte(b)
		case []byte:
			s.body = b
		default:
			var err error
			if s.body, err = json.Marshal(v); err != nil {
				panic(err)
			}
		}
	}
}

// contentType overrides the Content-Type ("-" sends none).
func contentType(ct string) reqOpt { return func(s *reqSpec) { s.contentType = ct } }

func header(k, v string) reqOpt {
	return func(s *reqSpec) {
		if s.header == nil {
			s.header = http.Header{}
		}
		s.header.Add(k, v)
	}
}

func newKey() string { return "test-" + rand.Text() }

// do sends a request to env as the admin unless told otherwise.
func do(t testing.TB, env *apitest.Env, method, path string, opts ...reqOpt) *response {
	t.Helper()
	spec := reqSpec{secret: env.AdminSecret}
	for _, o := range opts {
		o(&spec)
	}
	var rd io.Reader
	if spec.hasBody {
		rd = bytes.NewReader(spec.body)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if spec.secret != "" {
		req.Header.Set("Authorization", "Bearer "+spec.secret)
	}
	if (method == http.MethodPost || method == http.MethodDelete) && !spec.noIdem {
		if spec.idem == "" {
			spec.idem = newKey()
		}
		req.Header.Set(protocol.HeaderIdempotencyKey, spec.idem)
	}
	switch {
	case spec.contentType == "-":
	case spec.contentType != "":
		req.Header.Set("Content-Type", spec.contentType)
	case spec.hasBody:
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range spec.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if res.Header.Get(protocol.HeaderRequestID) == "" {
		t.Errorf("%s %s: no %s header", method, path, protocol.HeaderRequestID)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// decode decodes the body into v, failing the test if it is not JSON of
// that shape (unknown fields included).
func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, r.Body, err)
	}
}

// want fails the test unless the status is status.
func (r *response) want(t testing.TB, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// wantError checks the status and the error's type, code and param.
func (r *response) wantError(t testing.TB, status int, typ, code, param string) protocol.Error {
	t.Helper()
	r.want(t, status)
	var e protocol.Error
	r.decode(t, &e)
	if e.Type != typ || e.Code != code || e.Param != param {
		t.Fatalf("error = %s/%s param %q, want %s/%s param %q (message %q)", e.Type, e.Code, e.Param, typ, code, param, e.Message)
	}
	if e.Message == "" {
		t.Errorf("error %s/%s has no message", e.Type, e.Code)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", got)
	}
	return e
}

// Ledger helpers.

func u64(n uint64) *uint64 { return &n }

func createAsset(t testing.TB, env *apitest.Env, ledgerNum uint32, code string) {
	t.Helper()
	do(t, env, "POST", "/v1/assets", body(protocol.Asset{Ledger: ledgerNum, Code: code, Scale: 2})).want(t, http.StatusCreated)
}

func createAccount(t testing.TB, env *apitest.Env, a protocol.Account) protocol.Account {
	t.Helper()
	var out protocol.Account
	do(t, env, "POST", "/v1/accounts", body(a)).want(t, http.StatusCreated).decode(t, &out)
	return out
}

// transfer posts one transfer and returns the response.
func transfer(t testing.TB, env *apitest.Env, tr protocol.Transfer, opts ...reqOpt) *response {
	t.Helper()
	return do(t, env, "POST", "/v1/transfers", append([]reqOpt{body(tr)}, opts...)...)
}

func mustTransfer(t testing.TB, env *apitest.Env, tr protocol.Transfer) protocol.Transfer {
	t.Helper()
	var out protocol.Transfer
	transfer(t, env, tr).want(t, http.StatusCreated).decode(t, &out)
	return out
}

func balances(t testing.TB, env *apitest.Env, id string) protocol.Balances {
	t.Helper()
	var b protocol.Balances
	do(t, env, "GET", "/v1/accounts/"+id+"/balances", as(env.ReaderSecret)).want(t, http.StatusOK).decode(t, &b)
	return b
}

func wantBalances(t testing.TB, env *apitest.Env, id string, debitsPending, debitsPosted, creditsPending, creditsPosted uint64) {
	t.Helper()
	got := balances(t, env, id)
	want := protocol.Balances{
		DebitsPending: fmt.Sprint(debitsPending), DebitsPosted: fmt.Sprint(debitsPosted),
		CreditsPending: fmt.Sprint(creditsPending), CreditsPosted: fmt.Sprint(creditsPosted),
	}
	if got != want {
		t.Fatalf("balances of %s = %+v, want %+v", id, got, want)
	}
}

// accountTransfers lists every transfer of an account, following cursors
// with the given page size.
func accountTransfers(t testing.TB, env *apitest.Env, id string, limit int) []protocol.Transfer {
	t.Helper()
	var all []protocol.Transfer
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("too many pages")
		}
		path := fmt.Sprintf("/v1/accounts/%s/transfers?limit=%d", id, limit)
		if after != "" {
			path += "&after=" + after
		}
		var page protocol.TransferList
		do(t, env, "GET", path).want(t, http.StatusOK).decode(t, &page)
		if len(page.Data) > limit {
			t.Fatalf("page of %d transfers with limit %d", len(page.Data), limit)
		}
		all = append(all, page.Data...)
		if page.NextCursor == "" {
			return all
		}
		after = page.NextCursor
	}
}

// fixture is a ledger with an asset and accounts ready for transfers.
type fixture struct {
	env *apitest.Env
	// bank may go negative; alice and bob must not (debits must not exceed
	// credits), alice holds 1000 from the bank.
	bank, alice, bob string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := apitest.New(t, apitest.Options{})
	createAsset(t, env, 1, "USD")
	f := &fixture{env: env}
	f.bank = createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	strict := []string{protocol.AccountFlagDebitsMustNotExceedCredits}
	f.alice = createAccount(t, env, protocol.Account{Ledger: 1, Code: 2, Flags: strict}).ID
	f.bob = createAccount(t, env, protocol.Account{Ledger: 1, Code: 2, Flags: strict}).ID
	mustTransfer(t, env, protocol.Transfer{DebitAccountID: f.bank, CreditAccountID: f.alice, Amount: u64(1000), Ledger: 1, Code: 1})
	return f
}

// snapshot is what bad input must leave unchanged.
type snapshot struct {
	balances  map[string]protocol.Balances
	transfers map[string]int
	accounts  int
}

func (f *fixture) snapshot(t testing.TB) snapshot {
	t.Helper()
	s := snapshot{balances: map[string]protocol.Balances{}, transfers: map[string]int{}}
	for _, id := range []string{f.bank, f.alice, f.bob} {
		s.balances[id] = balances(t, f.env, id)
		s.transfers[id] = len(accountTransfers(t, f.env, id, 1000))
	}
	var list protocol.AccountList
	do(t, f.env, "GET", "/v1/accounts?limit=1000").want(t, http.StatusOK).decode(t, &list)
	s.accounts = len(list.Data)
	return s
}

func (f *fixture) wantUnchanged(t testing.TB, before snapshot) {
	t.Helper()
	after := f.snapshot(t)
	for id, b := range before.balances {
		if after.balances[id] != b {
			t.Errorf("balances of %s changed: %+v → %+v", id, b, after.balances[id])
		}
		if after.transfers[id] != before.transfers[id] {
			t.Errorf("transfers of %s changed: %d → %d", id, before.transfers[id], after.transfers[id])
		}
	}
	if after.accounts != before.accounts {
		t.Errorf("accounts changed: %d → %d", before.accounts, after.accounts)
	}
}

// bigBatch returns a transfers batch body with n transfers.
func bigBatch(f *fixture, n int) string {
	var sb strings.Builder
	sb.WriteString(`{"transfers":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"debit_account_id":%q,"credit_account_id":%q,"amount":1,"ledger":1,"code":1}`, f.bank, f.bob)
	}
	sb.WriteString(`]}`)
	return sb.String()
}

// jsonEqual reports whether a and b marshal to the same JSON.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
