package wallet

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"pgregory.net/rapid"
)

// TestPaymentHeadMatches: whatever a payment holds, the head the service
// reads from its doc on start is the head of the payment encoding/json
// decodes from that doc.
func TestPaymentHeadMatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPayment(t)
		doc, err := json.Marshal(p)
		if err != nil {
			t.Skip("json.Marshal fails on this payment")
		}
		var q Payment
		if err := json.Unmarshal(doc, &q); err != nil {
			t.Fatal(err)
		}
		got, err := decodeHead(doc, nil)
		if err != nil {
			t.Fatalf("decodeHead: %v", err)
		}
		if want := headOf(&q); !headsEqual(got, want) {
			t.Fatalf("doc %s\nhead %+v\nwant %+v", doc, got, want)
		}
	})
}

// TestPaymentHeadFast: the docs the service writes, a payment's and a
// purchase's, held or answered, take the fast path; a doc of another
// shape is read by encoding/json alike; a doc that is not a payment's
// JSON fails as encoding/json fails.
func TestPaymentHeadFast(t *testing.T) {
	created := time.Date(2026, 11, 30, 1, 2, 3, 456, time.UTC)
	expires := created.Add(10 * time.Minute)
	p := &Payment{ID: "pay_01M8MVEB2023WXX4T8B34TTMQX", Mandate: "mdt_1", Agent: "agt_1", Owner: "usr_1", Wallet: "wal_1",
		Payee: "mch_1", Amount: 31, Currency: "USD", Scale: 2, Status: StatusHeld, Closed: "eyJh.eyJ2.tDyb", Hold: "approval_required",
		Decision:  protocol.Decision{Outcome: protocol.OutcomeAllow, Checks: []protocol.Check{{Type: "payment.budget", Detail: "0.31 USD left", Limits: []protocol.Limit{{Name: "day", Max: 100}}}}},
		Legs:      []Leg{{Name: "total", Transfer: ledger.IDFromUint64(1), Account: ledger.IDFromUint64(2)}, {Name: "payment", Transfer: ledger.IDFromUint64(3), Account: ledger.IDFromUint64(4)}},
		CreatedAt: created, ExpiresAt: &expires}
	answered := *p
	answered.Status, answered.Answer = StatusApproved, &Answer{Approved: true, At: expires}
	body, ok := appendPayment(nil, p)
	if !ok {
		t.Fatal("appendPayment gave up")
	}
	purchase, err := json.Marshal(&Purchase{Payment: p, Checkout: CheckoutRef{Hash: "h", ID: "co_1", Merchant: "mch_1"}})
	if err != nil {
		t.Fatal(err)
	}
	approval, _ := json.Marshal(&answered)
	for name, c := range map[string]struct {
		doc  []byte
		want *Payment
	}{"payment": {body, p}, "purchase": {purchase, p}, "approval": {approval, &answered}} {
		var h paymentHead
		if !readPaymentHead(c.doc, &h, names{}) {
			t.Errorf("%s doc: the fast path gave up on %s", name, c.doc)
		}
		if want := headOf(c.want); !headsEqual(h, want) {
			t.Errorf("%s doc: head %+v, want %+v", name, h, want)
		}
		var whole Payment
		if !readPayment(c.doc, &whole) || !reflect.DeepEqual(&whole, c.want) {
			t.Errorf("%s doc: read %+v, want %+v", name, whole, c.want)
		}
	}
	// On load, the payments of one owner and agent share one copy of
	// each name, whichever way their docs were read.
	n := names{}
	var h1, h2 paymentHead
	if !readPaymentHead(body, &h1, n) || !readPaymentHead(approval, &h2, n) {
		t.Fatal("the fast path gave up")
	}
	h3, err := decodeHead([]byte(`{"id":"pay_2","owner":"usr\u005f1","agent":"agt_1","status":"held"}`), n)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []paymentHead{h2, h3} {
		if unsafe.StringData(h.owner) != unsafe.StringData(h1.owner) || unsafe.StringData(h.agent) != unsafe.StringData(h1.agent) {
			t.Errorf("payment %s holds its own copy of its owner or agent", h.id)
		}
	}
	// Another shape: an escape in a string, a member named in capitals.
	for _, doc := range []string{`{"id":"pay_\u0031","status":"completed"}`, `{"ID":"pay_1","Status":"held"}`} {
		var h paymentHead
		if readPaymentHead([]byte(doc), &h, nil) {
			t.Errorf("the fast path read %s", doc)
		}
		if h, err := decodeHead([]byte(doc), nil); err != nil || h.id != "pay_1" {
			t.Errorf("%s: head %+v, %v", doc, h, err)
		}
	}
	if _, err := decodeHead([]byte(`{"id":`), nil); err == nil {
		t.Error("a doc that is not JSON read")
	}
}

