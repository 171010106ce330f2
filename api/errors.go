package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// errorStatus is the one table mapping an error type to its HTTP status.
// Every error response goes through it; a type missing here is a
// programmer error (statusOf panics).
var errorStatus = map[string]int{
	protocol.ErrorInvalidRequest:      http.StatusBadRequest,
	protocol.ErrorAuthentication:      http.StatusUnauthorized,
	protocol.ErrorPermission:          http.StatusForbidden,
	protocol.ErrorNotFound:            http.StatusNotFound,
	protocol.ErrorMethodNotAllowed:    http.StatusMethodNotAllowed,
	protocol.ErrorConflict:            http.StatusConflict,
	protocol.ErrorRequestTooLarge:     http.StatusRequestEntityTooLarge,
	protocol.ErrorUnsupportedMedia:    http.StatusUnsupportedMediaType,
	protocol.ErrorIdempotencyMismatch: http.StatusUnprocessableEntity,
	protocol.ErrorRejected:            http.StatusUnprocessableEntity,
	protocol.ErrorUnavailable:         http.StatusServiceUnavailable,
	protocol.ErrorInternal:            http.StatusInternalServerError,
}

// statusOf returns the HTTP status of an error type.
func statusOf(typ string) int {
	status, ok := errorStatus[typ]
	if !ok {
		panic("api: error type " + typ + " has no status")
	}
	return status
}

// apiError is an error shown to the client as a protocol.Error. Any other
// error a handler returns is internal: logged once and shown as
// "internal".
type apiError struct {
	body protocol.Error
	// refusal, when set, is the body written instead of body (a refused
	// payment or mandate, with its limits and failed check); its type,
	// code, message and param are body's.
	refusal *protocol.PaymentError
}

func (e *apiError) Error() string {
	if e.body.Param != "" {
		return fmt.Sprintf("%s/%s (%s): %s", e.body.Type, e.body.Code, e.body.Param, e.body.Message)
	}
	return fmt.Sprintf("%s/%s: %s", e.body.Type, e.body.Code, e.body.Message)
}

// newError returns an apiError; param may be empty.
func newError(typ, code, param, format string, args ...any) *apiError {
	return &apiError{body: protocol.Error{Type: typ, Code: code, Message: fmt.Sprintf(format, args...), Param: param}}
}

func invalid(code, param, format string, args ...any) *apiError {
	return newError(protocol.ErrorInvalidRequest, code, param, format, args...)
}

