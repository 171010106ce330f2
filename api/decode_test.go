package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// fixedID is the id the decoders give objects the client did not name.
func fixedID() ledger.ID { return ledger.IDFromUint64(0xfeed) }

// wantClientError fails unless err is a client error with a type, a code
// and a message.
func wantClientError(t *testing.T, err error) {
	t.Helper()
	ae, ok := errors.AsType[*apiError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *apiError", err, err)
	}
	if ae.body.Type != protocol.ErrorInvalidRequest || ae.body.Code == "" || ae.body.Message == "" {
		t.Fatalf("error %+v: want invalid_request with a code and a message", ae.body)
	}
}

var transferSeeds = []string{
	`{"debit_account_id":"acct_00000000000000000000000001","credit_account_id":"acct_00000000000000000000000002","amount":5,"ledger":1,"code":1}`,
	`{"id":"tr_01J0000000000000000000000A","pending_id":"tr_00000000000000000000000009","flags":["post_pending"]}`,
	`{"pending_id":"tr_00000000000000000000000009","flags":["void_pending","linked"],"user_data_128":"00000000000000000000000003"}`,
	`{"amount":18446744073709551615,"timeout_seconds":4294967295,"flags":["pending","closing_debit"],"user_data_64":1,"user_data_32":2}`,
	`{"amount":1,"flags":["pending","pending"]}`,
	`{"amount":1,"timestamp":1}`,
	`{"amount":-1}`, `{"amount":1}{}`, `[`, `null`, `{"AMOUNT":1}`, `{"amount":1,"x":{}}`,
}

// FuzzDecodeTransfer: the decoder never panics; it returns a client error,
// or a transfer that encodes back to itself.
func FuzzDecodeTransfer(f *testing.F) {
	for _, s := range transferSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeTransferRequest(body, fixedID)
		if err != nil {
			wantClientError(t, err)
			return
		}
		tr := in.t
		if tr.Timestamp != 0 {
			t.Fatalf("timestamp %d from %s", tr.Timestamp, body)
		}
		if in.amountAbsent && tr.Flags&(ledger.TransferPostPending|ledger.TransferVoidPending) == 0 {
			t.Fatalf("absent amount accepted without post/void from %s", body)
		}
		again, err := decodeTransferRequest(appendTransfer(nil, &tr, in.amountAbsent), fixedID)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", appendTransfer(nil, &tr, in.amountAbsent), err)
		}
		if again != in {
			t.Fatalf("round trip: %+v, want %+v", again, in)
		}
	})
}

