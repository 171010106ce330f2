package api

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// newIDFunc makes the id of an object the client did not name.
type newIDFunc func() ledger.ID

// parsePrefixedID parses "<prefix><26-char ID>".
func parsePrefixedID(s, prefix string) (ledger.ID, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return ledger.ID{}, false
	}
	id, err := ledger.ParseID(rest)
	return id, err == nil
}

// optionalID parses an optional id field; "" is the zero ID.
func optionalID(s, prefix, param string) (ledger.ID, error) {
	if s == "" {
		return ledger.ID{}, nil
	}
	id, ok := parsePrefixedID(s, prefix)
	if !ok {
		return ledger.ID{}, invalidID(param, prefix)
	}
	return id, nil
}

func invalidID(param, prefix string) *apiError {
	if prefix == "" {
		return invalid(codeInvalidID, param, "%s must be 26 characters of Crockford base32 (a 128-bit id)", param)
	}
	return invalid(codeInvalidID, param, "%s must be %q followed by 26 characters of Crockford base32", param, prefix)
}

func readOnly(param string) *apiError {
	return invalid(codeReadOnlyField, param, "%s is set by the server and must be absent on create", param)
}

// Flag names on the wire, in bit order.
var (
	transferFlagNames = []struct {
		name string
		flag ledger.TransferFlags
	}{
		{protocol.TransferFlagLinked, ledger.TransferLinked},
		{protocol.TransferFlagPending, ledger.TransferPending},
		{protocol.TransferFlagPostPending, ledger.TransferPostPending},
		{protocol.TransferFlagVoidPending, ledger.TransferVoidPending},
		{protocol.TransferFlagBalancingDebit, ledger.TransferBalancingDebit},
		{protocol.TransferFlagBalancingCredit, ledger.TransferBalancingCredit},
		{protocol.TransferFlagClosingDebit, ledger.TransferClosingDebit},
		{protocol.TransferFlagClosingCredit, ledger.TransferClosingCredit},
	}
	accountFlagNames = []struct {
		name string
		flag ledger.AccountFlags
	}{
		{protocol.AccountFlagLinked, ledger.AccountLinked},
		{protocol.AccountFlagDebitsMustNotExceedCredits, ledger.AccountDebitsMustNotExceedCredits},
		{protocol.AccountFlagCreditsMustNotExceedDebits, ledger.AccountCreditsMustNotExceedDebits},
		{protocol.AccountFlagHistory, ledger.AccountHistory},
		{protocol.AccountFlagClosed, ledger.AccountClosed},
	}
)

func parseTransferFlags(names []string, param string) (ledger.TransferFlags, error) {
	var flags ledger.TransferFlags
next:
	for i, name := range names {
		for _, f := range transferFlagNames {
			if name == f.name {
				if flags&f.flag != 0 {
					return 0, invalid(codeDuplicateFlag, indexed(param, i), "flag %q is given twice", name)
				}
				flags |= f.flag
				continue next
			}
		}
		return 0, invalid(codeInvalidFlag, indexed(param, i), "%q is not a transfer flag", name)
	}
	return flags, nil
}

func parseAccountFlags(names []string, param string) (ledger.AccountFlags, error) {
	var flags ledger.AccountFlags
next:
	for i, name := range names {
		for _, f := range accountFlagNames {
			if name != f.name {
				continue
			}
			if f.flag == ledger.AccountClosed {
				return 0, invalid(codeReadOnlyField, indexed(param, i), "flag %q is set by closing transfers, not on create", name)
			}
			if flags&f.flag != 0 {
				return 0, invalid(codeDuplicateFlag, indexed(param, i), "flag %q is given twice", name)
			}
			flags |= f.flag
			continue next
		}
		return 0, invalid(codeInvalidFlag, indexed(param, i), "%q is not an account flag", name)
	}
	return flags, nil
}

func indexed(param string, i int) string {
	return param + "[" + itoa(i) + "]"
}

