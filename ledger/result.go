package ledger

// Result is the outcome of one event (account or transfer) in a request.
// ResultOK and ResultExists mean the event is in the ledger; every other
// result means it changed nothing. The set is closed; each code has one
// stable snake_case name (its String) used by the API.
type Result uint16

// Results. Codes are stable: never renumber, only append.
const (
	ResultOK Result = iota
	ResultLinkedEventFailed
	ResultLinkedEventChainOpen
	ResultTimestampMustBeZero
	ResultReservedFlag
	ResultIDMustNotBeZero
	ResultIDMustNotBeIntMax
	ResultFlagsAreMutuallyExclusive
	ResultExists
	ResultExistsWithDifferentFields
	ResultLedgerMustNotBeZero
	ResultCodeMustNotBeZero
	ResultLedgerNotFound
	ResultBalancesMustBeZero
	ResultLimitRequiresOneBalanceFlag
	ResultDebitAccountIDMustNotBeZero
	ResultCreditAccountIDMustNotBeZero
	ResultAccountsMustBeDifferent
	ResultPendingIDMustBeZero
	ResultPendingIDMustNotBeZero
	ResultPendingIDMustBeDifferent
	ResultTimeoutReservedForPendingTransfer
	ResultClosingTransferMustBePending
	ResultDebitAccountNotFound
	ResultCreditAccountNotFound
	ResultAccountsMustHaveTheSameLedger
	ResultTransferMustHaveTheSameLedgerAsAccounts
	ResultPendingTransferNotFound
	ResultPendingTransferNotPending
	ResultPendingTransferHasDifferentDebitAccountID
	ResultPendingTransferHasDifferentCreditAccountID
	ResultPendingTransferHasDifferentLedger
	ResultPendingTransferHasDifferentCode
	ResultExceedsPendingTransferAmount
	ResultPendingTransferHasDifferentAmount
	ResultPendingTransferAlreadyPosted
	ResultPendingTransferAlreadyVoided
	ResultPendingTransferExpired
	ResultOverflowsDebitsPending
	ResultOverflowsCreditsPending
	ResultOverflowsDebitsPosted
	ResultOverflowsCreditsPosted
	ResultOverflowsDebits
	ResultOverflowsCredits
	ResultOverflowsTimeout
	ResultExceedsCredits
	ResultExceedsDebits
	ResultDebitAccountAlreadyClosed
	ResultCreditAccountAlreadyClosed
	ResultAccountOnOtherShard
	ResultAssetCodeInvalid
	ResultAssetScaleTooLarge
	resultCount
)

var resultNames = [resultCount]string{
	ResultOK:                                         "ok",
	ResultLinkedEventFailed:                          "linked_event_failed",
	ResultLinkedEventChainOpen:                       "linked_event_chain_open",
	ResultTimestampMustBeZero:                        "timestamp_must_be_zero",
	ResultReservedFlag:                               "reserved_flag",
	ResultIDMustNotBeZero:                            "id_must_not_be_zero",
	ResultIDMustNotBeIntMax:                          "id_must_not_be_int_max",
	ResultFlagsAreMutuallyExclusive:                  "flags_are_mutually_exclusive",
	ResultExists:                                     "exists",
	ResultExistsWithDifferentFields:                  "exists_with_different_fields",
	ResultLedgerMustNotBeZero:                        "ledger_must_not_be_zero",
	ResultCodeMustNotBeZero:                          "code_must_not_be_zero",
	ResultLedgerNotFound:                             "ledger_not_found",
	ResultBalancesMustBeZero:                         "balances_must_be_zero",
	ResultLimitRequiresOneBalanceFlag:                "limit_requires_one_balance_flag",
	ResultDebitAccountIDMustNotBeZero:                "debit_account_id_must_not_be_zero",
	ResultCreditAccountIDMustNotBeZero:               "credit_account_id_must_not_be_zero",
	ResultAccountsMustBeDifferent:                    "accounts_must_be_different",
	ResultPendingIDMustBeZero:                        "pending_id_must_be_zero",
	ResultPendingIDMustNotBeZero:                     "pending_id_must_not_be_zero",
	ResultPendingIDMustBeDifferent:                   "pending_id_must_be_different",
	ResultTimeoutReservedForPendingTransfer:          "timeout_reserved_for_pending_transfer",
	ResultClosingTransferMustBePending:               "closing_transfer_must_be_pending",
	ResultDebitAccountNotFound:                       "debit_account_not_found",
	ResultCreditAccountNotFound:                      "credit_account_not_found",
	ResultAccountsMustHaveTheSameLedger:              "accounts_must_have_the_same_ledger",
	ResultTransferMustHaveTheSameLedgerAsAccounts:    "transfer_must_have_the_same_ledger_as_accounts",
	ResultPendingTransferNotFound:                    "pending_transfer_not_found",
	ResultPendingTransferNotPending:                  "pending_transfer_not_pending",
	ResultPendingTransferHasDifferentDebitAccountID:  "pending_transfer_has_different_debit_account_id",
	ResultPendingTransferHasDifferentCreditAccountID: "pending_transfer_has_different_credit_account_id",
	ResultPendingTransferHasDifferentLedger:          "pending_transfer_has_different_ledger",
	ResultPendingTransferHasDifferentCode:            "pending_transfer_has_different_code",
	ResultExceedsPendingTransferAmount:               "exceeds_pending_transfer_amount",
	ResultPendingTransferHasDifferentAmount:          "pending_transfer_has_different_amount",
	ResultPendingTransferAlreadyPosted:               "pending_transfer_already_posted",
	ResultPendingTransferAlreadyVoided:               "pending_transfer_already_voided",
	ResultPendingTransferExpired:                     "pending_transfer_expired",
	ResultOverflowsDebitsPending:                     "overflows_debits_pending",
	ResultOverflowsCreditsPending:                    "overflows_credits_pending",
	ResultOverflowsDebitsPosted:                      "overflows_debits_posted",
	ResultOverflowsCreditsPosted:                     "overflows_credits_posted",
	ResultOverflowsDebits:                            "overflows_debits",
	ResultOverflowsCredits:                           "overflows_credits",
	ResultOverflowsTimeout:                           "overflows_timeout",
	ResultExceedsCredits:                             "exceeds_credits",
	ResultExceedsDebits:                              "exceeds_debits",
	ResultDebitAccountAlreadyClosed:                  "debit_account_already_closed",
	ResultCreditAccountAlreadyClosed:                 "credit_account_already_closed",
	ResultAccountOnOtherShard:                        "account_on_other_shard",
	ResultAssetCodeInvalid:                           "asset_code_invalid",
	ResultAssetScaleTooLarge:                         "asset_scale_too_large",
}

// String returns the result's stable snake_case name.
func (r Result) String() string {
	if r < resultCount {
		return resultNames[r]
	}
	return "unknown"
}

// Committed reports whether the event is in the ledger after the request
// (it was applied now, or it already existed with the same fields).
func (r Result) Committed() bool { return r == ResultOK || r == ResultExists }

// Results returns every result code in order (for documentation and tests).
func Results() []Result {
	out := make([]Result, resultCount)
	for i := range out {
		out[i] = Result(i)
	}
	return out
}
