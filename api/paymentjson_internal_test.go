package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/internal/jsonout"
	"github.com/agentpay/agentpay/protocol"
	"pgregory.net/rapid"
)

// TestWalletPaymentJSONMatches: the answer written by hand is
// json.Marshal's bytes exactly, whatever the payment holds (rapid draws
// every field: strings of any bytes, nil and empty slices, optional
// parts).
func TestWalletPaymentJSONMatches(t *testing.T) {
	gen := rapid.Make[protocol.WalletPayment]()
	rapid.Check(t, func(t *rapid.T) {
		p := gen.Draw(t, "payment")
		want, err := json.Marshal(p)
		got, ok := appendWalletPayment(nil, &p)
		if err := jsonout.Check(got, ok, want, err); err != nil {
			t.Fatal(err)
		}
	})
	genList := rapid.Make[protocol.WalletPaymentList]()
	rapid.Check(t, func(t *rapid.T) {
		l := genList.Draw(t, "page")
		want, err := json.Marshal(l)
		got, ok := appendWalletPaymentList(nil, &l)
		if err := jsonout.Check(got, ok, want, err); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWalletPaymentJSONFields: appendWalletPayment writes every field of
// the types it encodes; a field added to one of them fails here until it
// does.
func TestWalletPaymentJSONFields(t *testing.T) {
	want := map[reflect.Type]string{
		reflect.TypeFor[protocol.WalletPayment](): "id mandate agent owner wallet payee amount currency scale status hold_reason closed_mandate decision risk limits created_at expires_at answer receipt",
		reflect.TypeFor[protocol.RiskDecision]():  "outcome reasons matches",
		reflect.TypeFor[protocol.RiskMatch]():     "rule_id scope outcome reason",
		reflect.TypeFor[protocol.PaymentAnswer](): "approved at",
		reflect.TypeFor[protocol.Decision]():      "outcome code checks",
		reflect.TypeFor[protocol.Check]():         "mandate index type result code detail limits",
		reflect.TypeFor[protocol.Limit]():         "name unit scale max used requested remaining",
	}
	for typ, names := range want {
		if got := jsonout.Fields(typ); !slices.Equal(got, strings.Fields(names)) {
			t.Errorf("%s has JSON fields %v; appendWalletPayment writes %v", typ, got, strings.Fields(names))
		}
	}
}
