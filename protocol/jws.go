package protocol

// The ACT JWS profile: compact serialization only; a protected header of
// exactly {alg, kid, typ}; alg EdDSA (or ES256, verified); kid the
// signer's RFC 7638 thumbprint; canonical unpadded base64url; the
// signature checked over the exact bytes received before the payload is
// decoded; the payload strict JSON.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"
)

// jwsB64 is unpadded base64url that refuses non-canonical encodings, so
// one signed object has exactly one byte form up to its signature.
var jwsB64 = base64.RawURLEncoding.Strict()

// Header is the protected header of an ACT JWS. It has exactly these
// three members.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// compactJWS is a parsed, not yet verified, compact JWS.
type compactJWS struct {
	header       Header
	signingInput []byte // raw[:second dot]: what the signature covers
	payloadB64   []byte
	sig          []byte
	sigBuf       [64]byte // sig, when it fits (EdDSA's and ES256's do)
}

// ParseHeader returns the protected header of a compact JWS without
// verifying anything else, for routing (KindOfTyp) and for explaining a
// failure. Errors are *Failure with CodeJWSTooLarge, CodeJWSMalformed,
// CodeJWSHeaderInvalid or CodeAlgUnsupported.
func ParseHeader(compact []byte) (Header, error) {
	c, err := parseCompact(compact)
	if err != nil {
		return Header{}, err
	}
	return c.header, nil
}

// parseCompact splits and checks the framing and the header.
func parseCompact(raw []byte) (*compactJWS, error) {
	c := new(compactJWS)
	if err := c.parse(raw); err != nil {
		return nil, err
	}
	return c, nil
}

// parse sets c to raw's parts, checked as parseCompact does; its parts
// are set only when it succeeds.
func (c *compactJWS) parse(raw []byte) error {
	if len(raw) > JWSBytesMax {
		return fail(CodeJWSTooLarge, "", fmt.Sprintf("%d bytes, limit %d", len(raw), JWSBytesMax))
	}
	d1 := bytes.IndexByte(raw, '.')
	if d1 < 0 {
		return fail(CodeJWSMalformed, "", "not three dot-separated parts")
	}
	d2 := bytes.IndexByte(raw[d1+1:], '.')
	if d2 < 0 {
		return fail(CodeJWSMalformed, "", "not three dot-separated parts")
	}
	d2 += d1 + 1
	if bytes.IndexByte(raw[d2+1:], '.') >= 0 {
		return fail(CodeJWSMalformed, "", "more than three parts (JWE or detached forms are not ACT)")
	}
	hb64, pb64, sb64 := raw[:d1], raw[d1+1:d2], raw[d2+1:]
	if len(hb64) == 0 || len(pb64) == 0 || len(sb64) == 0 {
		return fail(CodeJWSMalformed, "", "an empty part")
	}
	if jwsB64.DecodedLen(len(hb64)) > HeaderBytesMax {
		return fail(CodeJWSTooLarge, "header", fmt.Sprintf("limit %d bytes", HeaderBytesMax))
	}
	h, err := decodeHeader(hb64)
	if err != nil {
		return err
	}
	sig := c.sigBuf[:0]
	if l := jwsB64.DecodedLen(len(sb64)); l <= len(c.sigBuf) {
		sig = c.sigBuf[:l]
	} else {
		sig = make([]byte, l)
	}
	n, err := jwsB64.Decode(sig, sb64)
	if err != nil {
		return failWrap(CodeJWSMalformed, "signature", fmt.Errorf("base64url: %w", err))
	}
	sig = sig[:n]
	switch h.Alg {
	case AlgEdDSA, AlgES256:
	case "":
		return fail(CodeJWSHeaderInvalid, "header.alg", "missing")
	default:
		return fail(CodeAlgUnsupported, "header.alg", fmt.Sprintf("%q; ACT accepts EdDSA and ES256", h.Alg))
	}
	if h.Typ == "" {
		return fail(CodeJWSHeaderInvalid, "header.typ", "missing")
	}
	if !isThumbprint(h.Kid) {
		return fail(CodeJWSHeaderInvalid, "header.kid", "not an RFC 7638 SHA-256 thumbprint")
	}
	c.header, c.signingInput, c.payloadB64, c.sig = h, raw[:d2], pb64, sig
	return nil
}

// headers holds the headers decoded lately by their base64url text: a
// signer's objects share one header, decoded once. Every parse looks it
// up, from every request's goroutine: lookups share the lock. Bounded: it
// is emptied when full.
var headers struct {
	sync.RWMutex
	m map[string]Header
}

const headersMax = 4096

// decodeHeader decodes a protected header's base64url text as strict
// JSON (not its members' values, which parseCompact checks).
func decodeHeader(hb64 []byte) (Header, error) {
	headers.RLock()
	h, ok := headers.m[string(hb64)]
	headers.RUnlock()
	if ok {
		return h, nil
	}
	return decodeHeaderText(hb64)
}

// decodeHeaderText is decodeHeader's decoding, kept apart so that the
// lookup's header does not escape to the heap.
func decodeHeaderText(hb64 []byte) (Header, error) {
	var h Header
	hdr := make([]byte, jwsB64.DecodedLen(len(hb64)))
	n, err := jwsB64.Decode(hdr, hb64)
	if err != nil {
		return Header{}, failWrap(CodeJWSMalformed, "header", fmt.Errorf("base64url: %w", err))
	}
	if err := decodeStrict(hdr[:n], &h); err != nil {
		var f *Failure
		if errors.As(err, &f) && f.Code == CodeJWSTooLarge {
			return Header{}, err
		}
		return Header{}, failWrap(CodeJWSHeaderInvalid, "header", err)
	}
	headers.Lock()
	if len(headers.m) >= headersMax || headers.m == nil {
		headers.m = make(map[string]Header)
	}
	headers.m[string(hb64)] = h
	headers.Unlock()
	return h, nil
}

