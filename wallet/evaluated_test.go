package wallet_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestDecisionExplainedOnRead: a direct payment's doc records what its
// decision was computed from, not the checks; read back (its doc in
// memory, from the store, after a restart, and once its owner answered
// it) the payment's decision is the one it was answered with, check by
// check, for a mandate with every kind of payment constraint and
// payments that passed, were held, and spent more of each limit.
func TestDecisionExplainedOnRead(t *testing.T) {
	e := newEnvDocs(t, []risk.Rule{}, 2) // most reads come from the store
	defer func() { e.stop() }()
	agent, key := e.agent("thorough")
	forecast := protocol.Merchant{ID: "mch_forecast", Name: "Forecast"}
	e.registerMerchant(shop, "news")
	e.registerMerchant(forecast, "weather")
	now := e.clock.Now()
	m := e.mandate(key, agent.ID,
		usd(1_000_000),
		&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 90_000, Period: protocol.PeriodDay},
		&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 95_000, Period: protocol.PeriodWeek},
		&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 99_000, Period: protocol.PeriodMonth},
		&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Min: 5, Max: 5_000},
		&protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{shop, forecast}},
		&protocol.AllowedCategoriesConstraint{Categories: []string{"news", "weather"}},
		&protocol.ExecutionDateConstraint{NotBefore: now.Add(-time.Hour).Unix()},
		&protocol.RecurrenceConstraint{Frequency: protocol.FrequencyOnDemand, MaxOccurrences: 50},
		&protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 1_000})
	var all []*wallet.Payment
	for i := range 8 {
		payee := shop
		if i%2 == 1 {
			payee = forecast
		}
		amount := int64(100 + 37*i)
		if i%3 == 2 {
			amount = 1_500 + int64(i) // above the approval threshold: held
		}
		p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, payee, amount)})
		if err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
		if len(p.Decision.Checks) != 10 || p.Decision.Checks[3].Limits == nil || p.Decision.Checks[0].Detail == "" {
			t.Fatalf("payment %d answered with a decision of %d checks: %+v", i, len(p.Decision.Checks), p.Decision)
		}
		all = append(all, p)
		e.clock.Advance(time.Minute)
	}
	// The doc records the results and inputs, not the checks.
	c, err := e.svc.Evidence(bg, all[len(all)-1])
	if err != nil {
		t.Fatal(err)
	}
	body := string(c.Docs[0].Body)
	if !strings.Contains(body, `"evaluated":{`) || strings.Contains(body, `"checks"`) || strings.Contains(body, `"detail"`) {
		t.Fatalf("the payment's doc: %s", body)
	}
	decision := func(p *wallet.Payment) string {
		b, err := json.Marshal(p.Decision)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	check := func(when string) {
		t.Helper()
		for i, want := range all {
			got, err := e.svc.Payment(want.ID)
			if err != nil {
				t.Fatalf("%s: payment %d: %v", when, i, err)
			}
			if g, w := decision(got), decision(want); g != w {
				t.Fatalf("%s: payment %d's decision read back:\n got %s\nwant %s", when, i, g, w)
			}
		}
	}
	check("made")
	held := all[2]
	if held.Status != wallet.StatusHeld {
		t.Fatalf("payment 2 is %s, want held", held.Status)
	}
	approved, err := e.svc.Answer(bg, e.user.ID, held.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if decision(approved) != decision(held) {
		t.Fatalf("the answer changed the decision:\n%s\n%s", decision(approved), decision(held))
	}
	for range 3 { // the approval's doc dropped from memory
		if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); err != nil {
			t.Fatal(err)
		}
	}
	check("answered")
	e.stop()
	e.start()
	check("restarted")
	e.checkLedger()
}

// TestDecisionRecordedOnly: a payment whose recorded results its
// mandate's constraints, evaluated again, do not reproduce (a later
// version's rules, say) keeps its recorded outcome and results.
func TestDecisionRecordedOnly(t *testing.T) {
	d := wallet.RecordedDecision(wallet.Evaluated(protocol.OutcomeApprovalRequired, protocol.CodeApprovalRequired,
		protocol.CheckPass, protocol.CheckUnresolved), "mdt_unknown")
	if d.Outcome != protocol.OutcomeApprovalRequired || d.Code != protocol.CodeApprovalRequired || len(d.Checks) != 2 ||
		d.Checks[0].Result != protocol.CheckPass || d.Checks[1].Result != protocol.CheckUnresolved ||
		!strings.Contains(d.Checks[1].Detail, "could not be rebuilt") {
		t.Fatalf("decision of an unknown mandate: %s", fmt.Sprint(d))
	}
}
