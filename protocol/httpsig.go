package protocol

// Agent request signatures: the AgentPay profile of RFC 9421 (HTTP Message
// Signatures) for requests.
//
// Profile (see reference/protocols.md §6 and DESIGN.md 2.4):
//   - algorithm Ed25519 ("ed25519"), the only one accepted;
//   - keyid is the RFC 7638 thumbprint of the agent's public key;
//   - parameters created, expires, nonce, keyid, alg, tag (tag "agentpay");
//   - covered components: "@method", "@target-uri" (or "@authority",
//     "@path" and "@query"), "content-type" and "content-digest" when the
//     request has content, and "idempotency-key" when the request has one;
//   - Content-Digest (RFC 9530) is sha-256 of the exact body bytes;
//   - each (keyid, nonce) pair is accepted once (NonceCache).

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentpay/agentpay/internal/eddsa"
)

// Field names, parameter values and defaults of agent request signatures.
const (
	// HeaderSignatureInput carries the covered components and parameters of
	// each signature (RFC 9421 §4.1), a Dictionary keyed by label.
	HeaderSignatureInput = "Signature-Input"
	// HeaderSignature carries each signature's value (RFC 9421 §4.2).
	HeaderSignature = "Signature"

	// SignatureAlgorithmEd25519 is the RFC 9421 registry name of Ed25519,
	// the only algorithm of the profile.
	SignatureAlgorithmEd25519 = "ed25519"
	// SignatureTagAgentPay is the tag parameter of AgentPay agent requests.
	SignatureTagAgentPay = "agentpay"
	// SignatureLabelDefault is the dictionary label SignRequest uses.
	SignatureLabelDefault = "sig1"

	// SignatureValidityDefault is expires − created of a SignRequest
	// signature unless SignOptions.Validity says otherwise.
	SignatureValidityDefault = 5 * time.Minute
	// SignatureAgeMaxDefault is how long after created a signature is
	// accepted unless VerifyOptions.MaxAge says otherwise.
	SignatureAgeMaxDefault = 5 * time.Minute
	// ClockSkewMaxDefault is the clock difference between signer and
	// verifier tolerated unless VerifyOptions.ClockSkew says otherwise.
	ClockSkewMaxDefault = 60 * time.Second
)

// Limits of agent request signatures. Each bounds the work one request can
// make a verifier do before the signature is checked.
const (
	// SignatureHeaderBytesMax bounds Signature-Input and Signature, each with
	// all its field lines joined.
	SignatureHeaderBytesMax = 4096
	// SignaturesPerRequestMax bounds the members of Signature-Input and of
	// Signature. Only one signature is verified per request.
	SignaturesPerRequestMax = 8
	// ComponentsPerSignatureMax bounds the covered components of a signature.
	ComponentsPerSignatureMax = 24
	// NonceBytesMin is the shortest nonce parameter accepted: 16 base64url
	// characters carry 96 bits. SignRequest makes 22 (128 bits).
	NonceBytesMin = 16
	// NonceBytesMax is the longest nonce parameter accepted.
	NonceBytesMax = 128
	// KeyIDBytesMax bounds the keyid parameter (a thumbprint has 43).
	KeyIDBytesMax = 128
)

// thumbprintBytes is the length of an RFC 7638 SHA-256 thumbprint in
// unpadded base64url.
const thumbprintBytes = 43

// RequestSigner holds an agent's private key. Its method set is that of
// crypto.Signer, so an ed25519.PrivateKey is a RequestSigner, and so is a
// signer backed by a KMS or an HSM. Public must return an ed25519.PublicKey;
// Sign is called with crypto.Hash(0) and the signature base, and must return
// the 64-byte Ed25519 signature.
type RequestSigner interface {
	Public() crypto.PublicKey
	Sign(rand io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error)
}

// SignOptions controls SignRequest. The zero value signs with the AgentPay
// profile: label "sig1", default components, created now, expires five
// minutes later, a random nonce, keyid the thumbprint, alg "ed25519", tag
// "agentpay".
type SignOptions struct {
	// Label is the dictionary key of the signature; SignatureLabelDefault if
	// empty. It must be an RFC 8941 key (lowercase letters, digits, "_-.*").
	Label string
	// Components lists the covered component identifiers in order, for
	// example "@method", "@target-uri", "content-type". Empty means the
	// profile's: "@method", "@target-uri", then "content-type" if the request
	// has that field, "content-digest" if body is not empty, and
	// "idempotency-key" if the request has that field. A body without
	// Content-Type is refused with ErrComponentMissing in that case.
	Components []string
	// Created is the signature's creation time, truncated to the second;
	// time.Now() if zero.
	Created time.Time
	// Validity is expires − created, rounded down to whole seconds and at
	// least one; SignatureValidityDefault if zero. Negative is an error.
	Validity time.Duration
	// Nonce is the nonce parameter; if empty, 16 random bytes from Rand in
	// unpadded base64url. It must be NonceBytesMin to NonceBytesMax
	// printable ASCII characters.
	Nonce string
	// KeyID is the keyid parameter; the RFC 7638 thumbprint of the signer's
	// public key if empty. Only interoperability tests set it.
	KeyID string
	// Tag is the tag parameter; SignatureTagAgentPay if empty.
	Tag string
	// Rand is the randomness for the nonce (and is passed to the signer);
	// crypto/rand.Reader if nil.
	Rand io.Reader

	// OmitExpires, OmitNonce, OmitAlg and OmitTag leave the parameter out,
	// to produce plain RFC 9421 signatures such as the RFC's own examples.
	// AgentPay's verifier refuses a signature without expires or nonce.
	OmitExpires, OmitNonce, OmitAlg, OmitTag bool
}

