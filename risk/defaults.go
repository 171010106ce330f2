package risk

// Expressions of the default platform rules.
const (
	// DefaultVelocityExpr declines an agent making more than 60 payments a
	// minute.
	DefaultVelocityExpr = `agent.payments_last_minute >= 60`
	// DefaultNewMerchantExpr asks a human to confirm a first payment to a
	// payee above 10000 minor units.
	DefaultNewMerchantExpr = `merchant.is_new && payment.amount > 10000`
	// DefaultMerchantDailyExpr flags for review a wallet paying one payee
	// more than 50000 minor units in a UTC day.
	DefaultMerchantDailyExpr = `merchant.amount_today + payment.amount > 50000`
)

// DefaultPlatformRules returns the built-in platform rules. They are
// examples as much as defaults; amounts are in minor units of whatever
// currency the payment is in.
func DefaultPlatformRules() []Rule {
	return []Rule{
		{ID: "platform.velocity", Scope: ScopePlatform, Expression: DefaultVelocityExpr,
			Outcome: OutcomeDecline, Reason: "velocity_exceeded", Priority: 10, Enabled: true},
		{ID: "platform.new_merchant_high_amount", Scope: ScopePlatform, Expression: DefaultNewMerchantExpr,
			Outcome: OutcomeStepUp, Reason: "new_merchant_high_amount", Priority: 20, Enabled: true},
		{ID: "platform.merchant_daily_amount", Scope: ScopePlatform, Expression: DefaultMerchantDailyExpr,
			Outcome: OutcomeReview, Reason: "merchant_daily_amount", Priority: 30, Enabled: true},
	}
}

// CompileAll compiles rules and returns them in evaluation order. It stops
// at the first invalid rule.
func CompileAll(rules []Rule) ([]*CompiledRule, error) {
	out := make([]*CompiledRule, 0, len(rules))
	for _, r := range rules {
		c, err := Compile(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	SortRules(out)
	return out, nil
}
