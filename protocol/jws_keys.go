package protocol

// Keys as types: a PublicKey verifies, a Signer signs. Private keys never
// print or serialize themselves.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/agentpay/agentpay/internal/eddsa"
)

// JWS algorithms of the ACT profile.
const (
	// AlgEdDSA is Ed25519 (RFC 8037): the algorithm ACT parties sign with.
	AlgEdDSA = "EdDSA"
	// AlgES256 is ECDSA P-256 with SHA-256 (RFC 7518 §3.4): verified, so
	// users whose keys live in passkeys or secure enclaves (P-256 only)
	// can sign credentials and mandates, but this package signs only
	// with Ed25519.
	AlgES256 = "ES256"
)

// PublicKey is a verification key: Ed25519 or ECDSA P-256. It carries
// its RFC 7638 thumbprint (the kid of what it verifies). PublicKey values
// cannot be compared with ==; use Equal. The zero value is no key and
// verifies nothing.
type PublicKey struct {
	alg string
	ed  *edKey
	ec  *ecdsa.PublicKey
	kid string
}

// NewPublicKey wraps pub, an ed25519.PublicKey or a P-256
// *ecdsa.PublicKey. Any other key, or a malformed one, is an error
// wrapping ErrJWKUnsupported or ErrJWKInvalid.
func NewPublicKey(pub crypto.PublicKey) (PublicKey, error) {
	kid, err := Thumbprint(pub)
	if err != nil {
		return PublicKey{}, fmt.Errorf("protocol: public key: %w", err)
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return PublicKey{alg: AlgEdDSA, ed: &edKey{pub: append(ed25519.PublicKey(nil), k...)}, kid: kid}, nil
	case *ecdsa.PublicKey:
		return PublicKey{alg: AlgES256, ec: k, kid: kid}, nil
	}
	return PublicKey{}, fmt.Errorf("protocol: public key: %w: %T", ErrJWKUnsupported, pub)
}

// Algorithm is the JWS alg this key verifies (AlgEdDSA or AlgES256); ""
// for the zero value.
func (k PublicKey) Algorithm() string { return k.alg }

// KeyID is the key's RFC 7638 thumbprint; "" for the zero value.
func (k PublicKey) KeyID() string { return k.kid }

// IsZero reports whether k is the zero value.
func (k PublicKey) IsZero() bool { return k.alg == "" }

// CryptoPublicKey returns the key as an ed25519.PublicKey or a
// *ecdsa.PublicKey (nil for the zero value).
func (k PublicKey) CryptoPublicKey() crypto.PublicKey {
	switch k.alg {
	case AlgEdDSA:
		return append(ed25519.PublicKey(nil), k.ed.pub...)
	case AlgES256:
		return k.ec
	}
	return nil
}

// JWK returns the key as a public JWK.
func (k PublicKey) JWK() JWK { return JWK{Key: k.CryptoPublicKey()} }

// Equal reports whether k and o are the same key.
func (k PublicKey) Equal(o PublicKey) bool { return k.alg == o.alg && k.kid == o.kid }

// String renders "EdDSA:<kid>".
func (k PublicKey) String() string {
	if k.IsZero() {
		return "PublicKey(none)"
	}
	return k.alg + ":" + k.kid
}

// Verify reports whether sig is k's signature of msg under alg: a
// 64-byte Ed25519 signature, or a 64-byte R||S ECDSA P-256 signature of
// SHA-256(msg). A key never verifies under another key type's alg.
func (k PublicKey) Verify(alg string, msg, sig []byte) bool {
	if alg != k.alg || len(sig) != 64 {
		return false
	}
	switch alg {
	case AlgEdDSA:
		return k.ed.verify(msg, sig)
	case AlgES256:
		h := sha256.Sum256(msg)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, h[:], r, s)
	}
	return false
}