// SignRequest signs r as an agent request. body must be exactly the content
// r will carry (SignRequest neither reads nor sets r.Body, and refuses a body
// whose length differs from a positive r.ContentLength). It sets, replacing
// any earlier values, Content-Digest (when "content-digest" is covered),
// Signature-Input and Signature. r is a client request: its URL is absolute,
// and its Host field, if set, overrides the URL's authority.
//
// Errors: ErrUnsupportedAlgorithm if s's public key is not Ed25519;
// ErrComponentMissing if a covered component is absent from r;
// ErrComponentUnsupported for an identifier the profile cannot derive;
// ErrSignatureParamsInvalid for a bad label, nonce, keyid or tag; and the
// signer's own error.
func SignRequest(r *http.Request, body []byte, s RequestSigner, opts SignOptions) error {
	if s == nil {
		return errors.New("httpsig: SignRequest: nil signer")
	}
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: signer key is %T, want ed25519.PublicKey", ErrUnsupportedAlgorithm, s.Public())
	}
	if r.ContentLength > 0 && r.ContentLength != int64(len(body)) {
		return fmt.Errorf("httpsig: SignRequest: body of %d bytes, request ContentLength %d", len(body), r.ContentLength)
	}
	label := opts.Label
	if label == "" {
		label = SignatureLabelDefault
	}
	if err := sfWriteKey(&strings.Builder{}, label); err != nil {
		return fmt.Errorf("%w: label %q: %v", ErrSignatureParamsInvalid, label, err)
	}
	components := opts.Components
	if len(components) == 0 {
		if len(body) > 0 && r.Header.Get("Content-Type") == "" {
			return fmt.Errorf("%w: a request with content needs a Content-Type field", ErrComponentMissing)
		}
		components = defaultComponents(r.Header, body)
	}
	if err := checkComponents(components); err != nil {
		return err
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if !slices.Contains(components, "content-digest") {
		return signRequestFields(r, s, pub, label, components, opts)
	}
	// The base covers the field, so it is set first, and put back as it was
	// if signing fails.
	old, had := r.Header[HeaderContentDigest]
	r.Header.Set(HeaderContentDigest, ContentDigest(body))
	err := signRequestFields(r, s, pub, label, components, opts)
	if err != nil {
		if had {
			r.Header[HeaderContentDigest] = old
		} else {
			r.Header.Del(HeaderContentDigest)
		}
	}
	return err
}