// FuzzDecodeTransferBatch: never panics; errors name a param inside the
// request; a decoded batch holds 1 to 8,189 transfers.
func FuzzDecodeTransferBatch(f *testing.F) {
	for _, s := range transferSeeds {
		f.Add([]byte(`{"transfers":[` + s + `]}`))
		f.Add([]byte(`{"transfers":[` + transferSeeds[0] + `,` + s + `]}`))
	}
	f.Add([]byte(`{"transfers":[]}`))
	f.Add([]byte(`{"transfers":{}}`))
	f.Add([]byte(`{"transfers":[1],"more":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ts, err := decodeTransferBatch(body, fixedID)
		if err != nil {
			wantClientError(t, err)
			return
		}
		if len(ts) == 0 || len(ts) > protocol.TransfersPerRequestMax {
			t.Fatalf("%d transfers decoded", len(ts))
		}
	})
}

func FuzzDecodeAccount(f *testing.F) {
	f.Add([]byte(`{"ledger":1,"code":1}`))
	f.Add([]byte(`{"id":"acct_00000000000000000000000001","ledger":1,"code":1,"flags":["linked","history"],"limit":5,"user_data_128":"00000000000000000000000003"}`))
	f.Add([]byte(`{"ledger":1,"code":1,"balances":{}}`))
	f.Add([]byte(`{"ledger":1,"code":1,"flags":["closed"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := decodeAccountRequest(body, fixedID)
		if err != nil {
			wantClientError(t, err)
			return
		}
		if a.Timestamp != 0 || a.Flags&ledger.AccountClosed != 0 || !a.DebitsPosted.IsZero() || !a.CreditsPosted.IsZero() {
			t.Fatalf("account %+v from %s", a, body)
		}
		var batch []ledger.Account
		if batch, err = decodeAccountBatch([]byte(`{"accounts":[`+string(body)+`]}`), fixedID); err != nil {
			t.Fatalf("the same account in a batch: %v", err)
		}
		if batch[0] != a {
			t.Fatalf("batch decoded %+v, single %+v", batch[0], a)
		}
	})
}

func FuzzDecodeAsset(f *testing.F) {
	f.Add([]byte(`{"ledger":1,"code":"USD","scale":2}`))
	f.Add([]byte(`{"ledger":1,"code":"USD","scale":2,"created_at":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := decodeAssetRequest(body); err != nil {
			wantClientError(t, err)
		}
	})
}

func FuzzDecodeAPIKeyRequest(f *testing.F) {
	f.Add([]byte(`{"role":"admin","name":"n","party":"p"}`))
	f.Add([]byte(`{"role":"root"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeAPIKeyRequest(body)
		if err != nil {
			wantClientError(t, err)
			return
		}
		if req.Role != "admin" && req.Role != "writer" && req.Role != "reader" {
			t.Fatalf("role %q accepted", req.Role)
		}
	})
}

func randomTransfer(r *rand.Rand) ledger.Transfer {
	id := func() ledger.ID {
		if r.IntN(3) == 0 {
			return ledger.ID{}
		}
		var id ledger.ID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		return id
	}
	pick := func(max uint64) uint64 {
		switch r.IntN(3) {
		case 0:
			return 0
		case 1:
			return max
		}
		return r.Uint64N(max) + 1
	}
	return ledger.Transfer{
		ID: id(), DebitAccountID: id(), CreditAccountID: id(), PendingID: id(), UserData128: id(),
		Amount: pick(ledger.AmountMax - 1), UserData64: pick(1<<64 - 2), UserData32: uint32(pick(1<<32 - 2)),
		Timeout: uint32(pick(1<<32 - 2)), Ledger: uint32(pick(1<<32 - 2)), Code: uint16(pick(1<<16 - 2)),
		Flags: ledger.TransferFlags(r.IntN(256)), Timestamp: pick(1<<63 - 2),
	}
}

// The hand-written renderers produce exactly what encoding/json produces
// for the protocol types.
func TestRenderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		tr := randomTransfer(r)
		omit := r.IntN(2) == 0
		got := appendTransfer(nil, &tr, omit)
		want, err := json.Marshal(toProtocolTransfer(&tr, omit))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendTransfer = %s\nencoding/json = %s", got, want)
		}
	}
	for n := 1; n < 40; n++ {
		ts := make([]ledger.Transfer, n)
		results := make([]ledger.Result, n)
		resp := protocol.BatchResponse{}
		for i := range ts {
			ts[i] = randomTransfer(r)
			results[i] = ledger.Results()[r.IntN(len(ledger.Results()))]
			er := protocol.EventResult{Index: i, Result: results[i].String()}
			if results[i] == ledger.ResultOK {
				p := toProtocolTransfer(&ts[i], false)
				er.Transfer = &p
			}
			if results[i].Committed() {
				resp.Accepted++
			} else {
				resp.Rejected++
				if p := transferParam(results[i]); p != "" {
					er.Param = "transfers[" + itoa(i) + "]." + p
				}
			}
			resp.Results = append(resp.Results, er)
		}
		status, got := renderTransferBatch(ts, results)
		want, _ := json.Marshal(resp)
		if status != 200 || !bytes.Equal(got, want) {
			t.Fatalf("renderTransferBatch = %d %s\nencoding/json = %s", status, got, want)
		}
	}
}

