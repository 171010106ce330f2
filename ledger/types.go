package ledger

import "math"

// Limits of the engine, units last.
const (
	// BatchEventsMax is the most events one request may carry (TigerBeetle's
	// client limit, kept so clients can move between the two).
	BatchEventsMax = 8189
	// AmountMax, as the amount of a post_pending transfer, posts the full
	// pending amount.
	AmountMax = math.MaxUint64
	// TimeoutSecondsMax bounds a pending transfer's timeout (about 136 years).
	TimeoutSecondsMax = math.MaxUint32
)

// Asset is a unit of value on one ledger. Amounts of the asset are integers
// in its smallest unit: Scale 2 means cents for USD, Scale 9 nano-dollars.
type Asset struct {
	Ledger    uint32 // the ledger number accounts and transfers name; not 0
	Code      string // e.g. "USD"; 1-16 characters [A-Z0-9_]
	Scale     uint8  // decimal places of the smallest unit; at most 18
	Timestamp uint64 // assigned by the engine
}

// AccountFlags are an account's options.
type AccountFlags uint16

// Account flags.
const (
	// AccountLinked chains this account with the next one in the request:
	// all are created or none.
	AccountLinked AccountFlags = 1 << iota
	// AccountDebitsMustNotExceedCredits rejects a transfer that would make
	// debits_pending + debits_posted exceed credits_posted + Limit.
	AccountDebitsMustNotExceedCredits
	// AccountCreditsMustNotExceedDebits rejects a transfer that would make
	// credits_pending + credits_posted exceed debits_posted + Limit.
	AccountCreditsMustNotExceedDebits
	// AccountHistory asks the store to keep the account's transfer history
	// queryable (AgentPay keeps history for every account; the flag is kept
	// for compatibility and reported back).
	AccountHistory
	// AccountClosed is set by a closing transfer and cleared by voiding it;
	// a closed account takes no new transfers.
	AccountClosed

	accountFlagsKnown = AccountLinked | AccountDebitsMustNotExceedCredits |
		AccountCreditsMustNotExceedDebits | AccountHistory | AccountClosed
)

// Account is a balance on one ledger. Everything but the four balances and
// the closed flag is immutable after creation.
type Account struct {
	ID             ID
	DebitsPending  Uint128
	DebitsPosted   Uint128
	CreditsPending Uint128
	CreditsPosted  Uint128
	UserData128    ID
	UserData64     uint64
	UserData32     uint32
	Ledger         uint32
	Code           uint16
	Flags          AccountFlags
	// Limit is an overdraft (with DebitsMustNotExceedCredits) or credit
	// (with CreditsMustNotExceedDebits) allowance in minor units; it
	// requires exactly one of the two flags.
	Limit     uint64
	Timestamp uint64 // nanoseconds since the Unix epoch, assigned by the engine
}

// TransferFlags are a transfer's options.
type TransferFlags uint16

// Transfer flags.
const (
	// TransferLinked chains this transfer with the next one in the request:
	// the chain commits or fails as one.
	TransferLinked TransferFlags = 1 << iota
	// TransferPending reserves the amount (phase one of a two-phase transfer).
	TransferPending
	// TransferPostPending posts all (AmountMax) or part of PendingID.
	TransferPostPending
	// TransferVoidPending releases PendingID.
	TransferVoidPending
	// TransferBalancingDebit moves at most Amount, less if the debit
	// account's constraint allows less.
	TransferBalancingDebit
	// TransferBalancingCredit moves at most Amount, less if the credit
	// account's constraint allows less.
	TransferBalancingCredit
	// TransferClosingDebit closes the debit account; requires Pending.
	TransferClosingDebit
	// TransferClosingCredit closes the credit account; requires Pending.
	TransferClosingCredit

	transferFlagsKnown = TransferLinked | TransferPending | TransferPostPending |
		TransferVoidPending | TransferBalancingDebit | TransferBalancingCredit |
		TransferClosingDebit | TransferClosingCredit
)

// Transfer moves Amount from DebitAccountID to CreditAccountID on Ledger.
// ID is chosen by the client and is the idempotency key: submitting the same
// ID with the same fields again returns ResultExists; with other fields,
// ResultExistsWithDifferentFields.
type Transfer struct {
	ID              ID
	DebitAccountID  ID
	CreditAccountID ID
	Amount          uint64
	PendingID       ID
	UserData128     ID
	UserData64      uint64
	UserData32      uint32
	Timeout         uint32 // seconds; pending transfers only; 0 = never expires
	Ledger          uint32
	Code            uint16
	Flags           TransferFlags
	Timestamp       uint64 // nanoseconds since the Unix epoch, assigned by the engine
}

// PendingStatus is the state of a pending transfer.
type PendingStatus uint8

// Pending transfer states. A pending transfer resolves at most once.
const (
	PendingNone PendingStatus = iota
	PendingActive
	PendingPosted
	PendingVoided
	PendingExpired
)

var pendingStatusNames = [...]string{"none", "pending", "posted", "voided", "expired"}

func (s PendingStatus) String() string {
	if int(s) < len(pendingStatusNames) {
		return pendingStatusNames[s]
	}
	return "unknown"
}
