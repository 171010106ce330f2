package wallet

import "github.com/agentpay/agentpay/protocol"

// DocsKept returns how many of the service's payments have their doc in
// memory, and how many payments it has.
func DocsKept(s *Service) (docs, payments int) {
	for k := range s.payments.all() {
		payments++
		if k.doc.Load() != nil {
			docs++
		}
	}
	return docs, payments
}

// ReadHeadsFast turns the fast reading of payment docs' heads on start on
// or off (off: encoding/json reads every doc, the baseline of
// BenchmarkStart), and returns the setting it replaced.
func ReadHeadsFast(on bool) bool {
	was := readHeadsFast
	readHeadsFast = on
	return was
}

// Evaluated returns a recorded decision: outcome, code, and one check of
// each result.
func Evaluated(outcome protocol.Outcome, code protocol.Code, results ...protocol.CheckResult) *evaluated {
	ev := &evaluated{Outcome: outcome, Code: code}
	for _, r := range results {
		ev.Results = append(ev.Results, checkResult{Result: r})
	}
	return ev
}

// RecordedDecision returns the decision a service without mandates
// explains for a payment of mandate whose doc recorded ev.
func RecordedDecision(ev *evaluated, mandate string) protocol.Decision {
	var s Service
	p := &Payment{Mandate: mandate, evaluated: ev}
	s.explain(p)
	return p.Decision
}