// Every error type has a status, and the rejection params name fields of
// the objects they are about.
func TestErrorTableAndParams(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{
		protocol.ErrorInvalidRequest, protocol.ErrorAuthentication, protocol.ErrorPermission, protocol.ErrorNotFound,
		protocol.ErrorMethodNotAllowed, protocol.ErrorConflict, protocol.ErrorRequestTooLarge, protocol.ErrorUnsupportedMedia,
		protocol.ErrorIdempotencyMismatch, protocol.ErrorRejected, protocol.ErrorUnavailable, protocol.ErrorInternal,
	} {
		if statusOf(typ) < 400 {
			t.Errorf("%s has status %d", typ, statusOf(typ))
		}
	}
	fields := func(v any) map[string]bool {
		m := map[string]bool{}
		b, _ := json.Marshal(v)
		var obj map[string]any
		_ = json.Unmarshal(b, &obj)
		for k := range obj {
			m[k] = true
		}
		return m
	}
	one := uint64(1)
	transferFields := fields(protocol.Transfer{ID: "x", DebitAccountID: "x", CreditAccountID: "x", Amount: &one, PendingID: "x",
		UserData128: "x", UserData64: 1, UserData32: 1, TimeoutSeconds: 1, Ledger: 1, Code: 1, Flags: []string{"x"}, Timestamp: 1, CreatedAt: "x"})
	accountFields := fields(protocol.Account{ID: "x", Ledger: 1, Code: 1, Flags: []string{"x"}, Limit: 1, UserData128: "x",
		UserData64: 1, UserData32: 1, Balances: &protocol.Balances{}, Timestamp: 1, CreatedAt: "x"})
	assetFields := fields(protocol.Asset{Ledger: 1, Code: "x", Scale: 1, CreatedAt: "x"})
	for _, r := range ledger.Results() {
		for name, tc := range map[string]struct {
			param  string
			fields map[string]bool
		}{"transfer": {transferParam(r), transferFields}, "account": {accountParam(r), accountFields}, "asset": {assetParam(r), assetFields}} {
			if tc.param != "" && !tc.fields[tc.param] {
				t.Errorf("%s param of %s is %q, not a field", name, r, tc.param)
			}
		}
		if r != ledger.ResultOK && r != ledger.ResultExists && r != ledger.ResultLinkedEventFailed &&
			r != ledger.ResultAccountOnOtherShard && transferParam(r) == "" && accountParam(r) == "" && assetParam(r) == "" &&
			r != ledger.ResultAccountsMustHaveTheSameLedger {
			t.Errorf("result %s has no param anywhere", r)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	t.Parallel()
	if protocol.TransfersPerRequestMax != ledger.BatchEventsMax || protocol.AccountsPerRequestMax != ledger.BatchEventsMax {
		t.Errorf("the wire's batch limits differ from the engine's %d", ledger.BatchEventsMax)
	}
	if protocol.PageLimitMax != store.PageLimitMax {
		t.Errorf("the wire's page limit differs from the store's %d", store.PageLimitMax)
	}
	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"amount":1,"flags":[true]}`, codeInvalidType, "flags"},
		{`{"amount":1} `, "", ""},
		{"{\"amount\":1}\n\t", "", ""},
		{`{"amount":1} 1`, codeTrailingData, ""},
		{`{"amount":1,"debit_account_id":null}`, "", ""},
		{`{"amount":1,"amount":2}`, codeDuplicateField, "amount"},
		{`{"Amount":1}`, codeUnknownField, "Amount"},
		{`{"amount":1,"FLAGS":["pending"]}`, codeUnknownField, "FLAGS"},
		{`{"am\u006funt":1}`, codeUnknownField, `am\u006funt`},
		{`{"amount":1,"ledger":1,"code":1,"debit_account_id":"acct_00000000000000000000000001","credit_account_id":"acct_00000000000000000000000002","pending_id":"tr_00000000000000000000000009","user_data_128":"00000000000000000000000003","user_data_64":1,"user_data_32":2,"timeout_seconds":3,"id":"tr_00000000000000000000000008","flags":["pending"],"flags":[]}`, codeDuplicateField, "flags"},
	} {
		_, err := decodeTransferRequest([]byte(tc.body), fixedID)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.body, err)
			}
			continue
		}
		ae, ok := errors.AsType[*apiError](err)
		if !ok || ae.body.Code != tc.code || ae.body.Param != tc.param {
			t.Errorf("%s: error %v, want %s param %q", tc.body, err, tc.code, tc.param)
		}
	}
	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"transfers":[{"amount":1},{"amount":1,"Ledger":1}]}`, codeUnknownField, "transfers[1].Ledger"},
		{`{"transfers":[{"amount":1}],"transfers":[]}`, codeDuplicateField, "transfers"},
		{`{"Transfers":[{"amount":1}]}`, codeUnknownField, "Transfers"},
		{`{"transfers":[{"amount":1},{"amount":1},{"amount":1,"code":1,"code":2}]}`, codeDuplicateField, "transfers[2].code"},
	} {
		_, err := decodeTransferBatch([]byte(tc.body), fixedID)
		ae, ok := errors.AsType[*apiError](err)
		if !ok || ae.body.Code != tc.code || ae.body.Param != tc.param {
			t.Errorf("%s: error %v, want %s param %q", tc.body, err, tc.code, tc.param)
		}
	}
	_, err := decodeAccountRequest([]byte(`{"ledger":1,"code":1,"balances":{"debits_pending":"0","Debits_posted":"0"}}`), fixedID)
	if ae, ok := errors.AsType[*apiError](err); !ok || ae.body.Param != "balances.Debits_posted" {
		t.Errorf("nested case-variant key: %v", err)
	}
	if !strings.HasPrefix(scopeKey(ledger.IDFromUint64(1), "POST /v1/transfers", "k"), ledger.IDFromUint64(1).String()+" POST /v1/transfers k") {
		t.Errorf("scopeKey layout changed")
	}
}
