package wallet

import (
	"github.com/agentpay/agentpay/internal/jsonout"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/risk"
)

// A payment's doc is encoded on every payment; encoding/json's reflection
// made it one of the costliest steps. appendPayment writes the bytes
// json.Marshal writes for a *Payment, field by field, on jsonout, but for
// a direct payment's decision, whose doc holds its evaluated record
// instead (evaluated.go). TestPaymentJSONMatches holds it to json.Marshal
// on generated payments, TestPaymentJSONFields to the types' fields and
// TestEvaluatedDocRoundTrip to the evaluated form.

func kid(w *jsonout.Writer, name string, id ledger.ID) {
	w.Key(name)
	w.B = append(w.B, '"')
	w.B = append(w.B, id.String()...)
	w.B = append(w.B, '"')
}

func riskJSON(w *jsonout.Writer, d *risk.Decision) {
	w.Open()
	w.KStr("outcome", string(d.Outcome))
	if len(d.Matches) > 0 {
		w.Key("matches")
		w.Array(len(d.Matches), false, func(i int) {
			m := &d.Matches[i]
			w.Open()
			w.KStr("rule_id", m.RuleID)
			w.KStr("scope", m.Scope)
			w.KStr("outcome", string(m.Outcome))
			w.KStr("reason", m.Reason)
			if m.Error != "" {
				w.KStr("error", m.Error)
			}
			w.Close()
		})
	}
	w.Close()
}

// appendPayment appends p as json.Marshal encodes it; ok is false when
// it cannot (a time out of range), and the caller asks json.Marshal.
func appendPayment(b []byte, p *Payment) ([]byte, bool) {
	w := jsonout.New(b)
	w.Open()
	w.PaymentHead(p.ID, p.Mandate, p.Agent, p.Owner, p.Wallet, p.Payee, p.Amount, p.Currency, p.Scale, p.Status)
	w.KStr("closed_mandate", p.Closed)
	if p.Hold != "" {
		w.KStr("hold_reason", p.Hold)
	}
	if p.evaluated != nil {
		w.Key("evaluated")
		appendEvaluated(w, p.evaluated)
	} else {
		w.Key("decision")
		w.Decision(&p.Decision)
	}
	w.Key("risk")
	riskJSON(w, &p.Risk)
	w.Key("legs")
	w.Array(len(p.Legs), p.Legs == nil, func(i int) {
		w.Open()
		w.KStr("name", p.Legs[i].Name)
		kid(w, "transfer", p.Legs[i].Transfer)
		kid(w, "account", p.Legs[i].Account)
		w.Close()
	})
	if len(p.Limits) > 0 {
		w.Key("limits")
		w.Limits(p.Limits)
	}
	w.KTime("created_at", p.CreatedAt)
	if p.ExpiresAt != nil {
		w.KTime("expires_at", *p.ExpiresAt)
	}
	if p.Answer != nil {
		w.Key("answer")
		w.Open()
		w.KBool("approved", p.Answer.Approved)
		w.KTime("at", p.Answer.At)
		w.Close()
	}
	w.Close()
	return w.B, w.OK
}
