package wallet

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
)

// A payment's doc is encoded on every payment; encoding/json's reflection
// made it one of the costliest steps. appendPayment writes the bytes
// json.Marshal writes for a *Payment, field by field: the same order, the
// same omitempty rules, and for any string that is not plain printable
// ASCII, for the times and for anything else unusual, encoding/json
// itself. TestPaymentJSONMatches holds it to json.Marshal on generated
// payments, and TestPaymentJSONFields to the types' fields.

// jsonOut is an encoding in progress; ok turns false when a value needs
// json.Marshal's error (a time out of range). first is whether the object
// being written has no member yet.
type jsonOut struct {
	b     []byte
	ok    bool
	first bool
}

// str appends s as encoding/json does: plain printable ASCII as it is,
// anything with a byte to escape (quotes, backslashes, <, >, &, control
// characters, non-ASCII) through json.Marshal.
func (o *jsonOut) str(s string) {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			q, err := json.Marshal(s)
			o.ok = o.ok && err == nil
			o.b = append(o.b, q...)
			return
		}
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, s...)
	o.b = append(o.b, '"')
}

// jsonPlain marks the bytes encoding/json writes as they are: printable
// ASCII but quotes, backslashes, <, > and &.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func (o *jsonOut) open() { o.b, o.first = append(o.b, '{'), true }

func (o *jsonOut) close() { o.b, o.first = append(o.b, '}'), false }

// key appends a member name (plain ASCII, a constant here) and its colon,
// after a comma unless it is the object's first.
func (o *jsonOut) key(name string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonOut) kstr(name, v string) { o.key(name); o.str(v) }

func (o *jsonOut) kint(name string, n int64) {
	o.key(name)
	o.b = strconv.AppendInt(o.b, n, 10)
}

func (o *jsonOut) kid(name string, id ledger.ID) {
	o.key(name)
	o.b = append(o.b, '"')
	o.b = append(o.b, id.String()...)
	o.b = append(o.b, '"')
}

func (o *jsonOut) ktime(name string, t time.Time) {
	o.key(name)
	q, err := t.MarshalJSON()
	o.ok = o.ok && err == nil
	o.b = append(o.b, q...)
}

// array appends n elements, written by elem, as a JSON array (null when
// nilSlice).
func (o *jsonOut) array(n int, nilSlice bool, elem func(i int)) {
	if nilSlice {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '[')
	for i := range n {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		elem(i)
	}
	o.b = append(o.b, ']')
	o.first = false
}

func (o *jsonOut) limits(ls []protocol.Limit) {
	o.array(len(ls), ls == nil, func(i int) {
		l := &ls[i]
		o.open()
		o.kstr("name", l.Name)
		o.kstr("unit", l.Unit)
		o.kint("scale", int64(l.Scale))
		o.kint("max", l.Max)
		o.kint("used", l.Used)
		o.kint("requested", l.Requested)
		o.kint("remaining", l.Remaining)
		o.close()
	})
}

func (o *jsonOut) decision(d *protocol.Decision) {
	o.open()
	o.kstr("outcome", string(d.Outcome))
	if d.Code != "" {
		o.kstr("code", string(d.Code))
	}
	o.key("checks")
	o.array(len(d.Checks), d.Checks == nil, func(i int) {
		c := &d.Checks[i]
		o.open()
		if c.Mandate != "" {
			o.kstr("mandate", c.Mandate)
		}
		o.kint("index", int64(c.Index))
		o.kstr("type", c.Type)
		o.kstr("result", string(c.Result))
		if c.Code != "" {
			o.kstr("code", string(c.Code))
		}
		o.kstr("detail", c.Detail)
		if len(c.Limits) > 0 {
			o.key("limits")
			o.limits(c.Limits)
		}
		o.close()
	})
	o.close()
}

func (o *jsonOut) risk(d *risk.Decision) {
	o.open()
	o.kstr("outcome", string(d.Outcome))
	if len(d.Matches) > 0 {
		o.key("matches")
		o.array(len(d.Matches), false, func(i int) {
			m := &d.Matches[i]
			o.open()
			o.kstr("rule_id", m.RuleID)
			o.kstr("scope", m.Scope)
			o.kstr("outcome", string(m.Outcome))
			o.kstr("reason", m.Reason)
			if m.Error != "" {
				o.kstr("error", m.Error)
			}
			o.close()
		})
	}
	o.close()
}

// appendPayment appends p as json.Marshal encodes it; ok is false when
// it cannot (a time out of range), and the caller asks json.Marshal.
func appendPayment(b []byte, p *Payment) ([]byte, bool) {
	o := &jsonOut{b: b, ok: true}
	o.open()
	o.kstr("id", p.ID)
	o.kstr("mandate", p.Mandate)
	o.kstr("agent", p.Agent)
	o.kstr("owner", p.Owner)
	o.kstr("wallet", p.Wallet)
	o.kstr("payee", p.Payee)
	o.kint("amount", p.Amount)
	o.kstr("currency", p.Currency)
	o.kint("scale", int64(p.Scale))
	o.kstr("status", p.Status)
	o.kstr("closed_mandate", p.Closed)
	if p.Hold != "" {
		o.kstr("hold_reason", p.Hold)
	}
	o.key("decision")
	o.decision(&p.Decision)
	o.key("risk")
	o.risk(&p.Risk)
	o.key("legs")
	o.array(len(p.Legs), p.Legs == nil, func(i int) {
		o.open()
		o.kstr("name", p.Legs[i].Name)
		o.kid("transfer", p.Legs[i].Transfer)
		o.kid("account", p.Legs[i].Account)
		o.close()
	})
	if len(p.Limits) > 0 {
		o.key("limits")
		o.limits(p.Limits)
	}
	o.ktime("created_at", p.CreatedAt)
	if p.ExpiresAt != nil {
		o.ktime("expires_at", *p.ExpiresAt)
	}
	if p.Answer != nil {
		o.key("answer")
		o.open()
		o.key("approved")
		o.b = strconv.AppendBool(o.b, p.Answer.Approved)
		o.ktime("at", p.Answer.At)
		o.close()
	}
	o.close()
	return o.b, o.ok
}