// signRequestFields builds the signature parameters and base of r, signs,
// and sets Signature-Input and Signature; SignRequest has checked its
// arguments.
func signRequestFields(r *http.Request, s RequestSigner, pub ed25519.PublicKey, label string, components []string, opts SignOptions) error {
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	validity := opts.Validity
	switch {
	case validity < 0:
		return fmt.Errorf("%w: negative validity %v", ErrSignatureParamsInvalid, validity)
	case validity == 0:
		validity = SignatureValidityDefault
	}
	params := []sfParam{{Key: "created", Value: sfBare{Kind: sfInteger, Integer: created.Unix()}}}
	if !opts.OmitExpires {
		secs := max(int64(validity/time.Second), 1)
		params = append(params, sfParam{Key: "expires", Value: sfBare{Kind: sfInteger, Integer: created.Unix() + secs}})
	}
	if !opts.OmitNonce {
		nonce := opts.Nonce
		if nonce == "" {
			var b [16]byte
			if _, err := io.ReadFull(rnd, b[:]); err != nil {
				return fmt.Errorf("httpsig: SignRequest: nonce: %w", err)
			}
			nonce = b64url.EncodeToString(b[:])
		}
		if len(nonce) < NonceBytesMin || len(nonce) > NonceBytesMax {
			return fmt.Errorf("%w: nonce of %d bytes, want %d to %d", ErrSignatureParamsInvalid, len(nonce), NonceBytesMin, NonceBytesMax)
		}
		params = append(params, sfParam{Key: "nonce", Value: sfBare{Kind: sfString, Str: nonce}})
	}
	keyID := opts.KeyID
	if keyID == "" {
		var err error
		if keyID, err = Thumbprint(pub); err != nil {
			return err
		}
	}
	if len(keyID) > KeyIDBytesMax {
		return fmt.Errorf("%w: keyid of %d bytes, limit %d", ErrSignatureParamsInvalid, len(keyID), KeyIDBytesMax)
	}
	params = append(params, sfParam{Key: "keyid", Value: sfBare{Kind: sfString, Str: keyID}})
	if !opts.OmitAlg {
		params = append(params, sfParam{Key: "alg", Value: sfBare{Kind: sfString, Str: SignatureAlgorithmEd25519}})
	}
	if !opts.OmitTag {
		tag := opts.Tag
		if tag == "" {
			tag = SignatureTagAgentPay
		}
		params = append(params, sfParam{Key: "tag", Value: sfBare{Kind: sfString, Str: tag}})
	}

	items := make([]sfItem, len(components))
	for i, c := range components {
		items[i] = sfItem{Bare: sfBare{Kind: sfString, Str: c}}
	}
	var sp strings.Builder
	if err := sfWriteInnerList(&sp, items, params); err != nil {
		return fmt.Errorf("%w: %v", ErrSignatureParamsInvalid, err)
	}
	view, err := newRequestView(r, "", "")
	if err != nil {
		return err
	}
	base, err := signatureBase(view, components, sp.String())
	if err != nil {
		return err
	}
	var sig []byte
	if k, ok := s.(ed25519.PrivateKey); ok && len(k) == ed25519.PrivateKeySize {
		sig = eddsa.Sign(k, base) // ed25519.PrivateKey.Sign's result, faster
	} else if sig, err = s.Sign(rnd, base, crypto.Hash(0)); err != nil {
		return fmt.Errorf("httpsig: SignRequest: sign: %w", err)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("httpsig: SignRequest: signer returned %d bytes, want %d", len(sig), ed25519.SignatureSize)
	}
	r.Header.Set(HeaderSignatureInput, label+"="+sp.String())
	r.Header.Set(HeaderSignature, label+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// defaultComponents returns the profile's covered components for a request
// with these fields and body.
func defaultComponents(h http.Header, body []byte) []string {
	c := []string{"@method", "@target-uri"}
	if h.Get("Content-Type") != "" {
		c = append(c, "content-type")
	}
	if len(body) > 0 {
		c = append(c, "content-digest")
	}
	if h.Get(HeaderIdempotencyKey) != "" {
		c = append(c, "idempotency-key")
	}
	return c
}

// KeyResolver finds the public key an agent signed with. AgentPay's API
// resolves a keyid (the key's RFC 7638 thumbprint) from its registry of agent
// credentials.
type KeyResolver interface {
	// ResolveKey returns the public key named keyID: an ed25519.PublicKey,
	// or an EdDSA PublicKey (a registered key kept as one value verifies
	// faster from its second use on). It returns an error wrapping ErrUnknownKey if
	// no such key is registered, ErrRevokedKey if it was revoked, or any
	// other error if it could not tell (the request then fails with that
	// error, which is not the client's fault).
	ResolveKey(ctx context.Context, keyID string) (crypto.PublicKey, error)
}

// KeyResolverFunc adapts a function to KeyResolver.
type KeyResolverFunc func(ctx context.Context, keyID string) (crypto.PublicKey, error)

// ResolveKey calls f.
func (f KeyResolverFunc) ResolveKey(ctx context.Context, keyID string) (crypto.PublicKey, error) {
	return f(ctx, keyID)
}

// VerifyOptions controls VerifyRequest. Keys is required, and Nonces unless
// AllowMissingNonce; the zero value of every other field is the strict
// AgentPay profile.
type VerifyOptions struct {
	// Now is the verifier's clock reading; time.Now() if zero.
	Now time.Time
	// MaxAge is how long after created a signature is accepted, whatever
	// its expires says; SignatureAgeMaxDefault if zero or negative.
	MaxAge time.Duration
	// ClockSkew is the tolerated clock difference: created may be up to
	// ClockSkew in the future, and expires and created+MaxAge up to ClockSkew
	// in the past. ClockSkewMaxDefault if zero; negative means none.
	ClockSkew time.Duration
	// Tag is the tag parameter required of the signature;
	// SignatureTagAgentPay if empty.
	Tag string
	// Label, if set, selects the signature to verify by its dictionary key.
	// Otherwise the first signature (in Signature-Input order) whose tag is
	// accepted is verified.
	Label string
	// RequiredComponents, if not nil, replaces the profile's required
	// components ("@method"; "@target-uri" or all of "@authority", "@path"
	// and "@query"; "content-type" when the request has content or that
	// field; "idempotency-key" when it has that field). Whatever it says,
	// "content-digest" is required when body is not empty unless
	// AllowUnsignedBody.
	RequiredComponents []string
	// Keys resolves keyid to the agent's public key.
	Keys KeyResolver
	// Nonces records used nonces; its Use is called once the signature has
	// verified. If nil (allowed only with AllowMissingNonce), nonces are not
	// recorded and signed requests can be replayed until they expire.
	Nonces NonceCache
	// Scheme and Authority override how the server was reached, for
	// "@target-uri", "@scheme" and "@authority" behind a proxy. By default
	// the scheme is r.URL.Scheme, else "https" if r.TLS is set, else "http";
	// the authority is r.Host.
	Scheme, Authority string

	// Relaxations of the profile for interoperability with plain RFC 9421
	// signatures (such as the RFC's test vectors). AgentPay's API sets none.
	AllowMissingExpires bool // accept a signature without expires
	AllowMissingNonce   bool // accept a signature without nonce (no replay protection)
	AllowOpaqueKeyID    bool // accept a keyid that is not the key's thumbprint
	AllowAnyTag         bool // skip the tag check
	AllowUnsignedBody   bool // accept content not covered by content-digest
}

// VerifiedRequest describes a signature VerifyRequest accepted.
type VerifiedRequest struct {
	Label      string           // dictionary key of the signature
	KeyID      string           // keyid parameter (the key's thumbprint)
	Key        crypto.PublicKey // the resolved ed25519.PublicKey
	Created    time.Time        // created parameter
	Expires    time.Time        // expires parameter; zero if absent
	Nonce      string           // nonce parameter; empty if absent
	Tag        string           // tag parameter; empty if absent
	Components []string         // covered component identifiers, in order
}

// VerifyRequest verifies the agent signature of r, a request as received by
// a server, whose content is body (the exact bytes received; the caller reads
// r.Body, with a size limit). It checks, in order: the opts are usable; the
// Signature-Input and Signature fields parse (RFC 8941, within
// SignatureHeaderBytesMax and the other limits); a signature with an accepted
// label and tag exists; its parameters are well-formed and its time window
// contains opts.Now; the covered components include the required ones; the
// keyid resolves to an Ed25519 key whose thumbprint it is; a covered
// Content-Digest matches body; the Ed25519 signature verifies over the
// RFC 9421 §2.5 signature base; and finally that the nonce was not used
// before (recording it). Only one signature is verified.
//
// Every rejection wraps one of ErrSignatureMissing, ErrSignatureMalformed,
// ErrSignatureParamsInvalid, ErrWrongTag, ErrSignatureExpired,
// ErrSignatureNotYetValid, ErrComponentMissing, ErrComponentUnsupported,
// ErrUnsupportedAlgorithm, ErrUnknownKey, ErrRevokedKey, ErrDigestMissing,
// ErrDigestMalformed, ErrDigestUnsupported, ErrDigestMismatch,
// ErrBadSignature, ErrNonceReplayed or ErrNonceCacheFull. Any other error
// comes from opts.Keys, opts.Nonces or the request's context.
func VerifyRequest(r *http.Request, body []byte, opts VerifyOptions) (*VerifiedRequest, error) {
	if opts.Keys == nil {
		return nil, errors.New("httpsig: VerifyRequest: VerifyOptions.Keys is nil")
	}
	if opts.Nonces == nil && !opts.AllowMissingNonce {
		return nil, errors.New("httpsig: VerifyRequest: VerifyOptions.Nonces is nil")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	maxAge := opts.MaxAge
	if maxAge <= 0 {
		maxAge = SignatureAgeMaxDefault
	}
	skew := opts.ClockSkew
	switch {
	case skew == 0:
		skew = ClockSkewMaxDefault
	case skew < 0:
		skew = 0
	}
	wantTag := opts.Tag
	if wantTag == "" {
		wantTag = SignatureTagAgentPay
	}

	inputs, sigs, err := parseSignatureFields(r.Header)
	if err != nil {
		return nil, err
	}
	in, err := selectSignature(inputs, opts.Label, wantTag, opts.AllowAnyTag)
	if err != nil {
		return nil, err
	}
	sigValue, err := signatureValue(sigs, in.Key)
	if err != nil {
		return nil, err
	}
	p, err := readSignatureParams(in)
	if err != nil {
		return nil, err
	}
	if err := checkComponents(p.components); err != nil {
		return nil, err
	}

	// Time window.
	created := time.Unix(p.created, 0)
	if created.After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: created %s is after now %s plus skew %v", ErrSignatureNotYetValid, created.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
	}
	retain := created.Add(maxAge)
	if now.After(retain.Add(skew)) {
		return nil, fmt.Errorf("%w: created %s is older than max age %v", ErrSignatureExpired, created.UTC().Format(time.RFC3339), maxAge)
	}
	var expires time.Time
	if p.hasExpires {
		expires = time.Unix(p.expires, 0)
		if !expires.After(created) {
			return nil, fmt.Errorf("%w: expires %d is not after created %d", ErrSignatureParamsInvalid, p.expires, p.created)
		}
		if now.After(expires.Add(skew)) {
			return nil, fmt.Errorf("%w: expired at %s", ErrSignatureExpired, expires.UTC().Format(time.RFC3339))
		}
		if expires.Before(retain) {
			retain = expires
		}
	} else if !opts.AllowMissingExpires {
		return nil, fmt.Errorf("%w: expires parameter missing", ErrSignatureParamsInvalid)
	}
	retain = retain.Add(skew)

	if p.hasNonce {
		if len(p.nonce) < NonceBytesMin || len(p.nonce) > NonceBytesMax {
			return nil, fmt.Errorf("%w: nonce of %d bytes, want %d to %d", ErrSignatureParamsInvalid, len(p.nonce), NonceBytesMin, NonceBytesMax)
		}
	} else if !opts.AllowMissingNonce {
		return nil, fmt.Errorf("%w: nonce parameter missing", ErrSignatureParamsInvalid)
	}
	if !opts.AllowOpaqueKeyID && !isThumbprintShape(p.keyID) {
		return nil, fmt.Errorf("%w: keyid %q is not a JWK thumbprint", ErrSignatureParamsInvalid, p.keyID)
	}

	if err := checkRequired(p.components, opts.RequiredComponents, r.Header, body, opts.AllowUnsignedBody); err != nil {
		return nil, err
	}

	key, err := opts.Keys.ResolveKey(r.Context(), p.keyID)
	if err != nil {
		return nil, fmt.Errorf("httpsig: resolve keyid %q: %w", p.keyID, err)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: the key resolver returned no key for keyid %q", ErrUnknownKey, p.keyID)
	}
	var pub ed25519.PublicKey
	var ek *edKey // a registered key's expanded form, when the resolver keeps one
	switch k := key.(type) {
	case ed25519.PublicKey:
		pub = k
	case PublicKey:
		if k.alg == AlgEdDSA {
			pub, ek = k.ed.pub, k.ed
		}
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: key for keyid %q is %T, want an Ed25519 key", ErrUnsupportedAlgorithm, p.keyID, key)
	}
	if !opts.AllowOpaqueKeyID {
		tp, err := "", error(nil)
		if ek != nil {
			tp = key.(PublicKey).KeyID()
		} else {
			tp, err = Thumbprint(pub)
		}
		if err != nil || tp != p.keyID {
			return nil, fmt.Errorf("%w: the key resolved for keyid %q has thumbprint %q", ErrUnknownKey, p.keyID, tp)
		}
	}

	view, err := newRequestView(r, opts.Scheme, opts.Authority)
	if err != nil {
		return nil, err
	}
	var sp strings.Builder
	sp.Grow(512)
	if err := sfWriteInnerList(&sp, in.Inner, in.Params); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignatureMalformed, err)
	}
	base, err := signatureBase(view, p.components, sp.String())
	if err != nil {
		return nil, err
	}
	if slices.Contains(p.components, "content-digest") {
		if err := VerifyContentDigest(strings.Join(r.Header.Values(HeaderContentDigest), ", "), body); err != nil {
			return nil, err
		}
	}
	verified := false
	if ek != nil {
		// Nothing has authenticated the request yet: its signature is
		// verified on its own, never in a batch a forged one could spoil.
		verified = ek.verifyAlone(base, sigValue)
	} else {
		verified = verifyEd25519(pub, base, sigValue)
	}
	if len(sigValue) != ed25519.SignatureSize || !verified {
		return nil, fmt.Errorf("%w: label %q keyid %q", ErrBadSignature, in.Key, p.keyID)
	}

	if p.hasNonce && opts.Nonces != nil {
		if err := opts.Nonces.Use(r.Context(), p.keyID, p.nonce, retain); err != nil {
			return nil, err
		}
	}
	return &VerifiedRequest{
		Label:      in.Key,
		KeyID:      p.keyID,
		Key:        pub,
		Created:    created,
		Expires:    expires,
		Nonce:      p.nonce,
		Tag:        p.tag,
		Components: p.components,
	}, nil
}

