package api

import (
	"reflect"
	"testing"
)

// FuzzPaymentBody: whatever readPaymentBody reads, decodeJSON reads
// alike; the usual bodies take the fast path.
func FuzzPaymentBody(f *testing.F) {
	usual := []string{
		`{"closed_mandate":"eyJh.eyJi.c2ln"}`,
		`{"closed_mandate":"a.b.c","category":"groceries"}`,
		`{"checkout_mandate":"a.b.c","payment_mandate":"d.e.f","price":"g.h.i"}`,
	}
	for _, b := range usual {
		var req paymentBody
		if !readPaymentBody([]byte(b), &req) {
			f.Errorf("the fast path gave up on %s", b)
		}
		f.Add([]byte(b))
	}
	for _, b := range []string{`{"closed_mandate":"a","closed_mandate":"b"}`, `{"Closed_Mandate":"a"}`, `{"closed_mandate":null}`,
		`{"closed_mandate":"a\u0062"}`, `{"metadata":{"k":"v"},"closed_mandate":"a"}`, `{"closed_mandate":"a"} {}`, `{"extra":1}`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast paymentBody
		if !readPaymentBody(body, &fast) {
			return
		}
		var slow paymentBody
		if err := decodeJSON(body, &slow, ""); err != nil {
			t.Fatalf("the fast path read %q, decodeJSON refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, decodeJSON %+v", body, fast, slow)
		}
	})
}
