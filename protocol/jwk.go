package protocol

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// JWKBytesMax bounds the JSON text of one JWK accepted by ParseJWK and
// JWK.UnmarshalJSON. A P-256 public key with kid, alg and use needs about 200.
const JWKBytesMax = 4096

// Key types and curves of the JWKs this package reads and writes.
const (
	JWKKeyTypeOKP   = "OKP"     // RFC 8037 octet key pair
	JWKKeyTypeEC    = "EC"      // RFC 7518 §6.2 elliptic curve
	JWKCurveEd25519 = "Ed25519" // with kty OKP
	JWKCurveP256    = "P-256"   // with kty EC
)

// b64url is unpadded base64url that rejects non-canonical encodings.
var b64url = base64.RawURLEncoding.Strict()

// JWK is a public JSON Web Key (RFC 7517) for one of the two key types of
// the protocol: Ed25519 (kty "OKP", crv "Ed25519", RFC 8037) and ECDSA P-256
// (kty "EC", crv "P-256", RFC 7518).
//
// Key is an ed25519.PublicKey or a *ecdsa.PublicKey on P-256. KeyID, Algorithm
// and Use are the optional "kid", "alg" and "use" members; empty means absent.
// A JWK from ParseJWK or UnmarshalJSON always holds a valid key; one built by
// hand is checked when it is marshalled.
type JWK struct {
	Key       crypto.PublicKey
	KeyID     string
	Algorithm string
	Use       string
}

// NewJWK returns the JWK of pub (an ed25519.PublicKey or a P-256
// *ecdsa.PublicKey), or an error wrapping ErrJWKUnsupported or ErrJWKInvalid.
func NewJWK(pub crypto.PublicKey) (JWK, error) {
	if _, err := jwkMembers(pub); err != nil {
		return JWK{}, err
	}
	return JWK{Key: pub}, nil
}

// PublicKey returns the key: an ed25519.PublicKey or a *ecdsa.PublicKey.
func (k JWK) PublicKey() crypto.PublicKey { return k.Key }

// Thumbprint returns the RFC 7638 thumbprint of the key; see Thumbprint.
func (k JWK) Thumbprint() (string, error) { return Thumbprint(k.Key) }

// jwkPublic holds the required members of a public JWK, base64url-encoded.
type jwkPublic struct {
	kty, crv, x, y string
}

// jwkMembers returns the required members of pub's JWK, validating the key.
func jwkMembers(pub crypto.PublicKey) (jwkPublic, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return jwkPublic{}, fmt.Errorf("%w: Ed25519 public key of %d bytes, want %d", ErrJWKInvalid, len(k), ed25519.PublicKeySize)
		}
		return jwkPublic{kty: JWKKeyTypeOKP, crv: JWKCurveEd25519, x: b64url.EncodeToString(k)}, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return jwkPublic{}, fmt.Errorf("%w: ECDSA key not on P-256", ErrJWKUnsupported)
		}
		b, err := k.Bytes()
		if err != nil || len(b) != 65 {
			return jwkPublic{}, fmt.Errorf("%w: ECDSA P-256 key: %v", ErrJWKInvalid, err)
		}
		return jwkPublic{
			kty: JWKKeyTypeEC, crv: JWKCurveP256,
			x: b64url.EncodeToString(b[1:33]), y: b64url.EncodeToString(b[33:]),
		}, nil
	}
	return jwkPublic{}, fmt.Errorf("%w: %T", ErrJWKUnsupported, pub)
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: the unpadded
// base64url encoding of the SHA-256 of the key's required JWK members in
// lexicographic order with no whitespace. pub is an ed25519.PublicKey or a
// P-256 *ecdsa.PublicKey; any other key returns an error wrapping
// ErrJWKUnsupported, a malformed one ErrJWKInvalid. The result is 43
// characters long and is the keyid of agent request signatures.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	ed, isEd := pub.(ed25519.PublicKey)
	isEd = isEd && len(ed) == ed25519.PublicKeySize
	if isEd {
		thumbprints.Lock()
		t, ok := thumbprints.m[[ed25519.PublicKeySize]byte(ed)]
		thumbprints.Unlock()
		if ok {
			return t, nil
		}
	}
	m, err := jwkMembers(pub)
	if err != nil {
		return "", err
	}
	// The member values are base64url or fixed names, so none needs JSON
	// escaping and the canonical form can be written directly.
	var canon string
	if m.kty == JWKKeyTypeOKP {
		canon = `{"crv":"` + m.crv + `","kty":"` + m.kty + `","x":"` + m.x + `"}`
	} else {
		canon = `{"crv":"` + m.crv + `","kty":"` + m.kty + `","x":"` + m.x + `","y":"` + m.y + `"}`
	}
	sum := sha256.Sum256([]byte(canon))
	t := b64url.EncodeToString(sum[:])
	if isEd {
		thumbprints.Lock()
		if len(thumbprints.m) >= thumbprintsMax || thumbprints.m == nil {
			thumbprints.m = make(map[[ed25519.PublicKeySize]byte]string)
		}
		thumbprints.m[[ed25519.PublicKeySize]byte(ed)] = t
		thumbprints.Unlock()
	}
	return t, nil
}

// thumbprints holds the thumbprints of the Ed25519 keys seen lately: an
// agent's key is named by every closed mandate its open mandate binds.
// Bounded: it is emptied when full.
var thumbprints struct {
	sync.Mutex
	m map[[ed25519.PublicKeySize]byte]string
}