func headsEqual(a, b paymentHead) bool {
	timeEq := func(x, y *time.Time) bool {
		return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) && x.Location().String() == y.Location().String()
	}
	a.closed, b.closed = append([]byte{}, a.closed...), append([]byte{}, b.closed...)
	if len(a.legs) == 0 && len(b.legs) == 0 {
		a.legs, b.legs = nil, nil
	}
	ca, cb, ea, eb := a.created, b.created, a.expires, b.expires
	a.created, b.created, a.expires, b.expires = time.Time{}, time.Time{}, nil, nil
	return reflect.DeepEqual(a, b) && timeEq(&ca, &cb) && timeEq(ea, eb)
}

// headJSON is how encoding/json reads what readPaymentHead reads: the
// head's members typed as a Payment's, every other member only checked
// to be JSON.
type headJSON struct {
	ID        string           `json:"id"`
	Mandate   string           `json:"mandate"`
	Agent     string           `json:"agent"`
	Owner     string           `json:"owner"`
	Wallet    string           `json:"wallet"`
	Payee     string           `json:"payee"`
	Status    string           `json:"status"`
	Closed    string           `json:"closed_mandate"`
	Legs      []Leg            `json:"legs"`
	CreatedAt time.Time        `json:"created_at"`
	ExpiresAt *time.Time       `json:"expires_at"`
	Answer    *json.RawMessage `json:"answer"`
}

