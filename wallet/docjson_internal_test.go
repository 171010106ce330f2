package wallet

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/internal/jsonout"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"pgregory.net/rapid"
)

// genString draws strings of every kind encoding/json treats apart:
// plain ASCII, quotes and backslashes, HTML characters, control
// characters, any Unicode (U+2028 and U+2029 included), invalid UTF-8.
var genString = rapid.OneOf(
	rapid.StringMatching(`[a-z0-9_.:-]{0,12}`),
	rapid.StringMatching(`[ -~]{0,8}`), // printable ASCII: quotes, backslashes, <, >, & alone
	rapid.SampledFrom([]string{"", `"`, `\`, "<", ">", "&", "<a&b>", "\x7f", "\x00\x1f\b\f\n\r\t", "\u2028\u2029", "é ✓ 💸", "\xff\xfe", "a\xc3"}),
	rapid.String(),
	rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
)

func genTime(t *rapid.T, label string) time.Time {
	// Years 0..9999 encode; a year beyond makes json.Marshal fail.
	sec := rapid.Int64Range(-62_167_219_200, 253_402_300_799+86_400*366).Draw(t, label)
	loc := rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("x", 3600+1800)}).Draw(t, label+" zone")
	return time.Unix(sec, rapid.Int64Range(0, 999_999_999).Draw(t, label+" ns")).In(loc)
}

func genLimits(t *rapid.T, label string) []protocol.Limit {
	return rapid.OneOf(rapid.Just([]protocol.Limit(nil)), rapid.SliceOfN(rapid.Custom(func(t *rapid.T) protocol.Limit {
		return protocol.Limit{Name: genString.Draw(t, "name"), Unit: genString.Draw(t, "unit"),
			Scale: rapid.Uint8().Draw(t, "scale"), Max: rapid.Int64().Draw(t, "max"), Used: rapid.Int64().Draw(t, "used"),
			Requested: rapid.Int64().Draw(t, "requested"), Remaining: rapid.Int64().Draw(t, "remaining")}
	}), 0, 3)).Draw(t, label)
}

func genPayment(t *rapid.T) *Payment {
	id := func(label string) ledger.ID {
		var x ledger.ID
		copy(x[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, label))
		return x
	}
	p := &Payment{ID: genString.Draw(t, "id"), Mandate: genString.Draw(t, "mandate"), Agent: genString.Draw(t, "agent"),
		Owner: genString.Draw(t, "owner"), Wallet: genString.Draw(t, "wallet"), Payee: genString.Draw(t, "payee"),
		Amount: rapid.Int64().Draw(t, "amount"), Currency: genString.Draw(t, "currency"), Scale: rapid.Uint8().Draw(t, "scale"),
		Status: genString.Draw(t, "status"), Closed: genString.Draw(t, "closed"), Hold: genString.Draw(t, "hold"),
		Limits: genLimits(t, "limits"), CreatedAt: genTime(t, "created")}
	p.Decision = protocol.Decision{Outcome: protocol.Outcome(genString.Draw(t, "outcome")), Code: protocol.Code(genString.Draw(t, "code"))}
	if rapid.Bool().Draw(t, "checks") {
		p.Decision.Checks = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) protocol.Check {
			return protocol.Check{Mandate: genString.Draw(t, "mandate"), Index: rapid.Int().Draw(t, "index"),
				Type: genString.Draw(t, "type"), Result: protocol.CheckResult(genString.Draw(t, "result")),
				Code: protocol.Code(genString.Draw(t, "code")), Detail: genString.Draw(t, "detail"), Limits: genLimits(t, "limits")}
		}), 0, 4).Draw(t, "checks")
	}
	p.Risk = risk.Decision{Outcome: risk.Outcome(genString.Draw(t, "risk outcome"))}
	if rapid.Bool().Draw(t, "matches") {
		p.Risk.Matches = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) risk.Match {
			return risk.Match{RuleID: genString.Draw(t, "rule"), Scope: genString.Draw(t, "scope"),
				Outcome: risk.Outcome(genString.Draw(t, "outcome")), Reason: genString.Draw(t, "reason"), Error: genString.Draw(t, "error")}
		}), 0, 3).Draw(t, "matches")
	}
	if rapid.Bool().Draw(t, "legs") {
		p.Legs = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Leg {
			return Leg{Name: genString.Draw(t, "name"), Transfer: id("transfer"), Account: id("account")}
		}), 0, 6).Draw(t, "legs")
	}
	if rapid.Bool().Draw(t, "expires") {
		e := genTime(t, "expires")
		p.ExpiresAt = &e
	}
	if rapid.Bool().Draw(t, "answer") {
		p.Answer = &Answer{Approved: rapid.Bool().Draw(t, "approved"), At: genTime(t, "at")}
	}
	return p
}

// TestPaymentJSONMatches: a payment's doc is json.Marshal's bytes
// exactly, whatever its strings, numbers, times and optional parts; when
// json.Marshal fails (a time out of range), appendPayment says so.
func TestPaymentJSONMatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPayment(t)
		want, err := json.Marshal(p)
		got, ok := appendPayment(nil, p)
		if err := jsonout.Check(got, ok, want, err); err != nil {
			t.Fatal(err)
		}
	})
	// doc takes the fast path and falls back to json.Marshal alike.
	p := &Payment{ID: "pay_1", CreatedAt: time.Unix(1_800_000_000, 0).UTC()}
	want, _ := json.Marshal(p)
	if d := doc(KindPayment, p.ID, p); !bytes.Equal(d.Body, want) {
		t.Fatalf("doc body %s, want %s", d.Body, want)
	}
}

// TestPaymentJSONFields: appendPayment writes every field of the types
// it encodes; a field added to one of them fails here until it does.
func TestPaymentJSONFields(t *testing.T) {
	want := map[reflect.Type]string{
		reflect.TypeFor[Payment]():           "id mandate agent owner wallet payee amount currency scale status closed_mandate hold_reason decision risk legs limits created_at expires_at answer",
		reflect.TypeFor[protocol.Decision](): "outcome code checks",
		reflect.TypeFor[protocol.Check]():    "mandate index type result code detail limits",
		reflect.TypeFor[protocol.Limit]():    "name unit scale max used requested remaining",
		reflect.TypeFor[risk.Decision]():     "outcome matches",
		reflect.TypeFor[risk.Match]():        "rule_id scope outcome reason error",
		reflect.TypeFor[Leg]():               "name transfer account",
		reflect.TypeFor[Answer]():            "approved at",
	}
	for typ, names := range want {
		if got := jsonout.Fields(typ); !slices.Equal(got, strings.Fields(names)) {
			t.Errorf("%s has JSON fields %v; appendPayment writes %v", typ, got, strings.Fields(names))
		}
	}
}