// parseSignatureFields parses the Signature-Input and Signature fields of h.
func parseSignatureFields(h http.Header) (inputs, sigs []sfMember, err error) {
	inLines, sigLines := h.Values(HeaderSignatureInput), h.Values(HeaderSignature)
	if len(inLines) == 0 || len(sigLines) == 0 {
		return nil, nil, fmt.Errorf("%w: Signature-Input and Signature fields required", ErrSignatureMissing)
	}
	parse := func(name string, lines []string) ([]sfMember, error) {
		field := strings.Join(lines, ", ")
		if len(field) > SignatureHeaderBytesMax {
			return nil, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrSignatureMalformed, name, len(field), SignatureHeaderBytesMax)
		}
		members, err := sfParseDictionary(field)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrSignatureMalformed, name, err)
		}
		if len(members) > SignaturesPerRequestMax {
			return nil, fmt.Errorf("%w: %s has %d members, limit %d", ErrSignatureMalformed, name, len(members), SignaturesPerRequestMax)
		}
		if len(members) == 0 {
			return nil, fmt.Errorf("%w: %s is empty", ErrSignatureMissing, name)
		}
		return members, nil
	}
	if inputs, err = parse(HeaderSignatureInput, inLines); err != nil {
		return nil, nil, err
	}
	if sigs, err = parse(HeaderSignature, sigLines); err != nil {
		return nil, nil, err
	}
	// RFC 9421 §4.1, §4.2: every Signature-Input member is an inner list and
	// every Signature member a byte sequence, whichever one is verified.
	for _, m := range inputs {
		if !m.IsInner {
			return nil, nil, fmt.Errorf("%w: Signature-Input %q is not an inner list", ErrSignatureMalformed, m.Key)
		}
	}
	for _, m := range sigs {
		if m.IsInner || m.Item.Bare.Kind != sfBytes {
			return nil, nil, fmt.Errorf("%w: Signature %q is not a byte sequence", ErrSignatureMalformed, m.Key)
		}
	}
	return inputs, sigs, nil
}

