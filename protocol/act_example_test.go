package protocol_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/agentpay/agentpay/protocol"
)

// A user lets an agent spend up to 100.00 USD a payment and 200.00 USD a
// month at one shop; the platform verifies the mandate and decides a
// payment of 82.20 USD with 150.00 USD already spent this month.
func Example() {
	user, _ := protocol.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	agent, _ := protocol.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{2}, 32)))
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

	cnf, _ := protocol.NewConfirmation(agent.PublicKey())
	mandate := &protocol.OpenPaymentMandate{
		Claims: protocol.Claims{
			Issuer: "usr_alice", Subject: "agt_shopper", Audience: protocol.Audience{"https://agentpay.example"},
			IssuedAt: now.Unix(), Expiry: now.Add(30 * 24 * time.Hour).Unix(), ID: "mdt_0001_0123456789abcdef",
		},
		Cnf:               cnf,
		PaymentInstrument: protocol.PaymentInstrument{ID: "wal_alice", Type: protocol.PaymentInstrumentWallet},
		Constraints: protocol.Constraints{
			&protocol.AmountRangeConstraint{Currency: "USD", Scale: 2, Max: 10000},
			&protocol.BudgetConstraint{Currency: "USD", Scale: 2, Max: 20000, Period: protocol.PeriodMonth},
			&protocol.AllowedPayeesConstraint{Allowed: []protocol.Merchant{{ID: "mch_shoes"}}},
		},
	}
	signed, err := protocol.Sign(user, mandate)
	if err != nil {
		fmt.Println(err)
		return
	}

	keys := protocol.NewKeySet()
	_ = keys.Add("usr_alice", protocol.PartyUser, user.PublicKey())
	vc := &protocol.VerifyContext{Now: now, Audience: "https://agentpay.example", Keys: keys}
	v, err := protocol.VerifyOpenPaymentMandate(context.Background(), vc, signed)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := v.Claims.Evaluate(protocol.EvalInput{
		Now:     now,
		Payment: &protocol.PaymentFacts{Amount: protocol.Money{Amount: 8220, Currency: "USD", Scale: 2}, Payee: protocol.Merchant{ID: "mch_shoes"}},
		State:   protocol.UsageState{SpentMonth: 15000, SpentTotal: 15000},
	})
	fmt.Println(d.Outcome, d.Code)
	for _, c := range d.Checks {
		fmt.Printf("%s %s: %s\n", c.Type, c.Result, c.Detail)
	}
	// Output:
	// deny budget_exceeded
	// payment.amount_range pass: 82.20 USD is within [0.00 USD, 100.00 USD]
	// payment.budget fail: 150.00 USD spent this month plus 82.20 USD is above the budget 200.00 USD
	// payment.allowed_payees pass: payee "mch_shoes" is allowed
}
