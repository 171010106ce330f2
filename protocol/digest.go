package protocol

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
)

// HeaderContentDigest is the RFC 9530 field carrying digests of the content.
const HeaderContentDigest = "Content-Digest"

// ContentDigestBytesMax bounds the Content-Digest field VerifyContentDigest
// parses (all field lines joined). A sha-256 and a sha-512 member together
// need about 150 bytes.
const ContentDigestBytesMax = 1024

// Hash algorithm keys of the RFC 9530 registry that this package computes.
const (
	DigestSHA256 = "sha-256" // ContentDigest writes it; VerifyContentDigest checks it
	DigestSHA512 = "sha-512" // VerifyContentDigest checks it
)

// ContentDigest returns the Content-Digest field value for body:
// "sha-256=:<base64 of SHA-256(body)>:". body is the exact content bytes as
// sent; an empty body has a digest too (of the empty string).
func ContentDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return DigestSHA256 + "=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// VerifyContentDigest checks a Content-Digest field value against body, the
// exact content bytes received. The field is parsed as an RFC 8941 Dictionary
// (strictly: see ErrDigestMalformed). Every member whose key is sha-256 or
// sha-512 must be a byte sequence of the algorithm's length equal to the
// digest of body; members with other keys (other or deprecated algorithms)
// are ignored, but only when at least one known algorithm matched. So the
// check fails closed:
//
//   - field empty or absent: ErrDigestMissing;
//   - not parseable, over ContentDigestBytesMax, a known member not a byte
//     sequence of the right length: ErrDigestMalformed;
//   - no sha-256 or sha-512 member: ErrDigestUnsupported;
//   - any known member differs from the body's digest: ErrDigestMismatch.
//
// Digests are compared in constant time.
func VerifyContentDigest(field string, body []byte) error {
	if len(field) > ContentDigestBytesMax {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrDigestMalformed, len(field), ContentDigestBytesMax)
	}
	members, err := sfParseDictionary(field)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDigestMalformed, err)
	}
	if len(members) == 0 {
		return ErrDigestMissing
	}
	matched := 0
	for _, m := range members {
		var want []byte
		switch m.Key {
		case DigestSHA256:
			sum := sha256.Sum256(body)
			want = sum[:]
		case DigestSHA512:
			sum := sha512.Sum512(body)
			want = sum[:]
		default:
			continue
		}
		if m.IsInner || m.Item.Bare.Kind != sfBytes {
			return fmt.Errorf("%w: %s value is not a byte sequence", ErrDigestMalformed, m.Key)
		}
		got := m.Item.Bare.Bytes
		if len(got) != len(want) {
			return fmt.Errorf("%w: %s value is %d bytes, want %d", ErrDigestMalformed, m.Key, len(got), len(want))
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return fmt.Errorf("%w: %s of the body differs from the field", ErrDigestMismatch, m.Key)
		}
		matched++
	}
	if matched == 0 {
		return fmt.Errorf("%w: none of the %d members is sha-256 or sha-512", ErrDigestUnsupported, len(members))
	}
	return nil
}
