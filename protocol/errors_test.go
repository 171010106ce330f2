package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	// The wire error types of ledgerapi.go and their one status.
	statusOf := map[string]int{
		ErrorInvalidRequest: 400, ErrorAuthentication: 401, ErrorPermission: 403, ErrorNotFound: 404,
		ErrorMethodNotAllowed: 405, ErrorConflict: 409, ErrorRequestTooLarge: 413, ErrorUnsupportedMedia: 415,
		ErrorIdempotencyMismatch: 422, ErrorRejected: 422, ErrorUnavailable: 503, ErrorInternal: 500,
	}
	seen := map[Code]bool{}
	for _, ci := range Codes() {
		if seen[ci.Code] {
			t.Errorf("%s registered twice", ci.Code)
		}
		seen[ci.Code] = true
		if st, ok := statusOf[ci.Type]; !ok || st != ci.Status {
			t.Errorf("%s: type %q status %d", ci.Code, ci.Type, ci.Status)
		}
		if http.StatusText(ci.Status) == "" || ci.Meaning == "" || ci.ReturnedBy == "" {
			t.Errorf("%s: incomplete row %+v", ci.Code, ci)
		}
		if got, ok := ci.Code.Info(); !ok || got.Code != ci.Code || ci.Code.HTTPStatus() != ci.Status {
			t.Errorf("%s: Info or HTTPStatus disagrees", ci.Code)
		}
	}
	if _, ok := Code("no_such_code").Info(); ok || Code("no_such_code").HTTPStatus() != 500 {
		t.Error("an unregistered code has a row")
	}
	// Codes returns a copy.
	c := Codes()
	c[0].Meaning = "changed"
	if Codes()[0].Meaning == "changed" {
		t.Error("Codes exposes the registry")
	}
}

func TestCodeOf(t *testing.T) {
	t.Parallel()
	f := fail(CodeExpired, "exp", "too late")
	wrapped := fmt.Errorf("verify mandate: %w", withParamPrefix(f, "checkout_jwt"))
	if CodeOf(wrapped) != CodeExpired {
		t.Errorf("CodeOf(wrapped) = %s", CodeOf(wrapped))
	}
	var got *Failure
	if !errors.As(wrapped, &got) || got.Param != "checkout_jwt.exp" {
		t.Errorf("param %q", got.Param)
	}
	if !errors.Is(wrapped, &Failure{Code: CodeExpired}) || errors.Is(wrapped, &Failure{Code: CodeRevoked}) {
		t.Error("errors.Is by code")
	}
	if s := f.Error(); s != "protocol: expired (exp): too late" {
		t.Errorf("Error() = %q", s)
	}
	for err, want := range map[error]Code{
		nil:                                   "",
		errors.New("x"):                       CodeInternal,
		ErrBadSignature:                       CodeRequestSignatureInvalid,
		fmt.Errorf("a: %w", ErrNonceReplayed): CodeNonceReplayed,
		ErrDigestMismatch:                     CodeContentDigestInvalid,
		ErrSignatureMissing:                   CodeRequestSignatureMissing,
		ErrSignatureExpired:                   CodeRequestSignatureExpired,
		ErrRevokedKey:                         CodeKeyRevoked,
		ErrNonceCacheFull:                     CodeVerifierUnavailable,
	} {
		if got := CodeOf(err); got != want {
			t.Errorf("CodeOf(%v) = %s, want %s", err, got, want)
		}
	}
	for _, s := range sentinelCodes {
		if _, ok := s.code.Info(); !ok {
			t.Errorf("sentinel %v maps to unregistered %s", s.err, s.code)
		}
	}
}
