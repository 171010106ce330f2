package api

import (
	"github.com/agentpay/agentpay/internal/jsonout"
	"github.com/agentpay/agentpay/protocol"
)

// appendWalletPayment appends p as json.Marshal encodes it, by hand: a
// payment is the answer to every agent's payment request, and
// encoding/json's reflection was a fair part of writing it. ok is false
// when it cannot, and the caller asks json.Marshal.
// TestWalletPaymentJSONMatches holds it to json.Marshal on generated
// payments and pages of them.
func appendWalletPayment(b []byte, p *protocol.WalletPayment) ([]byte, bool) {
	w := jsonout.New(b)
	walletPaymentJSON(w, p)
	return w.B, w.OK
}

// appendWalletPaymentList appends a page of payments as json.Marshal
// encodes it (see appendWalletPayment).
func appendWalletPaymentList(b []byte, l *protocol.WalletPaymentList) ([]byte, bool) {
	w := jsonout.New(b)
	w.Open()
	w.Key("data")
	w.Array(len(l.Data), l.Data == nil, func(i int) { walletPaymentJSON(w, &l.Data[i]) })
	if l.NextCursor != "" {
		w.KStr("next_cursor", l.NextCursor)
	}
	w.Close()
	return w.B, w.OK
}

func walletPaymentJSON(w *jsonout.Writer, p *protocol.WalletPayment) {
	w.Open()
	w.PaymentHead(p.ID, p.Mandate, p.Agent, p.Owner, p.Wallet, p.Payee, p.Amount, p.Currency, p.Scale, p.Status)
	if p.HoldReason != "" {
		w.KStr("hold_reason", p.HoldReason)
	}
	w.KStr("closed_mandate", p.ClosedMandate)
	w.Key("decision")
	w.Decision(&p.Decision)
	w.Key("risk")
	w.Open()
	w.KStr("outcome", p.Risk.Outcome)
	w.Key("reasons")
	w.Strs(p.Risk.Reasons)
	if len(p.Risk.Matches) > 0 {
		w.Key("matches")
		w.Array(len(p.Risk.Matches), false, func(i int) {
			m := &p.Risk.Matches[i]
			w.Open()
			w.KStr("rule_id", m.RuleID)
			w.KStr("scope", m.Scope)
			w.KStr("outcome", m.Outcome)
			w.KStr("reason", m.Reason)
			w.Close()
		})
	}
	w.Close()
	w.Key("limits")
	w.Limits(p.Limits)
	w.KStr("created_at", p.CreatedAt)
	if p.ExpiresAt != "" {
		w.KStr("expires_at", p.ExpiresAt)
	}
	if p.Answer != nil {
		w.Key("answer")
		w.Open()
		w.KBool("approved", p.Answer.Approved)
		w.KStr("at", p.Answer.At)
		w.Close()
	}
	if p.Receipt != "" {
		w.KStr("receipt", p.Receipt)
	}
	w.Close()
}
