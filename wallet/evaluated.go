package wallet

import (
	"encoding/json"
	"time"

	"github.com/agentpay/agentpay/internal/jsonout"
	"github.com/agentpay/agentpay/internal/jsonscan"
	"github.com/agentpay/agentpay/protocol"
)

// A direct payment's doc does not hold its decision's checks (about a
// kilobyte of explanations and figures, half the doc, which every payment
// encoded, hashed, compressed and wrote). It holds what they were
// computed from and what they concluded, under "evaluated": the outcome,
// each check's result and code, the mandate's usage the evaluation saw,
// the payee's category as the merchant registry had it, and (the doc's
// created_at) the time; the closed mandate and the open mandate, which
// give the rest, are stored already. Reading the payment evaluates the
// open mandate's constraints again on those inputs, which gives the
// checks back, explanations and limit figures included.
//
// The recorded results are authoritative: were a later version to
// evaluate them otherwise, the payment keeps its recorded outcome and
// results and says its explanations could not be rebuilt.

// evaluated is a direct payment's decision as its doc records it.
type evaluated struct {
	Outcome  protocol.Outcome
	Code     protocol.Code
	Results  []checkResult
	Usage    protocol.UsageState
	Category string
}

// checkResult is one check's recorded result.
type checkResult struct {
	Result protocol.CheckResult
	Code   protocol.Code
}

// evaluatedOf records decision d, evaluated on usage u with the payee's
// category.
func evaluatedOf(d *protocol.Decision, u protocol.UsageState, category string) *evaluated {
	// The record and the results of up to four checks are one allocation.
	r := new(struct {
		ev  evaluated
		few [4]checkResult
	})
	var results []checkResult
	if n := len(d.Checks); n <= len(r.few) {
		results = r.few[:n:n]
	} else {
		results = make([]checkResult, n)
	}
	for i, ch := range d.Checks {
		results[i] = checkResult{Result: ch.Result, Code: ch.Code}
	}
	r.ev = evaluated{Outcome: d.Outcome, Code: d.Code, Usage: u, Category: category, Results: results}
	return &r.ev
}

// matches reports whether decision d concludes what ev recorded.
func (ev *evaluated) matches(d *protocol.Decision) bool {
	if d.Outcome != ev.Outcome || d.Code != ev.Code || len(d.Checks) != len(ev.Results) {
		return false
	}
	for i, ch := range d.Checks {
		if ch.Result != ev.Results[i].Result || ch.Code != ev.Results[i].Code {
			return false
		}
	}
	return true
}

// unexplained is the decision ev records, without what it was computed
// from: each check's type (from the open mandate, when it has one at the
// check's index), result and code.
func (ev *evaluated) unexplained(open *protocol.OpenPaymentMandate) protocol.Decision {
	d := protocol.Decision{Outcome: ev.Outcome, Code: ev.Code, Checks: make([]protocol.Check, len(ev.Results))}
	for i, r := range ev.Results {
		ch := protocol.Check{Mandate: "payment", Index: i, Result: r.Result, Code: r.Code,
			Detail: "recorded " + string(r.Result) + "; its explanation could not be rebuilt"}
		if open != nil && i < len(open.Constraints) && open.Constraints[i] != nil {
			ch.Type = open.Constraints[i].ConstraintType()
		}
		d.Checks[i] = ch
	}
	return d
}

// appendEvaluated writes ev as the doc's "evaluated" member's value.
func appendEvaluated(w *jsonout.Writer, ev *evaluated) {
	w.Open()
	w.KStr("outcome", string(ev.Outcome))
	if ev.Code != "" {
		w.KStr("code", string(ev.Code))
	}
	w.Key("results")
	w.Array(len(ev.Results), false, func(i int) {
		r := &ev.Results[i]
		w.Open()
		w.KStr("result", string(r.Result))
		if r.Code != "" {
			w.KStr("code", string(r.Code))
		}
		w.Close()
	})
	u := &ev.Usage
	for _, f := range []struct {
		name string
		v    int64
	}{{"spent_total", u.SpentTotal}, {"spent_day", u.SpentDay}, {"spent_week", u.SpentWeek},
		{"spent_month", u.SpentMonth}, {"uses", u.Uses}} {
		if f.v != 0 {
			w.KInt(f.name, f.v)
		}
	}
	if !u.LastUseAt.IsZero() {
		w.KTime("last_use_at", u.LastUseAt)
	}
	if ev.Category != "" {
		w.KStr("payee_category", ev.Category)
	}
	w.Close()
}

