package protocol

// Ed25519 verification with crypto/ed25519's exact rules, faster.
//
// Every ACT signature is Ed25519 and a payment verifies at least one, so
// verification is the payment path's largest single cost. curve25519-voi
// verifies with the same rules as crypto/ed25519 (VerifyOptionsStdLib:
// cofactorless equation, canonical S, small-order and non-canonical A
// allowed, as RFC 8032 and Go define them) in about two thirds of the
// time, and a key used more than once is expanded (its decompressed point
// and tables kept), which saves a further tenth. The test suite checks
// that both agree on the published edge-case vectors (C2SP
// ed25519vectors, the "Taming the many EdDSAs" cases, Wycheproof) and a
// fuzz target compares them on any input.

import (
	"crypto/ed25519"
	"sync"
	"sync/atomic"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

var stdlibRules = &voi.Options{Verify: voi.VerifyOptionsStdLib}

// verifyEd25519 reports whether sig is pub's signature of msg, with
// crypto/ed25519.Verify's result on every input.
func verifyEd25519(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, stdlibRules)
}

// expandAfter is how many verifications a key makes before it is
// expanded: expansion costs about two verifications' savings, so a key
// seen once (a request's one-off key) is never expanded.
const expandAfter = 2

// edKey is an Ed25519 key shared by the copies of one PublicKey, which
// expands itself once it has verified expandAfter times.
type edKey struct {
	pub  ed25519.PublicKey
	uses atomic.Uint32
	once sync.Once
	ex   *voi.ExpandedPublicKey // nil until expanded, or if it cannot be
}

func (k *edKey) verify(msg, sig []byte) bool {
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	if k.uses.Load() >= expandAfter || k.uses.Add(1) >= expandAfter {
		k.once.Do(func() {
			// A key voi cannot expand (it is not a point) still
			// verifies, unexpanded, with the same result.
			k.ex, _ = voi.NewExpandedPublicKey(voi.PublicKey(k.pub))
		})
		if k.ex != nil {
			return voi.VerifyExpandedWithOptions(k.ex, msg, sig, stdlibRules)
		}
	}
	return verifyEd25519(k.pub, msg, sig)
}
