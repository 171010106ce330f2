package wallet

import (
	"bytes"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentpay/agentpay/protocol"
	"pgregory.net/rapid"
)

func genEvaluated(t *rapid.T) *evaluated {
	ev := &evaluated{Outcome: protocol.Outcome(genString.Draw(t, "outcome")), Code: protocol.Code(genString.Draw(t, "code")),
		Category: genString.Draw(t, "category"),
		Usage: protocol.UsageState{SpentTotal: rapid.Int64().Draw(t, "total"), SpentDay: rapid.Int64().Draw(t, "day"),
			SpentWeek: rapid.Int64().Draw(t, "week"), SpentMonth: rapid.Int64().Draw(t, "month"), Uses: rapid.Int64().Draw(t, "uses")}}
	if rapid.Bool().Draw(t, "used") {
		ev.Usage.LastUseAt = genTime(t, "last use")
	}
	ev.Results = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) checkResult {
		return checkResult{Result: protocol.CheckResult(genString.Draw(t, "result")), Code: protocol.Code(genString.Draw(t, "code"))}
	}), 0, 12).Draw(t, "results")
	return ev
}

// TestEvaluatedDocRoundTrip: a direct payment's doc holds its evaluated
// record in place of its decision, and reading the doc, by hand or with
// encoding/json, gives the payment back with that record, whatever its
// strings, figures and time.
func TestEvaluatedDocRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPayment(t)
		p.evaluated = genEvaluated(t)
		doc, ok := appendPayment(nil, p)
		if !ok {
			t.Skip("a time out of range: the doc is json.Marshal's")
		}
		if bytes.Contains(doc, []byte(`"decision":`)) || !bytes.Contains(doc, []byte(`"evaluated":{`)) {
			t.Fatalf("doc %s", doc)
		}
		viaJSON, err := decodePaymentJSON(doc)
		if err != nil {
			t.Fatalf("encoding/json refuses %s: %v", doc, err)
		}
		// Invalid UTF-8 is written as U+FFFD, as json.Marshal writes it.
		if validStrings(p.evaluated) && !sameEvaluated(viaJSON.evaluated, p.evaluated) || viaJSON.Decision.Checks != nil {
			t.Fatalf("doc %s\nread back %+v\nwant %+v", doc, viaJSON.evaluated, p.evaluated)
		}
		var byHand Payment
		if readPayment(doc, &byHand) {
			if !reflect.DeepEqual(&byHand, viaJSON) {
				t.Fatalf("doc %s\nby hand %+v\nencoding/json %+v", doc, byHand, *viaJSON)
			}
		} else if !bytes.ContainsRune(doc, '\\') {
			t.Fatalf("the fast path gave up on %s", doc)
		}
	})
}

// validStrings reports whether ev's strings are valid UTF-8.
func validStrings(ev *evaluated) bool {
	ok := utf8.ValidString(string(ev.Outcome)) && utf8.ValidString(string(ev.Code)) && utf8.ValidString(ev.Category)
	for _, r := range ev.Results {
		ok = ok && utf8.ValidString(string(r.Result)) && utf8.ValidString(string(r.Code))
	}
	return ok
}

// sameEvaluated compares records, their times as instants.
func sameEvaluated(a, b *evaluated) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	if !x.Usage.LastUseAt.Equal(y.Usage.LastUseAt) {
		return false
	}
	x.Usage.LastUseAt, y.Usage.LastUseAt = time.Time{}, time.Time{}
	if len(x.Results) == 0 && len(y.Results) == 0 {
		x.Results, y.Results = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

// TestEvaluatedMatches: a decision matches its record exactly when its
// outcome, code and every check's result and code are the recorded ones.
func TestEvaluatedMatches(t *testing.T) {
	d := protocol.Decision{Outcome: protocol.OutcomeApprovalRequired, Code: protocol.CodeApprovalRequired, Checks: []protocol.Check{
		{Result: protocol.CheckPass, Detail: "fine"}, {Result: protocol.CheckUnresolved, Code: protocol.CodeApprovalRequired}}}
	ev := evaluatedOf(&d, protocol.UsageState{SpentTotal: 3}, "news")
	if !ev.matches(&d) || ev.Usage.SpentTotal != 3 || ev.Category != "news" {
		t.Fatalf("a decision does not match its own record %+v", ev)
	}
	for name, change := range map[string]func(*protocol.Decision){
		"outcome":  func(d *protocol.Decision) { d.Outcome = protocol.OutcomeAllow },
		"code":     func(d *protocol.Decision) { d.Code = "" },
		"a result": func(d *protocol.Decision) { d.Checks[0].Result = protocol.CheckFail },
		"a code":   func(d *protocol.Decision) { d.Checks[1].Code = protocol.CodeBudgetExceeded },
		"one less": func(d *protocol.Decision) { d.Checks = d.Checks[:1] },
		"one more": func(d *protocol.Decision) { d.Checks = append(d.Checks, protocol.Check{Result: protocol.CheckPass}) },
	} {
		o := d
		o.Checks = append([]protocol.Check(nil), d.Checks...)
		change(&o)
		if ev.matches(&o) {
			t.Errorf("a decision with %s changed matches the record", name)
		}
	}
}
