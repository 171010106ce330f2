package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// The renderers here build the bodies of ledger writes. They run inside
// ledger.Idempotency.Render, on the engine's commit goroutine before the
// batch commits, so they must be fast and must not fail: the transfer
// renderers append JSON by hand (byte-identical to encoding/json, which a
// test checks) because a 8,189-transfer batch is rendered while the
// pipeline waits.

// jsonObject appends the members of one JSON object whose keys and string
// values need no escaping (ids, flag and result names, timestamps).
type jsonObject struct {
	b       []byte
	members int
}

func (o *jsonObject) key(k string) {
	if o.members > 0 {
		o.b = append(o.b, ',')
	}
	o.members++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// str appends k: prefix+v, omitted when v is empty.
func (o *jsonObject) str(k, prefix, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = append(o.b, prefix...)
	o.b = append(o.b, v...)
	o.b = append(o.b, '"')
}

func (o *jsonObject) id(k, prefix string, id ledger.ID) {
	if !id.IsZero() {
		o.str(k, prefix, id.String())
	}
}

// uint appends k: v, omitted when v is 0 and omitZero.
func (o *jsonObject) uint(k string, v uint64, omitZero bool) {
	if v == 0 && omitZero {
		return
	}
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

// appendTransfer appends t as JSON, byte-identical to
// json.Marshal(toProtocolTransfer(t, omitAmount)).
func appendTransfer(b []byte, t *ledger.Transfer, omitAmount bool) []byte {
	o := jsonObject{b: append(b, '{')}
	o.id("id", protocol.PrefixTransfer, t.ID)
	o.id("debit_account_id", protocol.PrefixAccount, t.DebitAccountID)
	o.id("credit_account_id", protocol.PrefixAccount, t.CreditAccountID)
	if !omitAmount {
		o.uint("amount", t.Amount, false)
	}
	o.id("pending_id", protocol.PrefixTransfer, t.PendingID)
	o.id("user_data_128", "", t.UserData128)
	o.uint("user_data_64", t.UserData64, true)
	o.uint("user_data_32", uint64(t.UserData32), true)
	o.uint("timeout_seconds", uint64(t.Timeout), true)
	o.uint("ledger", uint64(t.Ledger), true)
	o.uint("code", uint64(t.Code), true)
	if t.Flags != 0 {
		o.key("flags")
		o.b = append(o.b, '[')
		n := 0
		for _, f := range transferFlagNames {
			if t.Flags&f.flag != 0 {
				if n > 0 {
					o.b = append(o.b, ',')
				}
				n++
				o.b = append(o.b, '"')
				o.b = append(o.b, f.name...)
				o.b = append(o.b, '"')
			}
		}
		o.b = append(o.b, ']')
	}
	o.uint("timestamp", t.Timestamp, true)
	if t.Timestamp != 0 {
		o.key("created_at")
		o.b = append(o.b, '"')
		o.b = time.Unix(0, int64(t.Timestamp)).UTC().AppendFormat(o.b, time.RFC3339Nano)
		o.b = append(o.b, '"')
	}
	return append(o.b, '}')
}

// renderTransfer builds the response of POST /v1/transfers: 201 and the
// committed transfer; 200 and the transfer as submitted when it already
// existed with the same fields; 422 when the ledger rejected it.
func renderTransfer(in *transferInput, r ledger.Result) (int, []byte) {
	switch r {
	case ledger.ResultOK:
		return http.StatusCreated, appendTransfer(nil, &in.t, false)
	case ledger.ResultExists:
		return http.StatusOK, appendTransfer(nil, &in.t, in.amountAbsent)
	}
	return http.StatusUnprocessableEntity, mustMarshal(rejection(r, transferParam(r)).body)
}

// renderTransferBatch builds the response of POST /v1/transfers/batch:
// 200 with one result per transfer, the committed transfer for each ok;
// byte-identical to json.Marshal of the protocol.BatchResponse.
func renderTransferBatch(ts []ledger.Transfer, results []ledger.Result) (int, []byte) {
	b := make([]byte, 0, 64+len(ts)*448) // about the size of a committed transfer
	b = append(b, `{"results":[`...)
	accepted := 0
	for i, r := range results {
		if i > 0 {
			b = append(b, ',')
		}
		o := jsonObject{b: append(b, '{')}
		o.uint("index", uint64(i), false)
		o.str("result", "", r.String())
		if r == ledger.ResultOK {
			o.key("transfer")
			o.b = appendTransfer(o.b, &ts[i], false)
		}
		if r.Committed() {
			accepted++
		} else if p := transferParam(r); p != "" {
			o.str("param", "", "transfers["+itoa(i)+"]."+p)
		}
		b = append(o.b, '}')
	}
	b = append(b, `],"accepted":`...)
	b = strconv.AppendInt(b, int64(accepted), 10)
	b = append(b, `,"rejected":`...)
	b = strconv.AppendInt(b, int64(len(results)-accepted), 10)
	return http.StatusOK, append(b, '}')
}

// renderAccount builds the response of POST /v1/accounts, like
// renderTransfer; an existing account is echoed as submitted, without
// balances.
func renderAccount(a *ledger.Account, r ledger.Result) (int, []byte) {
	switch r {
	case ledger.ResultOK:
		return http.StatusCreated, mustMarshal(toProtocolAccount(a))
	case ledger.ResultExists:
		p := toProtocolAccount(a)
		p.Balances = nil
		return http.StatusOK, mustMarshal(p)
	}
	return http.StatusUnprocessableEntity, mustMarshal(rejection(r, accountParam(r)).body)
}

// renderAccountBatch builds the response of POST /v1/accounts/batch.
func renderAccountBatch(as []ledger.Account, results []ledger.Result) (int, []byte) {
	resp := protocol.BatchResponse{Results: make([]protocol.EventResult, len(results))}
	for i, r := range results {
		er := protocol.EventResult{Index: i, Result: r.String()}
		if r == ledger.ResultOK {
			a := toProtocolAccount(&as[i])
			er.Account = &a
		}
		if r.Committed() {
			resp.Accepted++
		} else {
			resp.Rejected++
			if p := accountParam(r); p != "" {
				er.Param = "accounts[" + itoa(i) + "]." + p
			}
		}
		resp.Results[i] = er
	}
	return http.StatusOK, mustMarshal(resp)
}

// renderAsset builds the response of POST /v1/assets: 201 when created,
// 200 when it existed with the same fields, 422 when rejected.
func renderAsset(a *ledger.Asset, r ledger.Result) (int, []byte) {
	switch r {
	case ledger.ResultOK:
		return http.StatusCreated, mustMarshal(toProtocolAsset(a))
	case ledger.ResultExists:
		return http.StatusOK, mustMarshal(toProtocolAsset(a))
	}
	return http.StatusUnprocessableEntity, mustMarshal(rejection(r, assetParam(r)).body)
}

func itoa(i int) string { return strconv.Itoa(i) }
