package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentpay/agentpay/api"
	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	for _, path := range []string{"/nope", "/v1", "/v1/", "/v1/accounts/", "/v2/accounts", "/v1/transfers/x/y"} {
		do(t, env, "GET", path).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "route_not_found", "")
	}
	for _, tc := range []struct {
		method, path string
		allow        []string
	}{
		{"PUT", "/v1/transfers", []string{"POST"}},
		{"GET", "/v1/transfers", []string{"POST"}},
		{"DELETE", "/v1/accounts", []string{"GET", "POST"}},
		{"PATCH", "/v1/api-keys/key_" + ledger.IDFromUint64(1).String(), []string{"DELETE"}},
		{"POST", "/healthz", []string{"GET"}},
	} {
		r := do(t, env, tc.method, tc.path, noIdem())
		r.wantError(t, http.StatusMethodNotAllowed, protocol.ErrorMethodNotAllowed, "method_not_allowed", "")
		if got := r.Header.Values("Allow"); !slices.Equal(got, tc.allow) {
			t.Errorf("%s %s: Allow = %v, want %v", tc.method, tc.path, got, tc.allow)
		}
	}
	a := do(t, env, "GET", "/nope").Header.Get(protocol.HeaderRequestID)
	b := do(t, env, "GET", "/nope").Header.Get(protocol.HeaderRequestID)
	if a == b || !strings.HasPrefix(a, "req_") {
		t.Errorf("request ids %q and %q", a, b)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env
	var h protocol.Health
	do(t, env, "GET", "/healthz", as("")).want(t, http.StatusOK).decode(t, &h)
	if h.Status != "ok" {
		t.Errorf("health = %+v", h)
	}
	transfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(1), Ledger: 1, Code: 1}).want(t, http.StatusCreated)
	transfer(t, env, protocol.Transfer{DebitAccountID: f.alice, CreditAccountID: f.bob, Amount: u64(5000), Ledger: 1, Code: 1}).want(t, http.StatusUnprocessableEntity)
	do(t, env, "GET", "/nope").want(t, http.StatusNotFound)
	m := do(t, env, "GET", "/metrics", as("")).want(t, http.StatusOK)
	for _, want := range []string{
		`agentpay_http_requests_total{route="POST /v1/transfers",status="201"} 2`, // the fixture's and ours
		`agentpay_http_requests_total{route="POST /v1/transfers",status="422"} 1`,
		`agentpay_http_requests_total{route="unmatched",status="404"} 1`,
		`agentpay_http_request_duration_seconds_count{route="POST /v1/transfers",status="201"} 2`,
		`agentpay_http_request_duration_seconds_bucket{route="GET /healthz",status="200",le="+Inf"} 1`,
		"agentpay_ledger_transfers_total 2",
		"agentpay_ledger_up 1",
		"agentpay_ledger_queue_requests 0",
		"agentpay_ledger_batches_total ",
		"agentpay_ledger_commit_seconds_total ",
	} {
		if !bytes.Contains(m.Body, []byte(want)) {
			t.Errorf("metrics lack %q:\n%s", want, m.Body)
		}
	}
	// The commit histogram counts every committed batch.
	value := func(name string) string {
		mm := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindSubmatch(m.Body)
		if mm == nil {
			t.Fatalf("metrics lack %s:\n%s", name, m.Body)
		}
		return string(mm[1])
	}
	if b, c := value("agentpay_ledger_batches_total"), value("agentpay_ledger_commit_duration_seconds_count"); b != c || b == "0" {
		t.Errorf("commit histogram count %s, batches %s: want equal and non-zero", c, b)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEngineFailureAndInternalErrors(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	env := apitest.New(t, apitest.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	createAsset(t, env, 1, "USD") // also caches the admin key

	// Make a commit fail: two engine requests storing the same
	// idempotency key (which the API never sends) make the second batch's
	// commit fail, and the engine stops. Requests are then answered 503
	// and health turns 503.
	render := func([]ledger.Result) (int, []byte) { return http.StatusOK, []byte("{}") }
	idem := &ledger.Idempotency{Key: "test duplicate", Render: render}
	if _, err := env.Engine.CreateAssets(t.Context(), []ledger.Asset{{Ledger: 2, Code: "EUR"}}, idem); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Engine.CreateAssets(t.Context(), []ledger.Asset{{Ledger: 3, Code: "GBP"}}, idem); !errors.Is(err, ledger.ErrFailed) {
		t.Fatalf("duplicate outcome: err = %v, want ledger.ErrFailed", err)
	}
	do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`)).
		wantError(t, http.StatusServiceUnavailable, protocol.ErrorUnavailable, "engine_failed", "")
	e := do(t, env, "GET", "/healthz", as("")).wantError(t, http.StatusServiceUnavailable, protocol.ErrorUnavailable, "engine_failed", "")
	if !strings.Contains(e.Message, "engine failed") {
		t.Errorf("health message %q lacks the reason", e.Message)
	}
	if m := do(t, env, "GET", "/metrics", as("")); !bytes.Contains(m.Body, []byte("agentpay_ledger_up 0")) {
		t.Errorf("metrics do not show the engine down")
	}
	do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`)).
		wantError(t, http.StatusServiceUnavailable, protocol.ErrorUnavailable, "engine_failed", "")

	// A store error on a read is internal: shown as "internal", logged
	// once with the request id.
	if err := env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	r := do(t, env, "GET", "/v1/accounts")
	r.wantError(t, http.StatusInternalServerError, protocol.ErrorInternal, "internal", "")
	if bytes.Contains(r.Body, []byte("closed")) {
		t.Errorf("internal error leaks its cause: %s", r.Body)
	}
	rid := r.Header.Get(protocol.HeaderRequestID)
	if n := strings.Count(logs.String(), `"request_id":"`+rid+`"`); n != 1 {
		t.Errorf("request %s logged %d times, want once:\n%s", rid, n, logs.String())
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	for _, tc := range []struct {
		name string
		cfg  api.Config
	}{
		{"no engine", api.Config{Store: env.Store}},
		{"no store", api.Config{Engine: env.Engine}},
		{"short retention", api.Config{Engine: env.Engine, Store: env.Store, IdempotencyRetention: 23 * 3600e9}},
		{"negative interval", api.Config{Engine: env.Engine, Store: env.Store, SweepInterval: -1}},
		{"metrics registered twice", api.Config{Engine: env.Engine, Store: env.Store, Registry: env.Registry}},
	} {
		if _, err := api.New(tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
	s, err := api.New(api.Config{Engine: env.Engine, Store: env.Store, Registry: prometheus.NewRegistry(), IdempotencyRetention: 24 * 3600e9})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.Stop() // without Start
}

// TestOpenAPI checks the document against the real routes: every
// operation of one is in the other, the real mux serves each documented
// operation, the documented roles are the enforced ones, and the schemas
// have the fields of the protocol types.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{Evidence: true})
	// One evidence leaf and a checkpoint, so the public log routes answer 200.
	createAsset(t, env, 1, "USD")
	if _, _, err := env.LogSigner.SignNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	served := do(t, env, "GET", "/v1/openapi.json", as("")).want(t, http.StatusOK)
	if !bytes.Equal(served.Body, api.OpenAPI()) {
		t.Fatal("served document differs from api.OpenAPI()")
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(served.Body, &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}

	type operation struct {
		Role       string            `json:"x-agentpay-role"`
		Security   *[]map[string]any `json:"security"`
		Parameters []json.RawMessage `json:"parameters"`
		Responses  map[string]any    `json:"responses"`
	}
	var documented []string
	ops := map[string]operation{}
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			documented = append(documented, key)
			ops[key] = op
		}
	}
	routes := env.Server.Routes()
	sort.Strings(documented)
	sort.Strings(routes)
	for _, r := range routes {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not documented", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("documented operation %s is not served", d)
		}
	}

	// Walk the real handler: each documented operation is routed (not 404
	// route_not_found or 405) and its documented role is enforced.
	sample := map[string]string{
		"/v1/accounts/": "acct_" + ledger.IDFromUint64(1).String(), "/v1/transfers/": "tr_" + ledger.IDFromUint64(1).String(),
		"/v1/api-keys/": "key_" + ledger.IDFromUint64(1).String(),
	}
	// The log routes' paths and required parameters, with values that exist.
	sampleLog := map[string]string{
		"/v1/log/tile/{path...}":    "/v1/log/tile/0/000.p/1",
		"/v1/log/proof/inclusion":   "/v1/log/proof/inclusion?index=0&size=1",
		"/v1/log/proof/consistency": "/v1/log/proof/consistency?from=0&to=1",
	}
	// Public POST routes that take a signed note (no Idempotency-Key):
	// without a body they answer this status.
	publicNoBodyStatus := map[string]int{"POST /v1/log/cosignatures": http.StatusBadRequest}
	h := env.Server.Handler()
	serve := func(method, path, secret string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rank := map[string]int{"public": 0, "reader": 1, "writer": 2, "admin": 3}
	secrets := []struct {
		role, secret string
	}{{"reader", env.ReaderSecret}, {"writer", env.WriterSecret}, {"admin", env.AdminSecret}}
	for key, op := range ops {
		method, path, _ := strings.Cut(key, " ")
		for prefix, id := range sample {
			if strings.HasPrefix(path, prefix) {
				path = strings.Replace(path, "{id}", id, 1)
			}
		}
		if p, ok := sampleLog[path]; ok {
			path = p
		}
		rec := serve(method, path, "")
		var e protocol.Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		if e.Code == "route_not_found" || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s: the real mux does not serve it (%d %s)", key, rec.Code, rec.Body)
		}
		if op.Role == "agent" {
			// Agent routes take no API key: the caller is authenticated by
			// its request signature, so every key is refused with 401.
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s without a signature: %d, want 401", key, rec.Code)
			}
			for _, s := range secrets {
				if rec := serve(method, path, s.secret); rec.Code != http.StatusUnauthorized {
					t.Errorf("%s with a %s API key: %d, want 401", key, s.role, rec.Code)
				}
			}
			continue
		}
		need, ok := rank[op.Role]
		if !ok {
			t.Errorf("%s: x-agentpay-role %q", key, op.Role)
			continue
		}
		if public := op.Security != nil && len(*op.Security) == 0; public != (need == 0) {
			t.Errorf("%s: security %v but role %s", key, op.Security, op.Role)
		}
		if need == 0 {
			if want, ok := publicNoBodyStatus[key]; ok {
				if rec.Code != want {
					t.Errorf("%s without a body: %d, want %d", key, rec.Code, want)
				}
				continue
			}
			if rec.Code != http.StatusOK {
				t.Errorf("%s without a key: %d, want 200", key, rec.Code)
			}
			continue
		}
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without a key: %d, want 401", key, rec.Code)
		}
		for _, s := range secrets {
			rec := serve(method, path, s.secret)
			forbidden := rec.Code == http.StatusForbidden
			if forbidden != (rank[s.role] < need) {
				t.Errorf("%s as %s: %d %s (documented role %s)", key, s.role, rec.Code, rec.Body, op.Role)
			}
		}
		_, noteBody := publicNoBodyStatus[key]
		mutating := (method == "POST" || method == "DELETE") && !noteBody
		hasIdem := bytes.Contains(mustJSON(t, op.Parameters), []byte("#/components/parameters/IdempotencyKey"))
		if mutating != hasIdem {
			t.Errorf("%s: documents Idempotency-Key %v, want %v", key, hasIdem, mutating)
		}
		for _, status := range []string{"400", "401", "403", "500"} {
			if _, ok := op.Responses[status]; !ok {
				t.Errorf("%s: no %s response documented", key, status)
			}
		}
	}

	// Every $ref resolves.
	var whole any
	_ = json.Unmarshal(served.Body, &whole)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !resolves(whole, ref) {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(whole)

	// Schemas have exactly the JSON fields of the protocol types.
	for name, typ := range map[string]any{
		"Error": protocol.Error{}, "Asset": protocol.Asset{}, "AssetList": protocol.AssetList{},
		"Balances": protocol.Balances{}, "Account": protocol.Account{}, "AccountList": protocol.AccountList{},
		"Transfer": protocol.Transfer{}, "TransferList": protocol.TransferList{},
		"CreateAccountsRequest": protocol.CreateAccountsRequest{}, "CreateTransfersRequest": protocol.CreateTransfersRequest{},
		"EventResult": protocol.EventResult{}, "BatchResponse": protocol.BatchResponse{},
		"APIKey": protocol.APIKey{}, "APIKeyList": protocol.APIKeyList{},
		"CreateAPIKeyRequest": protocol.CreateAPIKeyRequest{}, "Health": protocol.Health{},
		"LogCheckpoint": protocol.LogCheckpoint{}, "LogCheckpointList": protocol.LogCheckpointList{},
		"LogCosignatures": protocol.LogCosignatures{},
	} {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var got, want []string
		for p := range schema.Properties {
			got = append(got, p)
		}
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			want = append(want, tag)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has %v, protocol.%s has %v", name, got, name, want)
		}
	}

	// The documented result codes are the ledger's.
	var results struct {
		Properties struct {
			Result struct {
				Enum []string `json:"enum"`
			} `json:"result"`
		} `json:"properties"`
	}
	raw, _ := json.Marshal(whole.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)["EventResult"])
	_ = json.Unmarshal(raw, &results)
	var names []string
	for _, r := range ledger.Results() {
		names = append(names, r.String())
	}
	if !slices.Equal(results.Properties.Result.Enum, names) {
		t.Errorf("documented results %v, ledger has %v", results.Properties.Result.Enum, names)
	}
}

// resolves reports whether a local JSON pointer ref points into doc.
func resolves(doc any, ref string) bool {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

func TestEngineStopped(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	createAsset(t, env, 1, "USD")
	replayed := do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`), idem("before-stop")).want(t, http.StatusCreated)
	if err := env.Engine.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`)).
		wantError(t, http.StatusServiceUnavailable, protocol.ErrorUnavailable, "engine_stopped", "")
	// Reads and replays need only the store.
	do(t, env, "GET", "/v1/accounts").want(t, http.StatusOK)
	again := do(t, env, "POST", "/v1/accounts", body(`{"ledger":1,"code":1}`), idem("before-stop")).want(t, http.StatusCreated)
	if !bytes.Equal(again.Body, replayed.Body) {
		t.Errorf("replay with the engine stopped = %s, want %s", again.Body, replayed.Body)
	}
}
