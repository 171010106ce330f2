package risk

import (
	"cmp"
	"slices"

	"github.com/google/cel-go/common/types"
)

// Match records one rule that matched (or failed) during Evaluate.
type Match struct {
	RuleID  string  `json:"rule_id"`
	Scope   string  `json:"scope"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	// Error is set, for logs, when Reason is ReasonRuleError.
	Error string `json:"error,omitempty"`
}

// Decision is the result of Evaluate. It is recorded with the payment.
type Decision struct {
	// Outcome is the strictest outcome of all matches, or OutcomeApprove
	// when nothing matched.
	Outcome Outcome `json:"outcome"`
	// Matches lists every matched or failed rule in evaluation order:
	// platform rules, then wallet rules, each by (Priority, ID).
	Matches []Match `json:"matches,omitempty"`
}

// Reasons returns the reason codes of all matches, in evaluation order.
func (d Decision) Reasons() []string {
	out := make([]string, len(d.Matches))
	for i, m := range d.Matches {
		out[i] = m.Reason
	}
	return out
}

// compareRules orders rules by Priority, then ID.
func compareRules(a, b *CompiledRule) int {
	if c := cmp.Compare(a.rule.Priority, b.rule.Priority); c != 0 {
		return c
	}
	return cmp.Compare(a.rule.ID, b.rule.ID)
}

// SortRules sorts rules in place into evaluation order (Priority, then
// ID). Evaluate accepts rules in any order but is cheaper on sorted input,
// so sort once when loading rules.
func SortRules(rules []*CompiledRule) {
	slices.SortStableFunc(rules, compareRules)
}

func ordered(rules []*CompiledRule) []*CompiledRule {
	if slices.IsSortedFunc(rules, compareRules) {
		return rules
	}
	c := slices.Clone(rules)
	SortRules(c)
	return c
}

// Evaluate runs the enabled rules against one payment attempt: platform
// rules first, then the wallet's rules, each list in (Priority, ID)
// order. It must be called only after the hard limits have passed; its
// outcome can only add friction.
//
// Every enabled rule is evaluated (no short-circuit), so Matches is
// complete and deterministic. The final outcome is the most severe of the
// matched outcomes (decline > step_up > review > approve). A rule that
// fails at runtime (error, cost limit exceeded, non-bool result) or whose
// scope does not fit (a wallet rule in platformRules, or a rule of another
// wallet than f.WalletID in walletRules) is recorded as a review with
// reason ReasonRuleError: fail closed, so a broken rule never lets a
// payment through unnoticed, but does not block it either.
//
// Cost: each rule's static estimate is at most MaxEstimatedCost for
// inputs within MaxStringLen and MaxMetadataEntries. When f is within
// those bounds, rules run without runtime cost tracking (the estimate
// already bounds them, and tracking roughly doubles the evaluation
// time); otherwise every rule runs with the runtime limit MaxRuntimeCost.
//
// f is not retained. Evaluate is safe for concurrent use.
func Evaluate(f *Features, platformRules, walletRules []*CompiledRule) Decision {
	return evaluate(f, platformRules, walletRules, !f.withinEstimateBounds())
}

func evaluate(f *Features, platformRules, walletRules []*CompiledRule, tracked bool) Decision {
	act := &activation{f: *f, tracked: tracked}
	d := Decision{Outcome: OutcomeApprove}
	for _, r := range ordered(platformRules) {
		d.eval(act, r, r.rule.Scope == ScopePlatform)
	}
	for _, r := range ordered(walletRules) {
		d.eval(act, r, r.rule.Scope == f.WalletID)
	}
	return d
}

func (d *Decision) eval(act *activation, r *CompiledRule, scopeOK bool) {
	if r == nil || !r.rule.Enabled {
		return
	}
	if !scopeOK {
		d.fail(r, "rule scope does not match the evaluated scope")
		return
	}
	prg := r.fast
	if act.tracked {
		prg = r.prg
	}
	out, _, err := prg.Eval(act)
	if err != nil {
		d.fail(r, err.Error())
		return
	}
	b, ok := out.(types.Bool)
	if !ok {
		d.fail(r, "rule did not evaluate to a bool")
		return
	}
	if b {
		d.add(Match{RuleID: r.rule.ID, Scope: r.rule.Scope, Outcome: r.rule.Outcome, Reason: r.rule.Reason})
	}
}

func (d *Decision) fail(r *CompiledRule, msg string) {
	d.add(Match{RuleID: r.rule.ID, Scope: r.rule.Scope, Outcome: OutcomeReview, Reason: ReasonRuleError, Error: msg})
}

func (d *Decision) add(m Match) {
	if m.Outcome.Severity() > d.Outcome.Severity() {
		d.Outcome = m.Outcome
	}
	d.Matches = append(d.Matches, m)
}