// FuzzPaymentHead: whatever readPaymentHead reads, encoding/json reads
// alike.
func FuzzPaymentHead(f *testing.F) {
	p := &Payment{ID: "pay_1", Agent: "agt_1", Owner: "usr_1", Status: StatusCompleted, Closed: "a.b.c",
		Legs: []Leg{{Name: "total", Transfer: ledger.IDFromUint64(9)}}, CreatedAt: time.Unix(1_800_000_000, 5).UTC()}
	body, _ := appendPayment(nil, p)
	f.Add(body)
	f.Add([]byte(`{"id":"x","legs":null,"expires_at":null,"answer":null,"other":[1,{"a":"\n"}]}`))
	f.Add([]byte(`{"id":"x","answer":{"approved":true},"created_at":"2026-11-30T00:00:00+01:30","legs":[{"name":"a","extra":0}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var h paymentHead
		if !readPaymentHead(doc, &h, names{}) {
			return
		}
		var j headJSON
		if err := json.Unmarshal(doc, &j); err != nil {
			t.Fatalf("the fast path read %q, encoding/json refuses it: %v", doc, err)
		}
		want := paymentHead{id: j.ID, mandate: j.Mandate, agent: j.Agent, owner: j.Owner, wallet: j.Wallet, payee: j.Payee,
			status: j.Status, closed: []byte(j.Closed), legs: j.Legs, created: j.CreatedAt, expires: j.ExpiresAt, answered: j.Answer != nil}
		if !headsEqual(h, want) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", doc, h, want)
		}
	})
}

// TestPaymentReadMatches: whatever a payment holds, reading its doc
// without reflection gives what encoding/json gives, and the docs the
// service writes (plain strings) are read that way.
func TestPaymentReadMatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPayment(t)
		doc, err := json.Marshal(p)
		if err != nil {
			t.Skip("json.Marshal fails on this payment")
		}
		var want Payment
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		var got Payment
		if !readPayment(doc, &got) {
			if !bytes.ContainsRune(doc, '\\') {
				t.Fatalf("the fast path gave up on %s", doc)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("doc %s\nread %+v\nwant %+v", doc, got, want)
		}
	})
}

// FuzzPaymentRead: whatever readPayment reads, encoding/json reads alike
// (decodePaymentJSON, its evaluated record included).
func FuzzPaymentRead(f *testing.F) {
	p := &Payment{ID: "pay_1", Agent: "agt_1", Owner: "usr_1", Status: StatusHeld, Closed: "a.b.c", Amount: 31, Scale: 2,
		Decision: protocol.Decision{Outcome: protocol.OutcomeAllow, Checks: []protocol.Check{{Index: 1, Detail: "d", Limits: []protocol.Limit{{Max: 5}}}}},
		Legs:     []Leg{{Name: "total", Transfer: ledger.IDFromUint64(9)}}, CreatedAt: time.Unix(1_800_000_000, 5).UTC(),
		Answer: &Answer{Approved: true, At: time.Unix(1_800_000_100, 0).UTC()}}
	body, _ := appendPayment(nil, p)
	f.Add(body)
	f.Add([]byte(`{"id":"x","decision":{"checks":null},"risk":{"matches":[{"rule_id":"r","extra":[1]}]},"limits":[],"expires_at":null,"answer":{}}`))
	f.Add([]byte(`{"id":"x","scale":255,"amount":-9223372036854775808,"decision":{"checks":[{"index":-1}]}}`))
	p.evaluated = &evaluated{Outcome: protocol.OutcomeApprovalRequired, Code: protocol.CodeApprovalRequired,
		Results:  []checkResult{{Result: protocol.CheckPass}, {Result: protocol.CheckUnresolved, Code: protocol.CodeApprovalRequired}},
		Usage:    protocol.UsageState{SpentTotal: 5, SpentMonth: -1, Uses: 2, LastUseAt: time.Unix(1_799_999_999, 7).UTC()},
		Category: "news"}
	body, _ = appendPayment(nil, p)
	f.Add(body)
	f.Add([]byte(`{"id":"x","evaluated":{"results":[],"extra":{"a":[null]},"last_use_at":"2026-11-30T00:00:00+01:30"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var got Payment
		if !readPayment(doc, &got) {
			return
		}
		wantp, err := decodePaymentJSON(doc)
		if err != nil {
			t.Fatalf("the fast path read %q, encoding/json refuses it: %v", doc, err)
		}
		want := *wantp
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nread %+v\nwant %+v", doc, got, want)
		}
	})
}

// BenchmarkReadPayment reads a typical payment doc (three checks with
// their limits, three legs) as a payment read again is: by hand, and with
// encoding/json as the baseline.
func BenchmarkReadPayment(b *testing.B) {
	lim := func(name string) []protocol.Limit {
		return []protocol.Limit{{Name: name, Unit: "USD", Scale: 2, Max: 1 << 40, Requested: 31, Remaining: 1<<40 - 31}}
	}
	p := &Payment{ID: "pay_01M8MVEB2023WXX4T8B34TTMQX", Mandate: "mdt_01M8MVEB20SGHB612F5ECHTVBK", Agent: "agt_d",
		Owner: "usr_01M8MVEB2082ES8SXNAB0Z2W1V", Wallet: "wal_01M8MVEB201XS4SP9JWMFVE9GR", Payee: "mch_x", Amount: 31,
		Currency: "USD", Scale: 2, Status: StatusCompleted, Closed: strings.Repeat("eyJhbGciOiJFZERTQSJ9", 42),
		Decision: protocol.Decision{Outcome: protocol.OutcomeAllow, Checks: []protocol.Check{
			{Mandate: "payment", Type: "payment.budget", Result: "pass", Detail: "10995116277.45 USD of the total budget 10995116277.76 USD left after this payment", Limits: lim("total")},
			{Mandate: "payment", Index: 1, Type: "payment.budget", Result: "pass", Detail: "10995116277.45 USD of the day budget 10995116277.76 USD left after this payment", Limits: lim("day")},
			{Mandate: "payment", Index: 2, Type: "payment.amount_range", Result: "pass", Detail: "0.31 USD is within [0.00 USD, 10.00 USD]", Limits: lim("max")}}},
		Legs: []Leg{{Name: "total", Transfer: ledger.IDFromUint64(1), Account: ledger.IDFromUint64(2)},
			{Name: "day", Transfer: ledger.IDFromUint64(3), Account: ledger.IDFromUint64(4)},
			{Name: "payment", Transfer: ledger.IDFromUint64(5), Account: ledger.IDFromUint64(6)}},
		CreatedAt: time.Date(2026, 11, 29, 23, 50, 0, 0, time.UTC)}
	doc, ok := appendPayment(nil, p)
	if !ok {
		b.Fatal("appendPayment gave up")
	}
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var q Payment
			if err := json.Unmarshal(doc, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-hand", func(b *testing.B) {
		for b.Loop() {
			var q Payment
			if !readPayment(doc, &q) {
				b.Fatal("gave up")
			}
		}
	})
}