// Signer holds a private key and signs ACT objects (and, being
// crypto.Signer compatible where the key type allows, agent requests).
// Implementations keep the private key to themselves: an HSM or KMS
// backed Signer is as good as an Ed25519PrivateKey.
type Signer interface {
	// Algorithm is the JWS alg of the signatures: AlgEdDSA (or AlgES256
	// for an external P-256 signer, whose signatures are 64-byte R||S).
	Algorithm() string
	// KeyID is the RFC 7638 thumbprint of the public key (the JWS kid).
	KeyID() string
	// PublicKey returns the verification key.
	PublicKey() PublicKey
	// SignMessage signs msg as is (Ed25519 hashes internally) and returns
	// the 64-byte signature, or an error from the key's store.
	SignMessage(msg []byte) ([]byte, error)
}

// Ed25519PrivateKey is an Ed25519 private key. It prints as its kid only
// (every fmt verb), refuses JSON and text marshalling, and cannot be
// compared with ==. It implements Signer and crypto.Signer (so it is an
// agent's RequestSigner too). Hold it by pointer.
type Ed25519PrivateKey struct {
	_    [0]func() // not comparable
	priv ed25519.PrivateKey
	pub  PublicKey
}

// GenerateEd25519Key makes a key from 32 bytes of r (crypto/rand.Reader
// if r is nil).
func GenerateEd25519Key(r io.Reader) (*Ed25519PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("protocol: generate Ed25519 key: %w", err)
	}
	defer clear(seed)
	return NewEd25519PrivateKey(seed)
}

// NewEd25519PrivateKey makes the key of a 32-byte RFC 8032 seed.
func NewEd25519PrivateKey(seed []byte) (*Ed25519PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("protocol: Ed25519 seed of %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub, err := NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	return &Ed25519PrivateKey{priv: priv, pub: pub}, nil
}

// Seed returns a copy of the 32-byte seed, to store the key. It is the
// only way the private key leaves the value.
func (k *Ed25519PrivateKey) Seed() []byte { return append([]byte(nil), k.priv.Seed()...) }

// Algorithm returns AlgEdDSA.
func (k *Ed25519PrivateKey) Algorithm() string { return AlgEdDSA }

// KeyID returns the thumbprint of the public key.
func (k *Ed25519PrivateKey) KeyID() string { return k.pub.kid }

// PublicKey returns the verification key.
func (k *Ed25519PrivateKey) PublicKey() PublicKey { return k.pub }

// SignMessage returns the Ed25519 signature of msg.
func (k *Ed25519PrivateKey) SignMessage(msg []byte) ([]byte, error) {
	if len(k.priv) != ed25519.PrivateKeySize {
		return nil, errors.New("protocol: sign: zero Ed25519PrivateKey")
	}
	return eddsa.Sign(k.priv, msg), nil
}

// Public implements crypto.Signer: an ed25519.PublicKey.
func (k *Ed25519PrivateKey) Public() crypto.PublicKey { return k.pub.CryptoPublicKey() }

// Sign implements crypto.Signer for pure Ed25519: opts must be
// crypto.Hash(0) and message the unhashed message; rand is ignored.
func (k *Ed25519PrivateKey) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("protocol: sign: Ed25519PrivateKey signs unhashed messages only")
	}
	return k.SignMessage(message)
}

// String renders "Ed25519PrivateKey(kid=…)" and never the key.
func (k Ed25519PrivateKey) String() string { return "Ed25519PrivateKey(kid=" + k.pub.kid + ")" }

// GoString is String, so %#v prints no key material either.
func (k Ed25519PrivateKey) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %x, %q, ...).
func (k Ed25519PrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// MarshalJSON refuses: a private key is never serialized by accident.
// Use Seed to store it.
func (k Ed25519PrivateKey) MarshalJSON() ([]byte, error) {
	return nil, errors.New("protocol: an Ed25519PrivateKey is not marshalled; store Seed()")
}

// MarshalText refuses, like MarshalJSON.
func (k Ed25519PrivateKey) MarshalText() ([]byte, error) {
	return nil, errors.New("protocol: an Ed25519PrivateKey is not marshalled; store Seed()")
}
