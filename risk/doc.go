// Package risk evaluates risk rules on AI Wallet payments.
//
// The wallet service calls Evaluate on every payment attempt by an agent,
// after the hard limits (mandate budgets, amount ranges, allowed payees)
// have passed. Hard limits come first and are not expressed as rules: a
// rule can only add friction (review, step-up, decline), never loosen a
// hard limit or a stricter rule.
//
// # Rules
//
// A Rule is a CEL expression (https://cel.dev) of type bool, with an
// Outcome applied when it is true and a snake_case reason code recorded
// with the payment. Rules are platform-wide (Scope "platform") or belong
// to one wallet (Scope is the wallet id). Compile validates a rule when it
// is saved and returns a *RuleError with one of these codes:
//
//	rule_invalid_id          bad rule id
//	rule_invalid_scope       scope is neither "platform" nor a wallet id
//	rule_invalid_expression  empty, not UTF-8, syntax or type error
//	rule_expression_too_long longer than MaxExpressionLen bytes
//	rule_not_boolean         expression type is not bool (dyn is refused)
//	rule_too_costly          static cost estimate above MaxEstimatedCost
//	rule_invalid_outcome     not approve, review, step_up or decline
//	rule_invalid_reason      not snake_case, too long, or "rule_error"
//
// Compile once when a rule is saved or loaded, keep the *CompiledRule and
// evaluate it many times; Evaluate allocates little and does no parsing.
//
// # Variables
//
// Amounts are integers in minor units of the payment currency. Counters
// exclude the payment being evaluated.
//
//	payment.amount               int     amount of this payment
//	payment.currency             string  currency or asset code ("USD", "USDC")
//	payment.mandate_id           string  mandate the payment is made under, or ""
//	payment.hour_utc             int     hour of day, 0-23, UTC
//	payment.has_price_condition  bool    the mandate has a price condition
//	payment.price_at_or_below    int     its price limit, 0 without one
//	payment.metadata             map(string, string) free attributes
//	merchant.id                  string  payee id
//	merchant.category            string  payee category
//	merchant.country             string  payee country (ISO 3166-1 alpha-2), or ""
//	merchant.is_new              bool    first payment by this wallet to this payee
//	merchant.amount_today        int     paid by this wallet to this payee today (UTC)
//	agent.id                     string  paying agent
//	agent.payments_last_minute   int     payments by this agent in the last minute
//	agent.amount_last_hour       int     amount paid by this agent in the last hour
//	wallet.id                    string  paying wallet
//	wallet.amount_today          int     paid from this wallet today (UTC)
//
// The standard CEL library and macros are available (in, size,
// startsWith, matches, exists, all, map, filter, ...). Reading a missing
// metadata key is a runtime error; guard it: "k" in payment.metadata &&
// payment.metadata["k"] == "v". Integer overflow is a runtime error too.
//
// Examples (the built-in DefaultPlatformRules):
//
//	agent.payments_last_minute >= 60               decline  velocity_exceeded
//	merchant.is_new && payment.amount > 10000      step_up  new_merchant_high_amount
//	merchant.amount_today + payment.amount > 50000 review   merchant_daily_amount
//
// # Outcomes and severity
//
// approve lets the payment proceed, review lets it proceed and flags it,
// step_up holds it until a human confirms, decline refuses it. Severity
// is decline > step_up > review > approve. Evaluate runs every enabled
// rule, platform rules first, then wallet rules, each list by Priority
// (lowest first) then ID, and returns a Decision whose Outcome is the most
// severe matched outcome (approve when nothing matched) and whose Matches
// lists every matched rule (rule id, scope, outcome, reason code) in
// evaluation order. The result is deterministic. Because outcomes combine
// by maximum, a rule with outcome approve only records its reason; adding
// a rule never makes a decision less strict.
//
// # Cost limits
//
// An expression is at most MaxExpressionLen bytes. At save time its
// worst-case cost is estimated statically, assuming strings of at most
// MaxStringLen bytes and at most MaxMetadataEntries metadata entries, and
// must be at most MaxEstimatedCost (nested comprehensions over
// payment.metadata are refused, for example). At evaluation time, when the
// payment's features are within those sizes the estimate bounds the cost
// and rules run without cost tracking; otherwise each rule runs with a
// runtime cost limit of MaxRuntimeCost.
//
// # Fail closed
//
// A rule that fails at evaluation time (runtime error such as a missing
// map key, division by zero or overflow; runtime cost limit exceeded; a
// rule in the wrong list for its scope) is recorded as a match with
// outcome review and reason "rule_error" (ReasonRuleError), with the error
// text in Match.Error. Failing open would let a broken rule silently stop
// protecting a wallet; declining would let one bad rule block every
// payment. review keeps the payment moving and makes the failure visible,
// and, being a severity like any other, never lowers a stricter outcome
// of another rule.
//
// # Counters
//
// Filling the counter features is the wallet's job. SlidingCounter
// (e.g. payments per agent in the last minute, never under-counting, at
// most one bucket of over-count) and DailyCounter (e.g. amount per wallet
// and merchant for the current UTC day) are small in-memory,
// concurrency-safe helpers with an injected clock and bounded memory.
package risk
