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
// json.Marshal's error (a time out of range).
type jsonOut struct {
	b  []byte
	ok bool
}

// str appends s as encoding/json does: plain printable ASCII as it is,
// anything with a byte to escape (quotes, backslashes, <, >, &, control
// characters, non-ASCII) through json.Marshal.
func (o *jsonOut) str(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
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

// key appends a member name (plain ASCII, a constant here) and its colon,
// after a comma unless it is the object's first.
func (o *jsonOut) key(first bool, name string) {
	if !first {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonOut) int(n int64) { o.b = strconv.AppendInt(o.b, n, 10) }

func (o *jsonOut) id(id ledger.ID) {
	o.b = append(o.b, '"')
	o.b = append(o.b, id.String()...)
	o.b = append(o.b, '"')
}

func (o *jsonOut) time(t time.Time) {
	q, err := t.MarshalJSON()
	o.ok = o.ok && err == nil
	o.b = append(o.b, q...)
}

func (o *jsonOut) limits(ls []protocol.Limit) {
	o.b = append(o.b, '[')
	for i := range ls {
		l := &ls[i]
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = append(o.b, '{')
		o.key(true, "name")
		o.str(l.Name)
		o.key(false, "unit")
		o.str(l.Unit)
		o.key(false, "scale")
		o.int(int64(l.Scale))
		o.key(false, "max")
		o.int(l.Max)
		o.key(false, "used")
		o.int(l.Used)
		o.key(false, "requested")
		o.int(l.Requested)
		o.key(false, "remaining")
		o.int(l.Remaining)
		o.b = append(o.b, '}')
	}
	o.b = append(o.b, ']')
}

func (o *jsonOut) decision(d *protocol.Decision) {
	o.b = append(o.b, '{')
	o.key(true, "outcome")
	o.str(string(d.Outcome))
	if d.Code != "" {
		o.key(false, "code")
		o.str(string(d.Code))
	}
	o.key(false, "checks")
	if d.Checks == nil {
		o.b = append(o.b, "null"...)
	} else {
		o.b = append(o.b, '[')
		for i := range d.Checks {
			c := &d.Checks[i]
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = append(o.b, '{')
			first := true
			if c.Mandate != "" {
				o.key(true, "mandate")
				o.str(c.Mandate)
				first = false
			}
			o.key(first, "index")
			o.int(int64(c.Index))
			o.key(false, "type")
			o.str(c.Type)
			o.key(false, "result")
			o.str(string(c.Result))
			if c.Code != "" {
				o.key(false, "code")
				o.str(string(c.Code))
			}
			o.key(false, "detail")
			o.str(c.Detail)
			if len(c.Limits) > 0 {
				o.key(false, "limits")
				o.limits(c.Limits)
			}
			o.b = append(o.b, '}')
		}
		o.b = append(o.b, ']')
	}
	o.b = append(o.b, '}')
}

func (o *jsonOut) risk(d *risk.Decision) {
	o.b = append(o.b, '{')
	o.key(true, "outcome")
	o.str(string(d.Outcome))
	if len(d.Matches) > 0 {
		o.key(false, "matches")
		o.b = append(o.b, '[')
		for i := range d.Matches {
			m := &d.Matches[i]
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = append(o.b, '{')
			o.key(true, "rule_id")
			o.str(m.RuleID)
			o.key(false, "scope")
			o.str(m.Scope)
			o.key(false, "outcome")
			o.str(string(m.Outcome))
			o.key(false, "reason")
			o.str(m.Reason)
			if m.Error != "" {
				o.key(false, "error")
				o.str(m.Error)
			}
			o.b = append(o.b, '}')
		}
		o.b = append(o.b, ']')
	}
	o.b = append(o.b, '}')
}

// appendPayment appends p as json.Marshal encodes it; ok is false when
// it cannot (a time out of range), and the caller asks json.Marshal.
func appendPayment(b []byte, p *Payment) ([]byte, bool) {
	o := &jsonOut{b: b, ok: true}
	o.b = append(o.b, '{')
	o.key(true, "id")
	o.str(p.ID)
	o.key(false, "mandate")
	o.str(p.Mandate)
	o.key(false, "agent")
	o.str(p.Agent)
	o.key(false, "owner")
	o.str(p.Owner)
	o.key(false, "wallet")
	o.str(p.Wallet)
	o.key(false, "payee")
	o.str(p.Payee)
	o.key(false, "amount")
	o.int(p.Amount)
	o.key(false, "currency")
	o.str(p.Currency)
	o.key(false, "scale")
	o.int(int64(p.Scale))
	o.key(false, "status")
	o.str(p.Status)
	o.key(false, "closed_mandate")
	o.str(p.Closed)
	if p.Hold != "" {
		o.key(false, "hold_reason")
		o.str(p.Hold)
	}
	o.key(false, "decision")
	o.decision(&p.Decision)
	o.key(false, "risk")
	o.risk(&p.Risk)
	o.key(false, "legs")
	if p.Legs == nil {
		o.b = append(o.b, "null"...)
	} else {
		o.b = append(o.b, '[')
		for i := range p.Legs {
			l := &p.Legs[i]
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = append(o.b, '{')
			o.key(true, "name")
			o.str(l.Name)
			o.key(false, "transfer")
			o.id(l.Transfer)
			o.key(false, "account")
			o.id(l.Account)
			o.b = append(o.b, '}')
		}
		o.b = append(o.b, ']')
	}
	if len(p.Limits) > 0 {
		o.key(false, "limits")
		o.limits(p.Limits)
	}
	o.key(false, "created_at")
	o.time(p.CreatedAt)
	if p.ExpiresAt != nil {
		o.key(false, "expires_at")
		o.time(*p.ExpiresAt)
	}
	if p.Answer != nil {
		o.key(false, "answer")
		o.b = append(o.b, '{')
		o.key(true, "approved")
		o.b = strconv.AppendBool(o.b, p.Answer.Approved)
		o.key(false, "at")
		o.time(p.Answer.At)
		o.b = append(o.b, '}')
	}
	o.b = append(o.b, '}')
	return o.b, o.ok
}
