package protocol

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// closedPayloads are closed payment mandate payloads as signers make
// them, made while the user is present and not, with aud as a string
// and as an array.
func closedPayloads(tb testing.TB, w *world) [][]byte {
	co := w.sign(w.merchant, w.checkout())
	hp := w.closedPayment(co, usd(8220), "")
	hnp := w.closedPayment(co, usd(31), HashJWS(co))
	hnp.ExecutionDate = 1_800_000_000
	hnp.Payee.Website = "https://shoes.example"
	multi := w.closedPayment(co, Money{Amount: 1 << 62, Currency: "USD", Scale: 255}, "")
	multi.Audience = Audience{platformID, "mch_other"}
	multi.PaymentInstrument.Description = "wallet ✓"
	return [][]byte{payloadOf(tb, hp), payloadOf(tb, hnp), payloadOf(tb, multi)}
}

// TestFastDecodeTakesSignedPayloads: the payloads signers make take the
// fast path, and decode as encoding/json decodes them.
func TestFastDecodeTakesSignedPayloads(t *testing.T) {
	t.Parallel()
	for i, p := range closedPayloads(t, newWorld(t)) {
		var fast, slow ClosedPaymentMandate
		if !fast.decodeFast(p) {
			t.Fatalf("payload %d did not take the fast path: %s", i, p)
		}
		if err := decodeJSON(p, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("payload %d: fast %+v, encoding/json %+v", i, fast, slow)
		}
	}
	// What the fast path does not read goes to encoding/json, which
	// decodes or refuses it.
	for _, p := range []string{
		`{"jti":"a\u0062"}`, `{"iat":1.0}`, `{"iat":1e3}`, `{"iat":01}`, `{"iat":9223372036854775808}`,
		`{"payment_amount":{"scale":256}}`, `{"payment_amount":{"scale":-0}}`, `{"aud":[1]}`,
		`{"extra":1}`, `{"payee":{"extra":"x"}}`, `{"jti":"x"} x`, `[]`, `{"iat":"1"}`,
	} {
		var m ClosedPaymentMandate
		if m.decodeFast([]byte(p)) {
			t.Errorf("fast path took %s", p)
		}
		if !reflect.DeepEqual(m, ClosedPaymentMandate{}) {
			t.Errorf("%s: fast path left %+v", p, m)
		}
	}
	var m ClosedPaymentMandate
	if !m.decodeFast([]byte(`{"iat":-9223372036854775808,"exp":-0,"aud":[]}`)) ||
		m.IssuedAt != -1<<63 || m.Expiry != 0 || m.Audience == nil || len(m.Audience) != 0 {
		t.Errorf("edge integers and empty aud: %+v", m)
	}
}

// FuzzFastDecodeMatches: whatever passes the shape check and the fast
// path, encoding/json decodes the same way; what the fast path refuses
// leaves nothing behind.
func FuzzFastDecodeMatches(f *testing.F) {
	for _, p := range closedPayloads(f, fuzzWorld(f)) {
		f.Add(p)
		f.Add([]byte(strings.Replace(string(p), `"iat":`, `"iat": -`, 1)))
		f.Add([]byte(strings.Replace(string(p), `"scale":2`, `"scale":255 `, 1)))
	}
	f.Add([]byte(`{"aud":["a","b"],"payee":{},"iat":-0}`))
	f.Add([]byte(` { "jti" : "x" , "execution_date" : 12 } `))
	f.Add([]byte(`{"jti":"x","payee":{"id":"a","id":"b"}}`))
	f.Add([]byte(`{"jti":"x","iat":1,"jti":"y"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		var fast, slow ClosedPaymentMandate
		ok := fast.decodeFast(data)
		if shape := checkJSONShape(data); ok && shape != nil {
			t.Fatalf("the fast path took %q, the shape check refuses it: %v", data, shape)
		} else if shape != nil {
			return
		}
		err := decodeJSON(data, &slow)
		switch {
		case !ok && !reflect.DeepEqual(fast, ClosedPaymentMandate{}):
			t.Fatalf("the fast path refused %q but left %+v", data, fast)
		case ok && err != nil:
			t.Fatalf("the fast path took %q, encoding/json refuses it: %v", data, err)
		case ok && !reflect.DeepEqual(fast, slow):
			t.Fatalf("%q: fast %+v, encoding/json %+v", data, fast, slow)
		}
	})
}