// Error codes the transport itself produces (ledger rejections use the
// ledger's result names).
const (
	codeInvalidJSON            = "invalid_json"
	codeInvalidType            = "invalid_type"
	codeUnknownField           = "unknown_field"
	codeDuplicateField         = "duplicate_field"
	codeTrailingData           = "trailing_data"
	codeMissingField           = "missing_field"
	codeReadOnlyField          = "read_only_field"
	codeInvalidID              = "invalid_id"
	codeInvalidFlag            = "invalid_flag"
	codeDuplicateFlag          = "duplicate_flag"
	codeInvalidRole            = "invalid_role"
	codeInvalidText            = "invalid_text"
	codeEmptyBatch             = "empty_batch"
	codeTooManyEvents          = "too_many_events"
	codeInvalidLimit           = "invalid_limit"
	codeInvalidCursor          = "invalid_cursor"
	codeUnknownParameter       = "unknown_parameter"
	codeBodyNotAllowed         = "body_not_allowed"
	codeBodyUnreadable         = "body_unreadable"
	codeBodyTooLarge           = "body_too_large"
	codeUnsupportedContentType = "unsupported_content_type"
	codeIdempotencyKeyRequired = "idempotency_key_required"
	codeIdempotencyKeyInvalid  = "idempotency_key_invalid"
	codeIdempotencyInFlight    = "idempotency_in_flight"
	codeIdempotencyConflict    = "idempotency_conflict"
	codeMissingAPIKey          = "missing_api_key"
	codeInvalidAPIKey          = "invalid_api_key"
	codeAPIKeyRevoked          = "api_key_revoked"
	codeInsufficientRole       = "insufficient_role"
	codeRouteNotFound          = "route_not_found"
	codeMethodNotAllowed       = "method_not_allowed"
	codeAccountNotFound        = "account_not_found"
	codeTransferNotFound       = "transfer_not_found"
	codeProofNotReady          = "proof_not_ready"
	codeInvalidDoc             = "invalid_doc"
	codeDocNotFound            = "doc_not_found"
	codeAPIKeyNotFound         = "api_key_not_found"
	codeEngineStopped          = "engine_stopped"
	codeEngineFailed           = "engine_failed"
	codeInternal               = "internal"
	codeMissingParameter       = "missing_parameter"
	codeInvalidLogSize         = "invalid_log_size"
	codeInvalidTilePath        = "invalid_tile_path"
	codeTileNotFound           = "tile_not_found"
	codeCheckpointNotFound     = "checkpoint_not_found"
	codeLogKeyNotFound         = "log_key_not_found"
	codeInvalidCheckpoint      = "invalid_checkpoint"
	codeCheckpointMismatch     = "checkpoint_mismatch"
	codeInvalidCosignature     = "invalid_cosignature"
	codeMissingCosignature     = "missing_cosignature"
	codeUnknownWitness         = "unknown_witness"
	// GET /v1/log/batches/{index} (audit_handlers.go).
	codeInvalidLogIndex  = "invalid_log_index"
	codeLogEntryNotFound = "log_entry_not_found"
	codeBatchNotFound    = "batch_not_found"
	// AI Wallet routes (wallet_handlers.go, agentauth.go). A refused
	// payment or mandate carries its protocol.Code (errors.json) or
	// codeInsufficientFunds / codeRiskDeclined; a rule that does not
	// validate carries its risk.ErrorCode (rule_invalid_expression, ...);
	// a failed request signature its protocol.Code (request_signature_*,
	// key_unknown, key_revoked, nonce_replayed, content_digest_invalid).
	codeWalletDisabled    = "wallet_disabled"
	codeUserNotFound      = "user_not_found"
	codeWalletNotFound    = "wallet_not_found"
	codeAgentNotFound     = "agent_not_found"
	codeMandateNotFound   = "mandate_not_found"
	codePaymentNotFound   = "payment_not_found"
	codeNotOwner          = "not_owner"
	codeInvalidWallet     = "wallet_request_invalid"
	codeWalletConflict    = "wallet_conflict"
	codePaymentNotPending = "payment_not_pending"
	codeRailFailed        = "rail_failed"
	codeWithdrawalRefused = "withdrawal_refused"
	codeInsufficientFunds = "insufficient_funds"
	codeRiskDeclined      = "risk_declined"
	// Checkout purchase routes (purchase_handlers.go).
	codeMerchantNotFound        = "merchant_not_found"
	codeCheckoutMandateNotFound = "checkout_mandate_not_found"
	codeConflictingFields       = "conflicting_fields"
)

// internalBody is the body of every internal error.
var internalBody = mustMarshal(protocol.Error{
	Type: protocol.ErrorInternal, Code: codeInternal,
	Message: "internal error; quote the Request-Id header when reporting it",
})

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("api: marshal: " + err.Error())
	}
	return b
}

// engineError maps an error from a ledger.Engine call.
func engineError(err error) error {
	switch {
	case errors.Is(err, ledger.ErrFailed):
		return newError(protocol.ErrorUnavailable, codeEngineFailed, "",
			"the ledger engine failed; whether this request was applied is unknown until the server restarts: retry with the same Idempotency-Key")
	case errors.Is(err, ledger.ErrStopped):
		return newError(protocol.ErrorUnavailable, codeEngineStopped, "",
			"the ledger engine is stopping; nothing was applied: retry later")
	}
	return fmt.Errorf("api: ledger engine: %w", err)
}

// rejection returns the 422 error for a ledger result on a single-object
// endpoint.
func rejection(r ledger.Result, param string) *apiError {
	return newError(protocol.ErrorRejected, r.String(), param, "the ledger rejected the request: %s", r)
}
