package risk

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
)

// Limits applied when a rule is compiled (saved) and evaluated.
const (
	// MaxExpressionLen is the maximum length of a rule expression, in bytes.
	MaxExpressionLen = 2048

	// MaxEstimatedCost is the maximum static worst-case cost (CEL cost
	// units, roughly one per operation) a rule may have to be saved. The
	// estimate assumes strings of at most MaxStringLen bytes and
	// payment.metadata with at most MaxMetadataEntries entries.
	MaxEstimatedCost = 10_000

	// MaxRuntimeCost is the cost at which the evaluation of one rule is
	// stopped. A rule stopped this way yields a fail-closed review with
	// reason ReasonRuleError. It equals MaxEstimatedCost, so it is only
	// reached when the inputs are larger than the estimate assumes.
	MaxRuntimeCost = MaxEstimatedCost

	// MaxStringLen is the string length, in bytes, the cost estimate
	// assumes for every string variable and metadata key or value.
	MaxStringLen = 256

	// MaxMetadataEntries is the size of payment.metadata the cost estimate
	// assumes.
	MaxMetadataEntries = 32

	maxIDLen            = 128
	maxReasonLen        = 64
	maxNesting          = 64   // parser recursion limit
	maxRegexProgramSize = 1000 // regex program size limit for matches()
)

// ScopePlatform is the Scope of a platform-wide rule. Any other scope is a
// wallet id.
const ScopePlatform = "platform"

// ReasonRuleError is the reason code recorded when a rule could not be
// evaluated (runtime error, runtime cost limit, scope mismatch). It is
// reserved: no rule may use it.
const ReasonRuleError = "rule_error"

// Outcome is what a matched rule asks for.
type Outcome string

// Outcomes, from least to most strict.
const (
	// OutcomeApprove lets the payment proceed. A rule with this outcome
	// only records its reason; it never lowers a stricter outcome.
	OutcomeApprove Outcome = "approve"
	// OutcomeReview lets the payment proceed and flags it for review by
	// the platform or the wallet owner.
	OutcomeReview Outcome = "review"
	// OutcomeStepUp holds the payment until a human confirms it.
	OutcomeStepUp Outcome = "step_up"
	// OutcomeDecline refuses the payment.
	OutcomeDecline Outcome = "decline"
)

// Severity orders outcomes: approve 1 < review 2 < step_up 3 < decline 4.
// An unknown outcome has severity 0.
func (o Outcome) Severity() int {
	switch o {
	case OutcomeApprove:
		return 1
	case OutcomeReview:
		return 2
	case OutcomeStepUp:
		return 3
	case OutcomeDecline:
		return 4
	}
	return 0
}

// Valid reports whether o is one of the four outcomes.
func (o Outcome) Valid() bool { return o.Severity() > 0 }

// Rule is a risk rule as saved by the platform or a wallet owner.
type Rule struct {
	// ID identifies the rule (letters, digits, '_', '-', '.', ':'; at most
	// 128 bytes).
	ID string `json:"id"`
	// Scope is ScopePlatform or the id of the wallet the rule belongs to.
	Scope string `json:"scope"`
	// Expression is a CEL expression over the variables documented in the
	// package doc; it must have type bool.
	Expression string `json:"expression"`
	// Outcome applies when Expression is true.
	Outcome Outcome `json:"outcome"`
	// Reason is the reason code recorded with the payment when the rule
	// matches: snake_case, at most 64 bytes, not ReasonRuleError.
	Reason string `json:"reason"`
	// Priority orders rules within a scope, lowest first; ties are broken
	// by ID.
	Priority int `json:"priority"`
	// Enabled rules are evaluated; disabled rules are still validated.
	Enabled bool `json:"enabled"`
}

// ErrorCode classifies a rule validation error.
type ErrorCode string

// Validation error codes.
const (
	CodeInvalidID         ErrorCode = "rule_invalid_id"
	CodeInvalidScope      ErrorCode = "rule_invalid_scope"
	CodeInvalidExpression ErrorCode = "rule_invalid_expression"
	CodeExpressionTooLong ErrorCode = "rule_expression_too_long"
	CodeNotBoolean        ErrorCode = "rule_not_boolean"
	CodeTooCostly         ErrorCode = "rule_too_costly"
	CodeInvalidOutcome    ErrorCode = "rule_invalid_outcome"
	CodeInvalidReason     ErrorCode = "rule_invalid_reason"
)

// RuleError is the error Compile returns. Message is meant for the person
// who wrote the rule (for CEL errors it includes line and column).
type RuleError struct {
	Code    ErrorCode
	RuleID  string
	Message string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("risk: rule %q: %s: %s", e.RuleID, e.Code, e.Message)
}

func ruleErr(r *Rule, code ErrorCode, format string, args ...any) *RuleError {
	return &RuleError{Code: code, RuleID: r.ID, Message: fmt.Sprintf(format, args...)}
}