// readEvaluated reads what appendEvaluated writes.
func readEvaluated(s *jsonscan.Scanner, ev *evaluated) bool {
	u := &ev.Usage
	return s.Object(func(name []byte) bool {
		switch string(name) {
		case "outcome":
			return strAs(s, &ev.Outcome)
		case "code":
			return strAs(s, &ev.Code)
		case "results":
			ev.Results = []checkResult{}
			return s.Array(func() bool {
				ev.Results = append(ev.Results, checkResult{})
				r := &ev.Results[len(ev.Results)-1]
				return s.Object(func(name []byte) bool {
					switch string(name) {
					case "result":
						return strAs(s, &r.Result)
					case "code":
						return strAs(s, &r.Code)
					}
					return lowerASCII(name) && s.Skip()
				})
			})
		case "spent_total":
			return s.Int64(&u.SpentTotal)
		case "spent_day":
			return s.Int64(&u.SpentDay)
		case "spent_week":
			return s.Int64(&u.SpentWeek)
		case "spent_month":
			return s.Int64(&u.SpentMonth)
		case "uses":
			return s.Int64(&u.Uses)
		case "last_use_at":
			return readTime(s, &u.LastUseAt)
		case "payee_category":
			return s.Str(&ev.Category)
		}
		return lowerASCII(name) && s.Skip()
	})
}

// evaluatedJSON is the "evaluated" member as encoding/json reads it (a
// doc the fast reader gives up on).
type evaluatedJSON struct {
	Outcome protocol.Outcome `json:"outcome"`
	Code    protocol.Code    `json:"code"`
	Results []struct {
		Result protocol.CheckResult `json:"result"`
		Code   protocol.Code        `json:"code"`
	} `json:"results"`
	SpentTotal    int64     `json:"spent_total"`
	SpentDay      int64     `json:"spent_day"`
	SpentWeek     int64     `json:"spent_week"`
	SpentMonth    int64     `json:"spent_month"`
	Uses          int64     `json:"uses"`
	LastUseAt     time.Time `json:"last_use_at"`
	PayeeCategory string    `json:"payee_category"`
}

// decodePaymentJSON decodes a payment's doc with encoding/json, its
// evaluated record included: what readPayment reads, for the docs it
// gives up on.
func decodePaymentJSON(doc []byte) (*Payment, error) {
	var j struct {
		*Payment
		Evaluated *evaluatedJSON `json:"evaluated"`
	}
	j.Payment = &Payment{}
	if err := json.Unmarshal(doc, &j); err != nil {
		return nil, err
	}
	if j.Evaluated != nil {
		j.Payment.evaluated = j.Evaluated.evaluated()
	}
	return j.Payment, nil
}

func (j *evaluatedJSON) evaluated() *evaluated {
	ev := &evaluated{Outcome: j.Outcome, Code: j.Code, Category: j.PayeeCategory,
		Usage: protocol.UsageState{SpentTotal: j.SpentTotal, SpentDay: j.SpentDay, SpentWeek: j.SpentWeek,
			SpentMonth: j.SpentMonth, Uses: j.Uses, LastUseAt: j.LastUseAt}}
	if j.Results != nil {
		ev.Results = make([]checkResult, len(j.Results))
	}
	for i, r := range j.Results {
		ev.Results[i] = checkResult{Result: r.Result, Code: r.Code}
	}
	return ev
}

// explain sets p's decision from its evaluated record, when its doc held
// one: the open mandate's constraints evaluated again on the recorded
// inputs (the closed mandate's payee and execution date, the amount, the
// time the payment was made), or, should that conclude otherwise than
// the record or the mandate be unknown, the recorded results alone.
func (s *Service) explain(p *Payment) {
	ev := p.evaluated
	if ev == nil || p.Decision.Checks != nil {
		return
	}
	s.mu.RLock()
	m := s.mandates[p.Mandate]
	s.mu.RUnlock()
	var open *protocol.OpenPaymentMandate
	if m != nil && m.open != nil {
		open = m.open.Claims
		if c, ok := protocol.Parse[protocol.ClosedPaymentMandate]([]byte(p.Closed)).Unverified(); ok {
			facts := &protocol.PaymentFacts{Amount: protocol.Money{Amount: p.Amount, Currency: p.Currency, Scale: p.Scale},
				Payee: c.Payee, PayeeCategory: ev.Category}
			if c.ExecutionDate != 0 {
				facts.ExecuteAt = time.Unix(c.ExecutionDate, 0)
			}
			d := open.Evaluate(protocol.EvalInput{Now: p.CreatedAt, Payment: facts, State: ev.Usage})
			if ev.matches(&d) {
				p.Decision = d
				return
			}
		}
	}
	p.Decision = ev.unexplained(open)
}