// selectSignature picks the Signature-Input member to verify: the one named
// label if set, else the first whose tag is accepted.
func selectSignature(inputs []sfMember, label, wantTag string, anyTag bool) (sfMember, error) {
	tagOf := func(m sfMember) string {
		if v, ok := sfParamLookup(m.Params, "tag"); ok && v.Kind == sfString {
			return v.Str
		}
		return ""
	}
	for _, m := range inputs {
		if label != "" && m.Key != label {
			continue
		}
		if anyTag || tagOf(m) == wantTag {
			return m, nil
		}
		if label != "" {
			return sfMember{}, fmt.Errorf("%w: signature %q has tag %q, want %q", ErrWrongTag, m.Key, tagOf(m), wantTag)
		}
	}
	if label != "" {
		return sfMember{}, fmt.Errorf("%w: no signature labelled %q", ErrSignatureMissing, label)
	}
	return sfMember{}, fmt.Errorf("%w: none of %d signatures has tag %q", ErrWrongTag, len(inputs), wantTag)
}

// signatureValue returns the Signature member named label, which
// parseSignatureFields checked is a byte sequence.
func signatureValue(sigs []sfMember, label string) ([]byte, error) {
	for _, m := range sigs {
		if m.Key == label {
			return m.Item.Bare.Bytes, nil
		}
	}
	return nil, fmt.Errorf("%w: Signature-Input %q has no Signature member", ErrSignatureMissing, label)
}

