package wallet_test

import (
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestEveryConstraintRefuses: for each constraint type of an open payment
// mandate, a payment that breaks it is refused with the constraint's code
// and changes nothing (wallet balance, limits, payments); one that keeps
// it goes through.
func TestEveryConstraintRefuses(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer e.stop()
	agent, key := e.agent("careful")
	now := e.clock.Now()
	// Categories are the registry's: shop is a news merchant.
	forecast := protocol.Merchant{ID: "mch_forecast"}
	e.registerMerchant(shop, "news")
	e.registerMerchant(forecast, "weather")
	cases := []struct {
		name       string
		constraint protocol.Constraint
		bad, good  int64
		payee      protocol.Merchant
		want       protocol.Code
		hold       bool
	}{
		{"amount range", &protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Min: 100, Max: 500}, 501, 500, shop, protocol.CodeAmountOutOfRange, false},
		{"amount below range", &protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Min: 100, Max: 500}, 99, 100, shop, protocol.CodeAmountOutOfRange, false},
		{"total budget", usd(300), 301, 300, shop, protocol.CodeBudgetExceeded, false},
		{"day budget", &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 200, Period: protocol.PeriodDay}, 201, 200, shop, protocol.CodeBudgetExceeded, false},
		{"week budget", &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 200, Period: protocol.PeriodWeek}, 201, 200, shop, protocol.CodeBudgetExceeded, false},
		{"month budget", &protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 200, Period: protocol.PeriodMonth}, 201, 200, shop, protocol.CodeBudgetExceeded, false},
		{"allowed payees", &protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{{ID: "mch_other"}}}, 10, 10, protocol.Merchant{ID: "mch_other"}, protocol.CodePayeeNotAllowed, false},
		{"allowed categories", &protocol.AllowedCategoriesConstraint{Categories: []string{"weather"}}, 10, 10, forecast, protocol.CodeCategoryNotAllowed, false},
		{"execution window", &protocol.ExecutionDateConstraint{NotBefore: now.Add(time.Hour).Unix()}, 10, 0, shop, protocol.CodeOutsideExecutionWindow, false},
		{"approval threshold", &protocol.ApprovalThresholdConstraint{Currency: "USD", Scale: 2, Amount: 50}, 51, 50, shop, protocol.CodeApprovalRequired, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := []protocol.Constraint{c.constraint}
			switch c.constraint.(type) {
			case *protocol.AmountRangeConstraint, *protocol.BudgetConstraint:
			default:
				cs = append(cs, usd(1_000_000)) // a mandate needs a money ceiling
			}
			m := e.mandate(key, agent.ID, cs...)
			before, _ := e.svc.Balance(bg, e.wallet)
			limits := mustMandateLimits(e, m)
			payments := len(e.svc.Payments(e.user.ID, "", ""))
			p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, c.bad)})
			if c.hold {
				if err != nil || p.Status != wallet.StatusHeld || p.Hold != string(c.want) {
					t.Fatalf("payment of %d: %+v, %v; want held for %s", c.bad, p, err, c.want)
				}
				return
			}
			if got := code(err); got != c.want {
				t.Fatalf("payment of %d: %v (code %q), want %s", c.bad, err, got, c.want)
			}
			after, _ := e.svc.Balance(bg, e.wallet)
			if after != before {
				t.Fatalf("a refused payment changed the wallet: %+v -> %+v", before, after)
			}
			if got := mustMandateLimits(e, m); len(got) != len(limits) || (len(got) > 0 && got[0].Used != limits[0].Used) {
				t.Fatalf("a refused payment changed the limits: %+v -> %+v", limits, got)
			}
			if n := len(e.svc.Payments(e.user.ID, "", "")); n != payments {
				t.Fatalf("a refused payment was recorded: %d -> %d payments", payments, n)
			}
			if c.good > 0 {
				if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, c.payee, c.good)}); err != nil {
					t.Fatalf("payment of %d within the constraint: %v", c.good, err)
				}
			}
		})
	}
	// Recurrence: the count, and a frequency that forbids a second use the
	// same day.
	m := e.mandate(key, agent.ID, &protocol.RecurrenceConstraint{Frequency: protocol.FrequencyDaily, MaxOccurrences: 2}, usd(1000))
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); code(err) != protocol.CodeRecurrenceTooSoon {
		t.Fatalf("second use the same day: %v", err)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); code(err) != protocol.CodeRecurrenceExceeded {
		t.Fatalf("third use of two: %v", err)
	}
	// An expired mandate.
	short := e.mandate(key, agent.ID, usd(100))
	e.clock.Advance(31 * 24 * time.Hour)
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, short, shop, 10)}); code(err) != protocol.CodeExpired {
		t.Fatalf("expired mandate: %v", err)
	}
	e.checkLedger()
}
