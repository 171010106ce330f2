package protocol

//go:generate go run ./internal/errgen -registry errors.json -go errors_codes.go -md ../docs/protocol/errors.md

import (
	"errors"
	"strings"
)

// Code is a registered ACT error code: a stable snake_case reason such as
// "expired" or "budget_exceeded". The set is closed: errors.json lists
// every code, and errors_codes.go (generated) declares one constant per
// code. A receipt's error claim and the code of an HTTP error body carry
// a Code.
type Code string

// CodeInfo is one row of the registry.
type CodeInfo struct {
	Code       Code
	Status     int    // HTTP status
	Type       string // wire error type (Error.Type), one per status
	AP2        string // the AP2 v0.2 receipt error code, "" if AP2 has none
	ReturnedBy string // the parties that return the code, comma-separated
	Meaning    string
}

// Codes returns every registered code with its row, in registry order.
// The slice is a fresh copy.
func Codes() []CodeInfo {
	out := make([]CodeInfo, len(registeredCodes))
	copy(out, registeredCodes[:])
	return out
}

// Info returns the registry row of c, and false if c is not registered.
func (c Code) Info() (CodeInfo, bool) {
	for _, ci := range registeredCodes {
		if ci.Code == c {
			return ci, true
		}
	}
	return CodeInfo{}, false
}

// HTTPStatus is the HTTP status of c (500 for an unregistered code).
func (c Code) HTTPStatus() int {
	if ci, ok := c.Info(); ok {
		return ci.Status
	}
	return 500
}

// Failure is the error every verification and evaluation step returns:
// a registered Code, the claim or nested object it is about (Param, a
// JSON path such as "constraints[2].max" or "checkout_jwt.exp"; empty
// when the whole object is at fault) and the underlying reason.
// Use CodeOf, or errors.As, to get at it through wrapping.
type Failure struct {
	Code  Code
	Param string
	Err   error // the detailed reason; never nil for a Failure made by this package
}

// Error renders "protocol: code (param): reason".
func (f *Failure) Error() string {
	var b strings.Builder
	b.WriteString("protocol: ")
	b.WriteString(string(f.Code))
	if f.Param != "" {
		b.WriteString(" (")
		b.WriteString(f.Param)
		b.WriteString(")")
	}
	if f.Err != nil {
		b.WriteString(": ")
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying reason.
func (f *Failure) Unwrap() error { return f.Err }

// Is reports whether target is a *Failure with the same Code, so
// errors.Is(err, &Failure{Code: CodeExpired}) works.
func (f *Failure) Is(target error) bool {
	t, ok := target.(*Failure)
	return ok && t.Code == f.Code && t.Param == "" && t.Err == nil
}

// CodeOf returns the registered code of err: the Code of the first
// *Failure in its chain; for the sentinel errors of agent request
// signatures, Content-Digest and JWKs (httpsig_errors.go), their code;
// "" for a nil err; CodeInternal for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var f *Failure
	if errors.As(err, &f) {
		return f.Code
	}
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return CodeInternal
}

// sentinelCodes maps the request-signature, digest and JWK sentinels to
// registry codes, in the order they are tested.
var sentinelCodes = []struct {
	err  error
	code Code
}{
	{ErrSignatureMissing, CodeRequestSignatureMissing},
	{ErrWrongTag, CodeRequestSignatureMissing},
	{ErrSignatureMalformed, CodeRequestSignatureInvalid},
	{ErrSignatureParamsInvalid, CodeRequestSignatureInvalid},
	{ErrComponentMissing, CodeRequestSignatureInvalid},
	{ErrComponentUnsupported, CodeRequestSignatureInvalid},
	{ErrUnsupportedAlgorithm, CodeRequestSignatureInvalid},
	{ErrBadSignature, CodeRequestSignatureInvalid},
	{ErrSignatureExpired, CodeRequestSignatureExpired},
	{ErrSignatureNotYetValid, CodeRequestSignatureExpired},
	{ErrUnknownKey, CodeKeyUnknown},
	{ErrRevokedKey, CodeKeyRevoked},
	{ErrNonceReplayed, CodeNonceReplayed},
	{ErrNonceCacheFull, CodeVerifierUnavailable},
	{ErrDigestMissing, CodeContentDigestInvalid},
	{ErrDigestMalformed, CodeContentDigestInvalid},
	{ErrDigestUnsupported, CodeContentDigestInvalid},
	{ErrDigestMismatch, CodeContentDigestInvalid},
	{ErrJWKInvalid, CodeClaimsInvalid},
	{ErrJWKUnsupported, CodeClaimsInvalid},
}

// fail makes a *Failure; msg is the reason.
func fail(code Code, param, msg string) *Failure {
	return &Failure{Code: code, Param: param, Err: errors.New(msg)}
}

// failWrap makes a *Failure whose reason is err.
func failWrap(code Code, param string, err error) *Failure {
	return &Failure{Code: code, Param: param, Err: err}
}

// withParamPrefix returns err with prefix prepended to the Param of its
// *Failure (used when a nested object fails: "checkout_jwt" + "." +
// "exp"). Non-Failure errors are returned unchanged.
func withParamPrefix(err error, prefix string) error {
	var f *Failure
	if !errors.As(err, &f) {
		return err
	}
	p := prefix
	if f.Param != "" {
		p = prefix + "." + f.Param
	}
	return &Failure{Code: f.Code, Param: p, Err: f.Err}
}