// transferInput is a decoded transfer and what its response needs to know
// about how the client wrote it.
type transferInput struct {
	t ledger.Transfer
	// amountAbsent: the client left out amount (post_pending: the full
	// pending amount; void_pending: the pending amount).
	amountAbsent bool
}

// toLedgerTransfer validates a transfer of a create request; path prefixes
// every param (e.g. "transfers[2]."). An absent id gets newID().
func toLedgerTransfer(p *protocol.Transfer, path string, newID newIDFunc) (transferInput, error) {
	var in transferInput
	t := &in.t
	var err error
	if p.ID == "" {
		t.ID = newID()
	} else if t.ID, err = optionalID(p.ID, protocol.PrefixTransfer, path+"id"); err != nil {
		return in, err
	}
	if t.DebitAccountID, err = optionalID(p.DebitAccountID, protocol.PrefixAccount, path+"debit_account_id"); err != nil {
		return in, err
	}
	if t.CreditAccountID, err = optionalID(p.CreditAccountID, protocol.PrefixAccount, path+"credit_account_id"); err != nil {
		return in, err
	}
	if t.PendingID, err = optionalID(p.PendingID, protocol.PrefixTransfer, path+"pending_id"); err != nil {
		return in, err
	}
	if t.UserData128, err = optionalID(p.UserData128, "", path+"user_data_128"); err != nil {
		return in, err
	}
	if t.Flags, err = parseTransferFlags(p.Flags, path+"flags"); err != nil {
		return in, err
	}
	switch {
	case p.Amount != nil:
		t.Amount = *p.Amount
	case t.Flags&ledger.TransferPostPending != 0:
		t.Amount, in.amountAbsent = ledger.AmountMax, true
	case t.Flags&ledger.TransferVoidPending != 0:
		t.Amount, in.amountAbsent = 0, true
	default:
		return in, invalid(codeMissingField, path+"amount", "%samount is required (except for post_pending and void_pending)", path)
	}
	if p.Timestamp != 0 {
		return in, readOnly(path + "timestamp")
	}
	if p.CreatedAt != "" {
		return in, readOnly(path + "created_at")
	}
	if p.Receipt != "" {
		return in, readOnly(path + "receipt")
	}
	t.UserData64, t.UserData32 = p.UserData64, p.UserData32
	t.Timeout, t.Ledger, t.Code = p.TimeoutSeconds, p.Ledger, p.Code
	return in, nil
}

// toLedgerAccount validates an account of a create request.
func toLedgerAccount(p *protocol.Account, path string, newID newIDFunc) (ledger.Account, error) {
	var a ledger.Account
	var err error
	if p.ID == "" {
		a.ID = newID()
	} else if a.ID, err = optionalID(p.ID, protocol.PrefixAccount, path+"id"); err != nil {
		return a, err
	}
	if a.Flags, err = parseAccountFlags(p.Flags, path+"flags"); err != nil {
		return a, err
	}
	if a.UserData128, err = optionalID(p.UserData128, "", path+"user_data_128"); err != nil {
		return a, err
	}
	switch {
	case p.Balances != nil:
		return a, readOnly(path + "balances")
	case p.Timestamp != 0:
		return a, readOnly(path + "timestamp")
	case p.CreatedAt != "":
		return a, readOnly(path + "created_at")
	}
	a.Ledger, a.Code, a.Limit = p.Ledger, p.Code, p.Limit
	a.UserData64, a.UserData32 = p.UserData64, p.UserData32
	return a, nil
}

// toLedgerAsset validates an asset of a create request (the engine checks
// the code's characters and the scale).
func toLedgerAsset(p *protocol.Asset) (ledger.Asset, error) {
	if p.CreatedAt != "" {
		return ledger.Asset{}, readOnly("created_at")
	}
	return ledger.Asset{Ledger: p.Ledger, Code: p.Code, Scale: p.Scale}, nil
}