// CompiledRule is a validated rule ready for evaluation. It is immutable
// and safe for concurrent use.
type CompiledRule struct {
	rule Rule
	// prg evaluates with runtime cost tracking and MaxRuntimeCost; fast
	// without, used only when the inputs are within the bounds the
	// static estimate assumed (see Features.withinEstimateBounds).
	prg     cel.Program
	fast    cel.Program
	costMin uint64
	costMax uint64
}

// Rule returns the rule as it was compiled.
func (c *CompiledRule) Rule() Rule { return c.rule }

// EstimatedCost returns the static cost estimate of the expression.
func (c *CompiledRule) EstimatedCost() (lowest, highest uint64) { return c.costMin, c.costMax }

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := make([]cel.EnvOption, 0, numVars+3)
	for _, v := range variables {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	opts = append(opts,
		cel.ParserExpressionSizeLimit(MaxExpressionLen),
		cel.ParserRecursionLimit(maxNesting),
		cel.RegexProgramSizeLimit(maxRegexProgramSize))
	return cel.NewEnv(opts...)
})

// Compile validates r and compiles its expression. It is meant to run
// when a rule is saved, so that only valid rules are stored; the returned
// *CompiledRule is then cached and evaluated many times. Errors are
// always *RuleError.
func Compile(r Rule) (*CompiledRule, error) {
	if !validID(r.ID) {
		return nil, ruleErr(&r, CodeInvalidID, "id must be 1-%d bytes of letters, digits, '_', '-', '.', ':'", maxIDLen)
	}
	if r.Scope != ScopePlatform && !validID(r.Scope) {
		return nil, ruleErr(&r, CodeInvalidScope, "scope must be %q or a wallet id", ScopePlatform)
	}
	if !r.Outcome.Valid() {
		return nil, ruleErr(&r, CodeInvalidOutcome, "outcome %q is not one of approve, review, step_up, decline", r.Outcome)
	}
	if !validReason(r.Reason) {
		return nil, ruleErr(&r, CodeInvalidReason, "reason %q must be snake_case ([a-z0-9] words joined by '_', starting with a letter), at most %d bytes", r.Reason, maxReasonLen)
	}
	if r.Reason == ReasonRuleError {
		return nil, ruleErr(&r, CodeInvalidReason, "reason %q is reserved", ReasonRuleError)
	}
	if len(r.Expression) > MaxExpressionLen {
		return nil, ruleErr(&r, CodeExpressionTooLong, "expression is %d bytes, the limit is %d", len(r.Expression), MaxExpressionLen)
	}
	if strings.TrimSpace(r.Expression) == "" {
		return nil, ruleErr(&r, CodeInvalidExpression, "expression is empty")
	}
	if !utf8.ValidString(r.Expression) {
		return nil, ruleErr(&r, CodeInvalidExpression, "expression is not valid UTF-8")
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("risk: CEL environment: %w", err)
	}
	ast, iss := env.Compile(r.Expression)
	if iss != nil && iss.Err() != nil {
		return nil, ruleErr(&r, CodeInvalidExpression, "%s", iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) {
		return nil, ruleErr(&r, CodeNotBoolean, "expression has type %s, it must be bool", t)
	}
	est, err := env.EstimateCost(ast, sizeEstimator{})
	if err != nil {
		return nil, ruleErr(&r, CodeTooCostly, "cost cannot be estimated: %v", err)
	}
	if est.Max > MaxEstimatedCost {
		return nil, ruleErr(&r, CodeTooCostly, "estimated cost up to %d exceeds the limit of %d", est.Max, MaxEstimatedCost)
	}
	prg, err := env.Program(ast,
		cel.CostLimit(MaxRuntimeCost),
		cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, ruleErr(&r, CodeInvalidExpression, "%v", err)
	}
	fast, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, ruleErr(&r, CodeInvalidExpression, "%v", err)
	}
	return &CompiledRule{rule: r, prg: prg, fast: fast, costMin: est.Min, costMax: est.Max}, nil
}

// sizeEstimator bounds the sizes of variables for the static cost
// estimate: strings MaxStringLen, maps MaxMetadataEntries.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	t := n.Type()
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case types.StringKind, types.BytesKind:
		return &checker.SizeEstimate{Min: 0, Max: MaxStringLen}
	case types.MapKind, types.ListKind:
		return &checker.SizeEstimate{Min: 0, Max: MaxMetadataEntries}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == ':':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validReason reports whether s is snake_case: [a-z][a-z0-9]* words
// joined by single underscores, at most maxReasonLen bytes.
func validReason(s string) bool {
	if s == "" || len(s) > maxReasonLen || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_':
			if s[i-1] == '_' {
				return false
			}
		default:
			return false
		}
	}
	return true
}