// signatureParams are the parameters and components of one signature.
type signatureParams struct {
	components        []string
	created, expires  int64
	hasExpires        bool
	nonce, keyID, tag string
	hasNonce          bool
}

// readSignatureParams reads and type-checks the parameters of m. Unknown
// parameters are kept (they are signed, being part of @signature-params) but
// otherwise ignored, as RFC 9421 §2.3 allows.
func readSignatureParams(m sfMember) (signatureParams, error) {
	var p signatureParams
	if len(m.Inner) > ComponentsPerSignatureMax {
		return p, fmt.Errorf("%w: %d covered components, limit %d", ErrSignatureMalformed, len(m.Inner), ComponentsPerSignatureMax)
	}
	for _, it := range m.Inner {
		if it.Bare.Kind != sfString {
			return p, fmt.Errorf("%w: component identifier is a %v, want a string", ErrSignatureMalformed, it.Bare.Kind)
		}
		if len(it.Params) > 0 {
			return p, fmt.Errorf("%w: component %q has parameters (%s)", ErrComponentUnsupported, it.Bare.Str, it.Params[0].Key)
		}
		p.components = append(p.components, it.Bare.Str)
	}
	intParam := func(name string) (int64, bool, error) {
		v, ok := sfParamLookup(m.Params, name)
		if !ok {
			return 0, false, nil
		}
		if v.Kind != sfInteger || v.Integer < 0 {
			return 0, false, fmt.Errorf("%w: %s must be a non-negative integer", ErrSignatureParamsInvalid, name)
		}
		return v.Integer, true, nil
	}
	strParam := func(name string) (string, bool, error) {
		v, ok := sfParamLookup(m.Params, name)
		if !ok {
			return "", false, nil
		}
		if v.Kind != sfString {
			return "", false, fmt.Errorf("%w: %s must be a string", ErrSignatureParamsInvalid, name)
		}
		return v.Str, true, nil
	}
	var err error
	var ok bool
	if p.created, ok, err = intParam("created"); err != nil {
		return p, err
	} else if !ok {
		return p, fmt.Errorf("%w: created parameter missing", ErrSignatureParamsInvalid)
	}
	if p.expires, p.hasExpires, err = intParam("expires"); err != nil {
		return p, err
	}
	if p.nonce, p.hasNonce, err = strParam("nonce"); err != nil {
		return p, err
	}
	if p.keyID, ok, err = strParam("keyid"); err != nil {
		return p, err
	} else if !ok || p.keyID == "" || len(p.keyID) > KeyIDBytesMax {
		return p, fmt.Errorf("%w: keyid parameter missing, empty or over %d bytes", ErrSignatureParamsInvalid, KeyIDBytesMax)
	}
	alg, hasAlg, err := strParam("alg")
	if err != nil {
		return p, err
	}
	if hasAlg && alg != SignatureAlgorithmEd25519 {
		return p, fmt.Errorf("%w: alg %q", ErrUnsupportedAlgorithm, alg)
	}
	if p.tag, _, err = strParam("tag"); err != nil {
		return p, err
	}
	return p, nil
}

