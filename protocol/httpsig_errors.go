package protocol

import "errors"

// Sentinel errors of agent request signing (RFC 9421), Content-Digest
// (RFC 9530), JWK parsing (RFC 7517, RFC 7638) and the nonce cache.
//
// Every error these functions return for bad input wraps exactly one of them
// with a detail, so callers test with errors.Is and map the sentinel to a
// protocol error code; the detail is for logs and humans and may change.
// An error that wraps none of them is an operating failure (for example a
// KeyResolver that could not reach its store) and is not the client's fault.
var (
	// ErrSignatureMissing: the request has no Signature-Input or Signature
	// field, or no signature with the label the verifier asked for, or a
	// Signature-Input member without its Signature member.
	ErrSignatureMissing = errors.New("httpsig: signature missing")

	// ErrSignatureMalformed: Signature-Input or Signature is not a valid
	// RFC 8941 Dictionary of the expected shape, or exceeds a size limit
	// (SignatureHeaderBytesMax, SignaturesPerRequestMax,
	// ComponentsPerSignatureMax).
	ErrSignatureMalformed = errors.New("httpsig: signature header malformed")

	// ErrSignatureParamsInvalid: a signature parameter is missing where the
	// profile requires it (created, expires, nonce, keyid), has the wrong
	// type, or is out of range (expires not after created, a nonce of the
	// wrong length, a keyid that is not a JWK thumbprint).
	ErrSignatureParamsInvalid = errors.New("httpsig: signature parameters invalid")

	// ErrSignatureExpired: the signature's expires time has passed, or it was
	// created longer ago than the verifier's MaxAge (both allowing ClockSkew).
	ErrSignatureExpired = errors.New("httpsig: signature expired")

	// ErrSignatureNotYetValid: the signature was created further in the future
	// than the verifier's ClockSkew allows.
	ErrSignatureNotYetValid = errors.New("httpsig: signature not yet valid")

	// ErrWrongTag: no signature carries the tag the verifier expects.
	ErrWrongTag = errors.New("httpsig: signature tag not accepted")

	// ErrComponentMissing: a component the verifier requires is not covered
	// by the signature, or a covered component is absent from the request.
	ErrComponentMissing = errors.New("httpsig: covered component missing")

	// ErrComponentUnsupported: the signature covers a component identifier
	// this implementation does not derive (for example "@query-param",
	// "@status", or a field with parameters such as ;sf), lists one twice, or
	// a component value cannot be placed in a signature base (it contains a
	// control character).
	ErrComponentUnsupported = errors.New("httpsig: covered component unsupported")

	// ErrUnsupportedAlgorithm: the alg parameter is not "ed25519", or the key
	// the KeyResolver returned is not an Ed25519 key.
	ErrUnsupportedAlgorithm = errors.New("httpsig: unsupported signature algorithm")

	// ErrUnknownKey: the KeyResolver does not know the keyid. KeyResolver
	// implementations return it (wrapped or not) for an unknown key.
	ErrUnknownKey = errors.New("httpsig: unknown key")

	// ErrRevokedKey: the keyid names a key that has been revoked.
	// KeyResolver implementations return it (wrapped or not).
	ErrRevokedKey = errors.New("httpsig: key revoked")

	// ErrBadSignature: the signature value does not verify over the
	// signature base with the resolved key.
	ErrBadSignature = errors.New("httpsig: bad signature")

	// ErrNonceReplayed: the (keyid, nonce) pair was already used by an
	// accepted request. NonceCache implementations return it.
	ErrNonceReplayed = errors.New("httpsig: nonce replayed")

	// ErrNonceCacheFull: the nonce cache is at its entry bound and none of
	// its entries has expired, so it cannot remember one more nonce. The
	// request is refused rather than risk accepting a replay later; it is
	// a capacity problem of the verifier, retryable by the client.
	ErrNonceCacheFull = errors.New("httpsig: nonce cache full")

	// ErrDigestMissing: Content-Digest is absent or empty.
	ErrDigestMissing = errors.New("httpsig: content digest missing")

	// ErrDigestMalformed: Content-Digest is not a valid RFC 8941 Dictionary
	// of byte sequences, or a known algorithm's value has the wrong length,
	// or the field exceeds ContentDigestBytesMax.
	ErrDigestMalformed = errors.New("httpsig: content digest malformed")

	// ErrDigestUnsupported: Content-Digest carries no algorithm this
	// implementation verifies (sha-256, sha-512).
	ErrDigestUnsupported = errors.New("httpsig: content digest algorithm unsupported")

	// ErrDigestMismatch: a Content-Digest value does not match the body.
	ErrDigestMismatch = errors.New("httpsig: content digest mismatch")

	// ErrJWKInvalid: a JWK is not valid JSON, repeats a member, has a member
	// of the wrong type, carries private key material, has coordinates of the
	// wrong length or a point not on its curve, or exceeds JWKBytesMax.
	ErrJWKInvalid = errors.New("jwk: invalid key")

	// ErrJWKUnsupported: the key is valid JSON but not an Ed25519 (OKP) or
	// P-256 (EC) public key, or a Go key of another type was given.
	ErrJWKUnsupported = errors.New("jwk: unsupported key type")
)