// validText checks a free-text field: valid UTF-8, no control characters,
// at most protocol.APIKeyTextBytesMax bytes.
func validText(s, param string) error {
	if len(s) > protocol.APIKeyTextBytesMax {
		return invalid(codeInvalidText, param, "%s is %d bytes; at most %d are allowed", param, len(s), protocol.APIKeyTextBytesMax)
	}
	if !utf8.ValidString(s) {
		return invalid(codeInvalidText, param, "%s must be valid UTF-8", param)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return invalid(codeInvalidText, param, "%s must not hold control characters", param)
		}
	}
	return nil
}

// timeText formats an engine timestamp as RFC 3339 UTC with nanoseconds;
// 0 is "".
func timeText(ns uint64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, int64(ns)).UTC().Format(time.RFC3339Nano)
}

func prefixed(prefix string, id ledger.ID) string {
	if id.IsZero() {
		return ""
	}
	return prefix + id.String()
}

func idText(id ledger.ID) string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

// toProtocolTransfer renders a transfer. Its JSON equals appendTransfer's.
func toProtocolTransfer(t *ledger.Transfer, omitAmount bool) protocol.Transfer {
	p := protocol.Transfer{
		ID:              prefixed(protocol.PrefixTransfer, t.ID),
		DebitAccountID:  prefixed(protocol.PrefixAccount, t.DebitAccountID),
		CreditAccountID: prefixed(protocol.PrefixAccount, t.CreditAccountID),
		PendingID:       prefixed(protocol.PrefixTransfer, t.PendingID),
		UserData128:     idText(t.UserData128),
		UserData64:      t.UserData64,
		UserData32:      t.UserData32,
		TimeoutSeconds:  t.Timeout,
		Ledger:          t.Ledger,
		Code:            t.Code,
		Timestamp:       t.Timestamp,
		CreatedAt:       timeText(t.Timestamp),
	}
	if !omitAmount {
		amount := t.Amount
		p.Amount = &amount
	}
	for _, f := range transferFlagNames {
		if t.Flags&f.flag != 0 {
			p.Flags = append(p.Flags, f.name)
		}
	}
	return p
}

// toProtocolAccount renders an account with its balances. The linked flag
// is a property of the create request, not of the account, and is not
// shown.
func toProtocolAccount(a *ledger.Account) protocol.Account {
	p := protocol.Account{
		ID:          prefixed(protocol.PrefixAccount, a.ID),
		Ledger:      a.Ledger,
		Code:        a.Code,
		Limit:       a.Limit,
		UserData128: idText(a.UserData128),
		UserData64:  a.UserData64,
		UserData32:  a.UserData32,
		Balances: &protocol.Balances{
			DebitsPending:  a.DebitsPending.String(),
			DebitsPosted:   a.DebitsPosted.String(),
			CreditsPending: a.CreditsPending.String(),
			CreditsPosted:  a.CreditsPosted.String(),
		},
		Timestamp: a.Timestamp,
		CreatedAt: timeText(a.Timestamp),
	}
	for _, f := range accountFlagNames {
		if a.Flags&f.flag != 0 && f.flag != ledger.AccountLinked {
			p.Flags = append(p.Flags, f.name)
		}
	}
	return p
}

func toProtocolAsset(a *ledger.Asset) protocol.Asset {
	return protocol.Asset{Ledger: a.Ledger, Code: a.Code, Scale: a.Scale, CreatedAt: timeText(a.Timestamp)}
}

// toProtocolAPIKey renders a key without its secret.
func toProtocolAPIKey(k *store.APIKey) protocol.APIKey {
	return protocol.APIKey{
		ID:        prefixed(protocol.PrefixAPIKey, k.ID),
		Name:      k.Name,
		Party:     k.Party,
		Role:      string(k.Role),
		Prefix:    k.Prefix,
		CreatedAt: timeText(k.CreatedAt),
		RevokedAt: timeText(k.RevokedAt),
	}
}