// isThumbprintShape reports whether s looks like an RFC 7638 SHA-256
// thumbprint: 43 characters of unpadded base64url.
func isThumbprintShape(s string) bool {
	return isHashB64(s)
}

// derivedComponents are the RFC 9421 §2.2 derived components this profile
// computes for requests. "@query-param" (which needs parameters), "@status"
// (responses only) and "@signature-params" (never covered) are not among them.
var derivedComponents = []string{"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}

// checkComponents checks a covered component list: within
// ComponentsPerSignatureMax, each a supported derived component or a
// lowercase field name, none twice.
func checkComponents(components []string) error {
	if len(components) > ComponentsPerSignatureMax {
		return fmt.Errorf("%w: %d covered components, limit %d", ErrSignatureMalformed, len(components), ComponentsPerSignatureMax)
	}
	for i, c := range components {
		if strings.HasPrefix(c, "@") {
			if !slices.Contains(derivedComponents, c) {
				return fmt.Errorf("%w: %q", ErrComponentUnsupported, c)
			}
		} else if !isFieldName(c) {
			return fmt.Errorf("%w: %q is not a lowercase field name", ErrComponentUnsupported, c)
		}
		if slices.Contains(components[:i], c) {
			return fmt.Errorf("%w: %q covered twice", ErrComponentUnsupported, c)
		}
	}
	return nil
}

// isFieldName reports whether s is a non-empty token without uppercase.
func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isTchar(c) || (c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// checkRequired checks that covered includes the required components; see
// VerifyOptions.RequiredComponents.
func checkRequired(covered, required []string, h http.Header, body []byte, unsignedBody bool) error {
	need := func(c string) error {
		if !slices.Contains(covered, c) {
			return fmt.Errorf("%w: %q is required but not covered", ErrComponentMissing, c)
		}
		return nil
	}
	if len(body) > 0 && !unsignedBody {
		if err := need("content-digest"); err != nil {
			return err
		}
	}
	if required != nil {
		for _, c := range required {
			if err := need(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := need("@method"); err != nil {
		return err
	}
	if !slices.Contains(covered, "@target-uri") {
		for _, c := range []string{"@authority", "@path", "@query"} {
			if !slices.Contains(covered, c) {
				return fmt.Errorf("%w: neither \"@target-uri\" nor %q is covered", ErrComponentMissing, c)
			}
		}
	}
	if len(body) > 0 || len(h.Values("Content-Type")) > 0 {
		if err := need("content-type"); err != nil {
			return err
		}
	}
	if len(h.Values(HeaderIdempotencyKey)) > 0 {
		if err := need("idempotency-key"); err != nil {
			return err
		}
	}
	return nil
}

// requestView is what the derived components of a request are computed from.
type requestView struct {
	r         *http.Request
	server    bool // r was received by a server (r.RequestURI is set)
	method    string
	scheme    string // lowercase
	authority string // normalized: lowercase, default port removed
	path      string // never empty
	query     string // without "?"
	hasQuery  bool
}

// newRequestView derives the request's method, scheme, authority, path and
// query. A server request (r.RequestURI set) uses the raw request target as
// received; a client request uses r.URL. scheme and authority, if set,
// override what r says.
func newRequestView(r *http.Request, scheme, authority string) (requestView, error) {
	v := requestView{r: r, server: r.RequestURI != "", method: r.Method}
	if v.method == "" {
		v.method = http.MethodGet
	}
	var target string
	if v.server {
		target = r.RequestURI
		if scheme == "" && r.URL != nil {
			scheme = r.URL.Scheme
		}
		if scheme == "" {
			if r.TLS != nil {
				scheme = "https"
			} else {
				scheme = "http"
			}
		}
		if authority == "" {
			authority = r.Host
		}
		// An absolute-form target ("https://host/path?q") keeps only its
		// path and query here; its authority is r.Host already.
		if i := strings.Index(target, "://"); i > 0 && !strings.HasPrefix(target, "/") {
			rest := target[i+3:]
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				target = rest[j:]
			} else {
				target = "/"
			}
		}
	} else {
		if r.URL == nil {
			return v, fmt.Errorf("%w: request has no URL", ErrComponentMissing)
		}
		target = r.URL.RequestURI()
		if scheme == "" {
			scheme = r.URL.Scheme
		}
		if authority == "" {
			authority = r.Host
		}
		if authority == "" {
			authority = r.URL.Host
		}
	}
	v.scheme = strings.ToLower(scheme)
	v.authority = normalizeAuthority(authority, v.scheme)
	if target != "*" && !strings.HasPrefix(target, "/") {
		if strings.HasPrefix(target, "?") {
			target = "/" + target
		} else {
			return v, fmt.Errorf("%w: request target %q is not in origin form", ErrComponentUnsupported, target)
		}
	}
	v.path, v.query, v.hasQuery = strings.Cut(target, "?")
	if v.path == "" {
		v.path = "/"
	}
	return v, nil
}

// normalizeAuthority lowercases host[:port] and removes the scheme's default
// port (RFC 9421 §2.2.3, RFC 9110 §4.2.3).
func normalizeAuthority(authority, scheme string) string {
	a := strings.ToLower(strings.TrimSpace(authority))
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		if i := strings.LastIndex(a, "]"); i >= 0 {
			host, port = a[:i+1], strings.TrimPrefix(a[i+1:], ":")
		}
	} else if i := strings.LastIndex(a, ":"); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return host
	}
	return host + ":" + port
}

// componentValue returns the value of one covered component.
func (v requestView) componentValue(c string) (string, error) {
	switch c {
	case "@method":
		return v.method, nil
	case "@target-uri":
		if v.scheme == "" || v.authority == "" {
			return "", fmt.Errorf("%w: \"@target-uri\" needs a scheme and an authority", ErrComponentMissing)
		}
		return v.scheme + "://" + v.authority + v.requestTarget(), nil
	case "@authority":
		if v.authority == "" {
			return "", fmt.Errorf("%w: \"@authority\": request has no authority", ErrComponentMissing)
		}
		return v.authority, nil
	case "@scheme":
		if v.scheme == "" {
			return "", fmt.Errorf("%w: \"@scheme\": request has no scheme", ErrComponentMissing)
		}
		return v.scheme, nil
	case "@request-target":
		return v.requestTarget(), nil
	case "@path":
		return v.path, nil
	case "@query":
		return "?" + v.query, nil
	case "host":
		host := v.r.Host
		if !v.server && host == "" && v.r.URL != nil {
			host = v.r.URL.Host
		}
		if host == "" {
			return "", fmt.Errorf("%w: field %q", ErrComponentMissing, c)
		}
		return strings.TrimSpace(host), nil
	}
	if strings.HasPrefix(c, "@") {
		return "", fmt.Errorf("%w: %q", ErrComponentUnsupported, c)
	}
	lines := v.r.Header.Values(c)
	if len(lines) == 0 && c == "content-length" && !v.server && v.r.ContentLength > 0 {
		// A client request's Content-Length is written from ContentLength.
		return strconv.FormatInt(v.r.ContentLength, 10), nil
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("%w: field %q", ErrComponentMissing, c)
	}
	// RFC 9421 §2.1: each field line's value with leading and trailing
	// whitespace removed, joined by ", ".
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strings.Trim(l, " \t"))
	}
	return b.String(), nil
}

func (v requestView) requestTarget() string {
	if v.hasQuery {
		return v.path + "?" + v.query
	}
	return v.path
}

// signatureBase builds the RFC 9421 §2.5 signature base: one line
// `"<component>": <value>` per covered component, then
// `"@signature-params": <params>`, lines separated by LF, no final LF.
// params is the serialized inner list of the Signature-Input member.
func signatureBase(v requestView, components []string, params string) ([]byte, error) {
	var b strings.Builder
	b.Grow(1024)
	for _, c := range components {
		value, err := v.componentValue(c)
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(value); i++ {
			if ch := value[i]; (ch < 0x20 && ch != '\t') || ch == 0x7f {
				return nil, fmt.Errorf("%w: value of %q contains control byte 0x%02x", ErrComponentUnsupported, c, ch)
			}
		}
		b.WriteByte('"')
		b.WriteString(c)
		b.WriteString(`": `)
		b.WriteString(value)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(params)
	return []byte(b.String()), nil
}