// isThumbprint reports whether s has the shape of a SHA-256 thumbprint:
// 43 characters of canonical unpadded base64url.
func isThumbprint(s string) bool {
	return isHashB64(s)
}

// signCompact makes the compact JWS of payload with header {alg, kid,
// typ}.
func signCompact(s Signer, typ string, payload []byte) ([]byte, error) {
	alg := s.Algorithm()
	if alg != AlgEdDSA && alg != AlgES256 {
		return nil, fmt.Errorf("protocol: sign: signer algorithm %q is not EdDSA or ES256", alg)
	}
	if s.KeyID() != s.PublicKey().KeyID() || !isThumbprint(s.KeyID()) {
		return nil, errors.New("protocol: sign: signer key id is not its public key's thumbprint")
	}
	hdr, err := json.Marshal(Header{Alg: alg, Kid: s.KeyID(), Typ: typ})
	if err != nil {
		return nil, fmt.Errorf("protocol: sign: header: %w", err)
	}
	hl, pl := jwsB64.EncodedLen(len(hdr)), jwsB64.EncodedLen(len(payload))
	out := make([]byte, hl+1+pl, hl+1+pl+1+jwsB64.EncodedLen(64))
	jwsB64.Encode(out, hdr)
	out[hl] = '.'
	jwsB64.Encode(out[hl+1:], payload)
	sig, err := s.SignMessage(out)
	if err != nil {
		return nil, fmt.Errorf("protocol: sign: %w", err)
	}
	if len(sig) != 64 {
		return nil, fmt.Errorf("protocol: sign: signer returned %d bytes, want 64", len(sig))
	}
	if _, own := s.(*Ed25519PrivateKey); !own && !s.PublicKey().Verify(alg, out, sig) {
		// An external signer (HSM, KMS) is checked once per signature; this
		// package's own key type is not, which halves the cost of signing.
		return nil, errors.New("protocol: sign: signer's signature does not verify with its public key")
	}
	out = append(out, '.')
	out = jwsB64.AppendEncode(out, sig)
	if len(out) > JWSBytesMax {
		return nil, fail(CodeJWSTooLarge, "", fmt.Sprintf("signed object is %d bytes, limit %d", len(out), JWSBytesMax))
	}
	return out, nil
}

// decodeStrict decodes one JSON value into v, refusing what a lenient
// decoder would let two implementations read differently: invalid UTF-8,
// a repeated member, a member name that is not lower-case ASCII
// ([a-z0-9_], unescaped, so encoding/json's case-insensitive matching
// cannot apply), null, nesting deeper than JSONDepthMax, unknown members
// (where v's type does not say otherwise) and trailing data.
func decodeStrict(data []byte, v any) error {
	if f, ok := v.(fastDecoder); ok && utf8.Valid(data) && f.decodeFast(data) {
		return nil
	}
	if err := checkJSONShape(data); err != nil {
		return err
	}
	return decodeJSON(data, v)
}

// decodeJSON is decodeStrict's decoding with encoding/json, unknown
// members refused, after the shape check.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) != 0 {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonFrame is one open container of checkJSONShape's scan.
type jsonFrame struct {
	object    bool
	expectKey bool // in an object: the next string is a member name
	keys      int  // where this object's member names start in the scan's names
}

// checkJSONShape scans data once and enforces the structural rules of
// decodeStrict: valid UTF-8, member names of [a-z0-9_] without escapes
// and not repeated, no null, depth at most JSONDepthMax. It does not
// check the JSON grammar; the decoder that runs next does.
func checkJSONShape(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	// The frames and the member names seen live on the stack for the
	// usual object; member names are slices of data (objects have few:
	// a linear scan finds repeats).
	var frames [JSONDepthMax]jsonFrame
	var namesBuf [64][]byte
	stack, names := frames[:0], namesBuf[:0]
	for i := 0; i < len(data); {
		c := data[i]
		switch c {
		case '{', '[':
			if len(stack) >= JSONDepthMax {
				return fail(CodeJWSTooLarge, "", fmt.Sprintf("JSON nests deeper than %d", JSONDepthMax))
			}
			stack = append(stack, jsonFrame{object: c == '{', expectKey: c == '{', keys: len(names)})
			i++
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("unbalanced JSON")
			}
			names = names[:stack[len(stack)-1].keys]
			stack = stack[:len(stack)-1]
			i++
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
			i++
		case '"':
			// The closing quote: the next one when no backslash comes
			// before it (the usual string), else found byte by byte.
			j, escaped := i+1, false
			if k := bytes.IndexByte(data[j:], '"'); k >= 0 && bytes.IndexByte(data[j:j+k], '\\') < 0 {
				j += k
			} else {
				for j < len(data) && data[j] != '"' {
					if data[j] == '\\' {
						escaped = true
						j++
					}
					j++
				}
			}
			if j >= len(data) {
				return errors.New("unterminated string")
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				top := &stack[n-1]
				name := data[i+1 : j]
				if escaped || !isMemberName(name) {
					return fmt.Errorf("member name %q is not lower-case ASCII [a-z0-9_]", name)
				}
				for _, k := range names[top.keys:] {
					if bytes.Equal(k, name) {
						return fmt.Errorf("member %q repeated", name)
					}
				}
				names = append(names, name)
				top.expectKey = false
			}
			i = j + 1
		case 'n':
			return errors.New("null is not allowed (omit the member instead)")
		default:
			i++
		}
	}
	if len(stack) != 0 {
		return errors.New("unbalanced JSON")
	}
	return nil
}

// isMemberName reports whether s is 1..64 characters of [a-z0-9_].
func isMemberName[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