// transferParam names the field of a transfer a rejection is about ("" if
// none is to blame alone).
func transferParam(r ledger.Result) string {
	switch r {
	case ledger.ResultIDMustNotBeZero, ledger.ResultIDMustNotBeIntMax, ledger.ResultExistsWithDifferentFields:
		return "id"
	case ledger.ResultDebitAccountIDMustNotBeZero, ledger.ResultDebitAccountNotFound,
		ledger.ResultDebitAccountAlreadyClosed, ledger.ResultPendingTransferHasDifferentDebitAccountID:
		return "debit_account_id"
	case ledger.ResultCreditAccountIDMustNotBeZero, ledger.ResultCreditAccountNotFound,
		ledger.ResultCreditAccountAlreadyClosed, ledger.ResultPendingTransferHasDifferentCreditAccountID,
		ledger.ResultAccountsMustBeDifferent:
		return "credit_account_id"
	case ledger.ResultPendingIDMustBeZero, ledger.ResultPendingIDMustNotBeZero, ledger.ResultPendingIDMustBeDifferent,
		ledger.ResultPendingTransferNotFound, ledger.ResultPendingTransferNotPending,
		ledger.ResultPendingTransferAlreadyPosted, ledger.ResultPendingTransferAlreadyVoided,
		ledger.ResultPendingTransferExpired:
		return "pending_id"
	case ledger.ResultLedgerMustNotBeZero, ledger.ResultLedgerNotFound,
		ledger.ResultTransferMustHaveTheSameLedgerAsAccounts, ledger.ResultPendingTransferHasDifferentLedger:
		return "ledger"
	case ledger.ResultCodeMustNotBeZero, ledger.ResultPendingTransferHasDifferentCode:
		return "code"
	case ledger.ResultExceedsCredits, ledger.ResultExceedsDebits, ledger.ResultExceedsPendingTransferAmount,
		ledger.ResultPendingTransferHasDifferentAmount, ledger.ResultOverflowsDebitsPending,
		ledger.ResultOverflowsCreditsPending, ledger.ResultOverflowsDebitsPosted,
		ledger.ResultOverflowsCreditsPosted, ledger.ResultOverflowsDebits, ledger.ResultOverflowsCredits:
		return "amount"
	case ledger.ResultTimeoutReservedForPendingTransfer, ledger.ResultOverflowsTimeout:
		return "timeout_seconds"
	case ledger.ResultReservedFlag, ledger.ResultFlagsAreMutuallyExclusive,
		ledger.ResultClosingTransferMustBePending, ledger.ResultLinkedEventChainOpen:
		return "flags"
	case ledger.ResultTimestampMustBeZero:
		return "timestamp"
	}
	return ""
}

// accountParam names the field of an account a rejection is about.
func accountParam(r ledger.Result) string {
	switch r {
	case ledger.ResultIDMustNotBeZero, ledger.ResultIDMustNotBeIntMax,
		ledger.ResultExistsWithDifferentFields, ledger.ResultAccountOnOtherShard:
		return "id"
	case ledger.ResultReservedFlag, ledger.ResultFlagsAreMutuallyExclusive, ledger.ResultLinkedEventChainOpen:
		return "flags"
	case ledger.ResultLedgerMustNotBeZero, ledger.ResultLedgerNotFound:
		return "ledger"
	case ledger.ResultCodeMustNotBeZero:
		return "code"
	case ledger.ResultLimitRequiresOneBalanceFlag:
		return "limit"
	case ledger.ResultBalancesMustBeZero:
		return "balances"
	case ledger.ResultTimestampMustBeZero:
		return "timestamp"
	}
	return ""
}

// assetParam names the field of an asset a rejection is about.
func assetParam(r ledger.Result) string {
	switch r {
	case ledger.ResultLedgerMustNotBeZero, ledger.ResultExistsWithDifferentFields:
		return "ledger"
	case ledger.ResultAssetCodeInvalid:
		return "code"
	case ledger.ResultAssetScaleTooLarge:
		return "scale"
	}
	return ""
}

func joinParam(path, field string) string {
	if field == "" {
		return ""
	}
	return path + field
}