const thumbprintsMax = 4096

// MarshalJSON writes the public JWK with members kty, crv, x, (y), and kid,
// alg, use when set. It fails for a key NewJWK would refuse.
func (k JWK) MarshalJSON() ([]byte, error) {
	m, err := jwkMembers(k.Key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y,omitempty"`
		Kid string `json:"kid,omitempty"`
		Alg string `json:"alg,omitempty"`
		Use string `json:"use,omitempty"`
	}{m.kty, m.crv, m.x, m.y, k.KeyID, k.Algorithm, k.Use})
}

// jwkPrivateMembers are the members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). A public JWK with
// any of them is refused: it means someone is publishing a secret.
var jwkPrivateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// UnmarshalJSON parses a public JWK strictly: at most JWKBytesMax bytes; a
// JSON object without repeated members; kty, crv and x (and y for EC) present
// as strings holding unpadded canonical base64url of exactly 32 bytes; an EC
// point on P-256; no private key member (d, p, q, dp, dq, qi, oth, k); kid,
// alg and use, when present, strings, with alg "EdDSA" or "Ed25519" for
// Ed25519 and "ES256" for P-256, and use "sig". Other members are ignored, as
// RFC 7517 §4 requires. Errors wrap ErrJWKInvalid or ErrJWKUnsupported; on
// error k is unchanged.
func (k *JWK) UnmarshalJSON(data []byte) error {
	parsed, err := ParseJWK(data)
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}

// ParseJWK parses one public JWK; see JWK.UnmarshalJSON for the rules.
// Trailing data after the object is an error.
func ParseJWK(data []byte) (JWK, error) {
	if len(data) > JWKBytesMax {
		return JWK{}, fmt.Errorf("%w: %d bytes, limit %d", ErrJWKInvalid, len(data), JWKBytesMax)
	}
	members, err := jsonObjectMembers(data)
	if err != nil {
		return JWK{}, fmt.Errorf("%w: %v", ErrJWKInvalid, err)
	}
	for _, name := range jwkPrivateMembers {
		if _, ok := members[name]; ok {
			return JWK{}, fmt.Errorf("%w: private key member %q present", ErrJWKInvalid, name)
		}
	}
	str := func(name string, required bool) (string, error) {
		raw, ok := members[name]
		if !ok {
			if required {
				return "", fmt.Errorf("%w: member %q missing", ErrJWKInvalid, name)
			}
			return "", nil
		}
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return "", fmt.Errorf("%w: member %q is not a string", ErrJWKInvalid, name)
		}
		if s == "" {
			return "", fmt.Errorf("%w: member %q is empty", ErrJWKInvalid, name)
		}
		return s, nil
	}
	coord := func(name string) ([]byte, error) {
		s, err := str(name, true)
		if err != nil {
			return nil, err
		}
		b, err := b64url.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: member %q is not unpadded base64url: %v", ErrJWKInvalid, name, err)
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("%w: member %q is %d bytes, want 32", ErrJWKInvalid, name, len(b))
		}
		return b, nil
	}
	var k JWK
	if k.KeyID, err = str("kid", false); err != nil {
		return JWK{}, err
	}
	if k.Algorithm, err = str("alg", false); err != nil {
		return JWK{}, err
	}
	if k.Use, err = str("use", false); err != nil {
		return JWK{}, err
	}
	if k.Use != "" && k.Use != "sig" {
		return JWK{}, fmt.Errorf("%w: use %q, want \"sig\"", ErrJWKInvalid, k.Use)
	}
	kty, err := str("kty", true)
	if err != nil {
		return JWK{}, err
	}
	crv, err := str("crv", kty == JWKKeyTypeOKP || kty == JWKKeyTypeEC)
	if err != nil {
		return JWK{}, err
	}
	switch {
	case kty == JWKKeyTypeOKP && crv == JWKCurveEd25519:
		if _, ok := members["y"]; ok {
			return JWK{}, fmt.Errorf("%w: member \"y\" in an OKP key", ErrJWKInvalid)
		}
		if k.Algorithm != "" && k.Algorithm != "EdDSA" && k.Algorithm != "Ed25519" {
			return JWK{}, fmt.Errorf("%w: alg %q for an Ed25519 key", ErrJWKInvalid, k.Algorithm)
		}
		x, err := coord("x")
		if err != nil {
			return JWK{}, err
		}
		k.Key = ed25519.PublicKey(x)
	case kty == JWKKeyTypeEC && crv == JWKCurveP256:
		if k.Algorithm != "" && k.Algorithm != "ES256" {
			return JWK{}, fmt.Errorf("%w: alg %q for a P-256 key", ErrJWKInvalid, k.Algorithm)
		}
		x, err := coord("x")
		if err != nil {
			return JWK{}, err
		}
		y, err := coord("y")
		if err != nil {
			return JWK{}, err
		}
		point := make([]byte, 0, 65)
		point = append(append(append(point, 4), x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return JWK{}, fmt.Errorf("%w: P-256 point: %v", ErrJWKInvalid, err)
		}
		k.Key = pub
	default:
		return JWK{}, fmt.Errorf("%w: kty %q crv %q", ErrJWKUnsupported, kty, crv)
	}
	return k, nil
}

// jsonObjectMembers decodes data as exactly one JSON object and returns its
// members' raw values, failing on a repeated member name.
func jsonObjectMembers(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key is not a string")
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("member %q repeated", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		members[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return members, nil
}
