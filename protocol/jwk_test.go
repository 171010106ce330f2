package protocol

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// RFC 8037 Appendix A.1's Ed25519 public key and its thumbprint (A.3).
const (
	rfc8037X          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

// RFC 7517 Appendix A.1's P-256 public key.
const (
	rfc7517X = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"
	rfc7517Y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
)

func TestThumbprintRFC8037(t *testing.T) {
	k, err := ParseJWK([]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	if got != rfc8037Thumbprint {
		t.Fatalf("thumbprint = %s, want %s (RFC 8037 A.3)", got, rfc8037Thumbprint)
	}
	// The thumbprint ignores optional members and member order.
	k2, err := ParseJWK([]byte(`{"x":"` + rfc8037X + `", "kid":"k1", "use":"sig", "alg":"EdDSA", "crv":"Ed25519", "kty":"OKP", "ext":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := k2.Thumbprint(); tp != rfc8037Thumbprint {
		t.Fatalf("thumbprint with optional members = %s", tp)
	}
}

func TestThumbprintP256(t *testing.T) {
	k, err := ParseJWK([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7517X + `","y":"` + rfc7517Y + `","kid":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7638 §3.2: the required members of an EC key in lexicographic order.
	canon := `{"crv":"P-256","kty":"EC","x":"` + rfc7517X + `","y":"` + rfc7517Y + `"}`
	sum := sha256.Sum256([]byte(canon))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if got, _ := k.Thumbprint(); got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
	if k.KeyID != "1" {
		t.Errorf("kid = %q", k.KeyID)
	}
}

func TestJWKRoundTrip(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, pub := range []any{edPub, &ec.PublicKey} {
		k, err := NewJWK(pub)
		if err != nil {
			t.Fatal(err)
		}
		k.KeyID, k.Algorithm, k.Use = "key-1", "ES256", "sig"
		if _, ok := pub.(ed25519.PublicKey); ok {
			k.Algorithm = "EdDSA"
		}
		data, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var back JWK
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if back.KeyID != k.KeyID || back.Algorithm != k.Algorithm || back.Use != k.Use {
			t.Errorf("%s: optional members lost: %+v", data, back)
		}
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if !back.PublicKey().(equaler).Equal(pub) {
			t.Errorf("%s: key changed", data)
		}
		t1, err1 := Thumbprint(pub)
		t2, err2 := back.Thumbprint()
		if err1 != nil || err2 != nil || t1 != t2 || len(t1) != 43 {
			t.Errorf("thumbprints %q %q (%v %v)", t1, t2, err1, err2)
		}
	}
}

func TestParseJWKRejects(t *testing.T) {
	x32 := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	ok := `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`
	ec := func(x, y string) string { return `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}` }
	for _, tc := range []struct {
		name, json string
		want       error
	}{
		{"private d (RFC 8037 A.1 key)", `{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"private d on EC", strings.TrimSuffix(ec(rfc7517X, rfc7517Y), "}") + `,"d":"AAAA"}`, ErrJWKInvalid},
		{"symmetric k", `{"kty":"oct","k":"AAAA"}`, ErrJWKInvalid},
		{"x 31 bytes", `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 31)) + `"}`, ErrJWKInvalid},
		{"x 33 bytes", `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 33)) + `"}`, ErrJWKInvalid},
		{"x padded", `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `="}`, ErrJWKInvalid},
		{"x standard base64", `{"kty":"OKP","crv":"Ed25519","x":"` + strings.ReplaceAll(rfc8037X, "_", "/") + `"}`, ErrJWKInvalid},
		{"x non-canonical trailing bits", `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X[:42] + "p" + `"}`, ErrJWKInvalid},
		{"x missing", `{"kty":"OKP","crv":"Ed25519"}`, ErrJWKInvalid},
		{"x null", `{"kty":"OKP","crv":"Ed25519","x":null}`, ErrJWKInvalid},
		{"x number", `{"kty":"OKP","crv":"Ed25519","x":5}`, ErrJWKInvalid},
		{"y in OKP", `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","y":"` + x32 + `"}`, ErrJWKInvalid},
		{"EC point off the curve", ec(x32, x32), ErrJWKInvalid},
		{"EC y changed", ec(rfc7517X, "5"+rfc7517Y[1:]), ErrJWKInvalid},
		{"EC y missing", `{"kty":"EC","crv":"P-256","x":"` + rfc7517X + `"}`, ErrJWKInvalid},
		{"crv missing", `{"kty":"OKP","x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"kty missing", `{"crv":"Ed25519","x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"kty empty", `{"kty":"","crv":"Ed25519","x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"repeated member", `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","x":"` + x32 + `"}`, ErrJWKInvalid},
		{"alg for another key type", `{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"use enc", `{"kty":"OKP","crv":"Ed25519","use":"enc","x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"kid not a string", `{"kty":"OKP","crv":"Ed25519","kid":1,"x":"` + rfc8037X + `"}`, ErrJWKInvalid},
		{"trailing data", ok + `{}`, ErrJWKInvalid},
		{"trailing garbage", ok + `x`, ErrJWKInvalid},
		{"array", `[` + ok + `]`, ErrJWKInvalid},
		{"not JSON", `kty=OKP`, ErrJWKInvalid},
		{"empty", ``, ErrJWKInvalid},
		{"too large", strings.TrimSuffix(ok, "}") + `,"pad":"` + strings.Repeat("a", JWKBytesMax) + `"}`, ErrJWKInvalid},
		{"RSA", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`, ErrJWKUnsupported},
		{"X25519", `{"kty":"OKP","crv":"X25519","x":"` + x32 + `"}`, ErrJWKUnsupported},
		{"Ed448", `{"kty":"OKP","crv":"Ed448","x":"` + x32 + `"}`, ErrJWKUnsupported},
		{"P-384", `{"kty":"EC","crv":"P-384","x":"` + x32 + `","y":"` + x32 + `"}`, ErrJWKUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJWK([]byte(tc.json))
			if got := sigSentinelOf(err); got != tc.want {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			var k JWK
			if err := json.Unmarshal([]byte(tc.json), &k); err == nil {
				t.Fatalf("json.Unmarshal accepted it: %+v", k)
			}
		})
	}
	if _, err := ParseJWK([]byte(" \n" + ok + "\n ")); err != nil {
		t.Errorf("surrounding whitespace: %v", err)
	}
}

func TestThumbprintRejects(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	var nilEC *ecdsa.PublicKey
	for _, tc := range []struct {
		name string
		key  any
		want error
	}{
		{"RSA", &rk.PublicKey, ErrJWKUnsupported},
		{"P-384", &p384.PublicKey, ErrJWKUnsupported},
		{"ECDSA value, not pointer", p384.PublicKey, ErrJWKUnsupported},
		{"nil ECDSA", nilEC, ErrJWKUnsupported},
		{"Ed25519 private key", edPriv, ErrJWKUnsupported},
		{"Ed25519 short", edPub[:31], ErrJWKInvalid},
		{"nil", nil, ErrJWKUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Thumbprint(tc.key)
			if got := sigSentinelOf(err); got != tc.want {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if _, err := json.Marshal(JWK{Key: tc.key}); err == nil {
				t.Fatal("MarshalJSON accepted it")
			}
		})
	}
}

// TestThumbprintKept: an Ed25519 key's thumbprint, once computed, is kept
// and given again for that key only: the RFC 8037 key twice, and keys one
// bit apart each with the thumbprint computed from their own JWK.
func TestThumbprintKept(t *testing.T) {
	raw, err := b64url.DecodeString(rfc8037X)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, err := Thumbprint(ed25519.PublicKey(raw)); err != nil || got != rfc8037Thumbprint {
			t.Fatalf("thumbprint = %s, %v; want %s (RFC 8037 A.3)", got, err, rfc8037Thumbprint)
		}
	}
	for i := range 8 {
		k := bytes.Clone(raw)
		k[i] ^= 1 << i
		canon := `{"crv":"Ed25519","kty":"OKP","x":"` + b64url.EncodeToString(k) + `"}`
		sum := sha256.Sum256([]byte(canon))
		want := b64url.EncodeToString(sum[:])
		for range 2 {
			if got, err := Thumbprint(ed25519.PublicKey(k)); err != nil || got != want {
				t.Fatalf("key %d: thumbprint = %s, %v; want %s", i, got, err, want)
			}
		}
	}
	// The key is copied into the cache's key: changing the caller's slice
	// afterwards does not change what a lookup finds.
	k := bytes.Clone(raw)
	first, _ := Thumbprint(ed25519.PublicKey(k))
	k[0] ^= 0x80
	if again, _ := Thumbprint(ed25519.PublicKey(k)); again == first {
		t.Fatal("a changed key got the thumbprint of the key it was")
	}
}
