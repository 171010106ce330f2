package sdk_test

import (
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

func u64(n uint64) *uint64 { return &n }

// wantAPIError checks that err is an *sdk.Error with this status, code and
// param.
func wantAPIError(t *testing.T, err error, status int, code, param string) *sdk.Error {
	t.Helper()
	e, ok := sdk.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
	}
	if e.Status != status || e.Body.Code != code || e.Body.Param != param || e.RequestID == "" || e.Body.Message == "" {
		t.Fatalf("error = %+v, want %d %s param %q", e, status, code, param)
	}
	return e
}

func TestClient(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	ctx := t.Context()
	admin := sdk.New(env.URL+"/", env.AdminSecret)
	writer := sdk.New(env.URL, env.WriterSecret, sdk.WithHTTPClient(http.DefaultClient), sdk.WithUserAgent("sdk-test"))

	if h, err := sdk.New(env.URL, "").Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("Health = %+v, %v", h, err)
	}

	// Assets.
	usd, err := writer.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2})
	if err != nil || usd.Code != "USD" || usd.CreatedAt == "" {
		t.Fatalf("CreateAsset = %+v, %v", usd, err)
	}
	assets, err := writer.ListAssets(ctx)
	if err != nil || len(assets.Data) != 1 || assets.Data[0] != *usd {
		t.Fatalf("ListAssets = %+v, %v", assets, err)
	}
	_, err = writer.CreateAsset(ctx, "", protocol.Asset{Ledger: 2, Code: "usd"})
	wantAPIError(t, err, http.StatusUnprocessableEntity, "asset_code_invalid", "code")

	// Accounts.
	bank, err := writer.CreateAccount(ctx, "", protocol.Account{Ledger: 1, Code: 1})
	if err != nil || !strings.HasPrefix(bank.ID, protocol.PrefixAccount) || bank.Balances.CreditsPosted != "0" {
		t.Fatalf("CreateAccount = %+v, %v", bank, err)
	}
	strict := []string{protocol.AccountFlagDebitsMustNotExceedCredits}
	batch, err := writer.CreateAccounts(ctx, "", []protocol.Account{{Ledger: 1, Code: 2, Flags: strict}, {Ledger: 1, Code: 2, Flags: strict}})
	if err != nil || batch.Accepted != 2 || batch.Results[1].Account == nil {
		t.Fatalf("CreateAccounts = %+v, %v", batch, err)
	}
	alice, bob := batch.Results[0].Account.ID, batch.Results[1].Account.ID
	got, err := writer.GetAccount(ctx, alice)
	if err != nil || got.ID != alice || got.Flags[0] != protocol.AccountFlagDebitsMustNotExceedCredits {
		t.Fatalf("GetAccount = %+v, %v", got, err)
	}
	_, err = writer.GetAccount(ctx, "acct_00000000000000000000000009")
	wantAPIError(t, err, http.StatusNotFound, "account_not_found", "id")
	_, err = writer.GetAccount(ctx, "acct_/../../v1/api-keys")
	if e, ok := sdk.AsError(err); !ok || e.Status/100 != 4 {
		t.Fatalf("GetAccount with a path in the id: %v", err)
	}
	var listed []string
	for after, pages := "", 0; ; pages++ {
		list, err := writer.ListAccounts(ctx, after, 2)
		if err != nil || pages > 3 {
			t.Fatalf("ListAccounts: %v (page %d)", err, pages)
		}
		for _, a := range list.Data {
			listed = append(listed, a.ID)
		}
		if after = list.NextCursor; after == "" {
			break
		}
	}
	want := []string{bank.ID, alice, bob}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("ListAccounts = %v, want %v", listed, want)
	}

	// Transfers, with an explicit idempotency key making a retry safe.
	fund := protocol.Transfer{DebitAccountID: bank.ID, CreditAccountID: alice, Amount: u64(1000), Ledger: 1, Code: 1}
	t1, err := writer.CreateTransfer(ctx, "fund-alice", fund)
	if err != nil || *t1.Amount != 1000 || t1.Timestamp == 0 {
		t.Fatalf("CreateTransfer = %+v, %v", t1, err)
	}
	retry, err := writer.CreateTransfer(ctx, "fund-alice", fund)
	if err != nil || retry.ID != t1.ID || retry.Timestamp != t1.Timestamp {
		t.Fatalf("retried CreateTransfer = %+v, %v; want the original %+v", retry, err, t1)
	}
	fund.Amount = u64(1)
	_, err = writer.CreateTransfer(ctx, "fund-alice", fund)
	wantAPIError(t, err, http.StatusUnprocessableEntity, "idempotency_conflict", "")

	_, err = writer.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: alice, CreditAccountID: bob, Amount: u64(1001), Ledger: 1, Code: 1})
	e := wantAPIError(t, err, http.StatusUnprocessableEntity, "exceeds_credits", "amount")
	if e.Body.Type != protocol.ErrorRejected || !strings.Contains(e.Error(), "exceeds_credits") {
		t.Errorf("rejection = %+v (%v)", e.Body, e)
	}

	pending, err := writer.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: alice, CreditAccountID: bob, Amount: u64(300), Ledger: 1, Code: 1,
		Flags: []string{protocol.TransferFlagPending}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := writer.CreateTransfers(ctx, "", []protocol.Transfer{
		{PendingID: pending.ID, Amount: u64(200), Flags: []string{protocol.TransferFlagPostPending, protocol.TransferFlagLinked}},
		{DebitAccountID: alice, CreditAccountID: bob, Amount: u64(10), Ledger: 1, Code: 1},
	})
	if err != nil || res.Accepted != 2 || *res.Results[0].Transfer.Amount != 200 {
		t.Fatalf("CreateTransfers = %+v, %v", res, err)
	}
	bal, err := writer.AccountBalances(ctx, alice)
	want2 := protocol.Balances{DebitsPending: "0", DebitsPosted: "210", CreditsPending: "0", CreditsPosted: "1000"}
	if err != nil || *bal != want2 {
		t.Fatalf("AccountBalances = %+v, %v; want %+v", bal, err, want2)
	}
	tr, err := writer.GetTransfer(ctx, res.Results[1].Transfer.ID)
	if err != nil || tr.ID != res.Results[1].Transfer.ID || *tr.Amount != 10 {
		t.Fatalf("GetTransfer = %+v, %v", tr, err)
	}
	var hist []protocol.Transfer
	for after := ""; ; {
		page, err := writer.AccountTransfers(ctx, alice, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		hist = append(hist, page.Data...)
		if after = page.NextCursor; after == "" {
			break
		}
		if _, err := strconv.ParseUint(after, 10, 64); err != nil {
			t.Fatalf("cursor %q", after)
		}
	}
	if len(hist) != 4 || hist[0].ID != t1.ID || hist[3].ID != tr.ID {
		t.Errorf("AccountTransfers = %d transfers %+v", len(hist), hist)
	}

	// API keys.
	_, err = writer.ListAPIKeys(ctx)
	wantAPIError(t, err, http.StatusForbidden, "insufficient_role", "")
	k, err := admin.CreateAPIKey(ctx, "reader-1", protocol.CreateAPIKeyRequest{Role: protocol.RoleReader, Name: "dashboard"})
	if err != nil || k.Secret == "" || k.Role != "reader" {
		t.Fatalf("CreateAPIKey = %+v, %v", k, err)
	}
	again, err := admin.CreateAPIKey(ctx, "reader-1", protocol.CreateAPIKeyRequest{Role: protocol.RoleReader, Name: "dashboard"})
	if err != nil || again.ID != k.ID || again.Secret != "" {
		t.Fatalf("retried CreateAPIKey = %+v, %v", again, err)
	}
	reader := sdk.New(env.URL, k.Secret)
	if _, err := reader.GetAccount(ctx, alice); err != nil {
		t.Fatal(err)
	}
	_, err = reader.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: alice, CreditAccountID: bob, Amount: u64(1), Ledger: 1, Code: 1})
	wantAPIError(t, err, http.StatusForbidden, "insufficient_role", "")
	keys, err := admin.ListAPIKeys(ctx)
	if err != nil || len(keys.Data) != 4 {
		t.Fatalf("ListAPIKeys = %+v, %v", keys, err)
	}
	revoked, err := admin.RevokeAPIKey(ctx, "", k.ID)
	if err != nil || revoked.RevokedAt == "" {
		t.Fatalf("RevokeAPIKey = %+v, %v", revoked, err)
	}
	_, err = reader.GetAccount(ctx, alice)
	wantAPIError(t, err, http.StatusUnauthorized, "api_key_revoked", "")
	_, err = admin.RevokeAPIKey(ctx, "", "key_00000000000000000000000001")
	wantAPIError(t, err, http.StatusNotFound, "api_key_not_found", "id")

	// A transport failure is not an *sdk.Error.
	_, err = sdk.New("http://127.0.0.1:1", "ap_x").ListAssets(ctx)
	if _, ok := sdk.AsError(err); err == nil || ok {
		t.Errorf("transport failure = %v", err)
	}
}

// The sdk imports only the protocol package and the standard library.
// allowedImports are the non-standard packages the sdk may import: the
// protocol, the evidence log's verification (nothing of the server: not
// ledger, not store) and the signed-note keys evidence verifies with.
var allowedImports = map[string]bool{
	"github.com/agentpay/agentpay/protocol": true,
	"github.com/agentpay/agentpay/evidence": true,
	"golang.org/x/mod/sumdb/note":           true,
}

func TestImports(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if !allowedImports[path] && strings.Contains(first, ".") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
