package protocol

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const rfc9421Dir = "testdata/rfc9421"

func readRFC9421(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rfc9421Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rfc9421PEM(t testing.TB, name string) []byte {
	t.Helper()
	block, rest := pem.Decode(readRFC9421(t, name))
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: want exactly one PEM block", name)
	}
	return block.Bytes
}

// rfc9421Key returns the test-key-ed25519 key pair of RFC 9421 Appendix B.1.4.
func rfc9421Key(t testing.TB) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(rfc9421PEM(t, "test-key-ed25519.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("private key is %T", k)
	}
	p, err := x509.ParsePKIXPublicKey(rfc9421PEM(t, "test-key-ed25519.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := p.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("public key is %T", p)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("the B.1.4 public key is not the private key's")
	}
	return priv, pub
}

// rfc9421Request returns the test-request of RFC 9421 Appendix B.2 as a
// server receives it, and its body.
func rfc9421Request(t testing.TB) (*http.Request, []byte) {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(readRFC9421(t, "test-request.http"))))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"hello": "world"}` {
		t.Fatalf("body = %q", body)
	}
	return r, body
}

var rfcB26Components = []string{"date", "@method", "@path", "@authority", "content-type", "content-length"}

// TestRFC9421B26 checks the implementation against RFC 9421 Appendix B.2.6,
// "Signing a Request Using ed25519": signature base byte for byte, the
// (deterministic) signature, the Signature-Input SignRequest writes, and
// verification of the RFC's own fields.
func TestRFC9421B26(t *testing.T) {
	priv, pub := rfc9421Key(t)
	wantBase := readRFC9421(t, "b26-signature-base.txt")
	wantInput := string(readRFC9421(t, "b26-signature-input.txt"))
	wantSigField := string(readRFC9421(t, "b26-signature.txt"))
	wantSig, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(wantSigField, "sig-b26=:"), ":"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("signature base", func(t *testing.T) {
		r, _ := rfc9421Request(t)
		members, err := sfParseDictionary(wantInput)
		if err != nil || len(members) != 1 {
			t.Fatalf("parse Signature-Input: %v", err)
		}
		p, err := readSignatureParams(members[0])
		if err != nil {
			t.Fatal(err)
		}
		var sp strings.Builder
		if err := sfWriteInnerList(&sp, members[0].Inner, members[0].Params); err != nil {
			t.Fatal(err)
		}
		view, err := newRequestView(r, "", "")
		if err != nil {
			t.Fatal(err)
		}
		base, err := signatureBase(view, p.components, sp.String())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(base, wantBase) {
			t.Fatalf("signature base:\n%s\nwant:\n%s", base, wantBase)
		}
		if got := ed25519.Sign(priv, base); !bytes.Equal(got, wantSig) {
			t.Errorf("signature = %s, want the RFC's %s", base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(wantSig))
		}
		if !ed25519.Verify(pub, wantBase, wantSig) {
			t.Error("the RFC's signature does not verify over the RFC's base")
		}
	})

	t.Run("VerifyRequest accepts the RFC fields", func(t *testing.T) {
		r, body := rfc9421Request(t)
		r.Header.Set(HeaderSignatureInput, wantInput)
		r.Header.Set(HeaderSignature, wantSigField)
		keys := KeyResolverFunc(func(_ context.Context, keyID string) (crypto.PublicKey, error) {
			if keyID != "test-key-ed25519" {
				return nil, ErrUnknownKey
			}
			return pub, nil
		})
		opts := VerifyOptions{
			Now:                 time.Unix(1618884473, 0).Add(10 * time.Second),
			Keys:                keys,
			RequiredComponents:  rfcB26Components,
			AllowMissingExpires: true,
			AllowMissingNonce:   true,
			AllowOpaqueKeyID:    true,
			AllowAnyTag:         true,
			AllowUnsignedBody:   true, // B.2.6 does not cover content-digest
		}
		v, err := VerifyRequest(r, body, opts)
		if err != nil {
			t.Fatalf("VerifyRequest: %v", err)
		}
		if v.Label != "sig-b26" || v.KeyID != "test-key-ed25519" || v.Created.Unix() != 1618884473 {
			t.Errorf("VerifiedRequest = %+v", v)
		}
		// The profile proper refuses it: no expires, no nonce, opaque keyid.
		strict := VerifyOptions{Now: opts.Now, Keys: keys, Nonces: NewMemoryNonceCache(8, nil), AllowAnyTag: true}
		if _, err := VerifyRequest(r, body, strict); !errors.Is(err, ErrSignatureParamsInvalid) {
			t.Errorf("strict VerifyRequest error = %v, want ErrSignatureParamsInvalid", err)
		}
		// One changed covered byte breaks it.
		r.Header.Set("Content-Type", "application/json ")
		r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:56 GMT")
		if _, err := VerifyRequest(r, body, opts); !errors.Is(err, ErrBadSignature) {
			t.Errorf("after changing Date: error = %v, want ErrBadSignature", err)
		}
	})

	t.Run("SignRequest reproduces the RFC fields", func(t *testing.T) {
		_, body := rfc9421Request(t)
		r, err := http.NewRequest(http.MethodPost, "http://example.com/foo?param=Value&Pet=dog", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
		r.Header.Set("Content-Type", "application/json")
		err = SignRequest(r, body, priv, SignOptions{
			Label:       "sig-b26",
			Components:  rfcB26Components,
			Created:     time.Unix(1618884473, 0),
			KeyID:       "test-key-ed25519",
			OmitExpires: true, OmitNonce: true, OmitAlg: true, OmitTag: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Get(HeaderSignatureInput); got != wantInput {
			t.Errorf("Signature-Input = %s\nwant %s", got, wantInput)
		}
		if got := r.Header.Get(HeaderSignature); got != wantSigField {
			t.Errorf("Signature = %s\nwant %s", got, wantSigField)
		}
		if got := r.Header.Get(HeaderContentDigest); got != "" {
			t.Errorf("Content-Digest set to %q though not covered", got)
		}
	})

	t.Run("test-request Content-Digest (sha-512)", func(t *testing.T) {
		r, body := rfc9421Request(t)
		if err := VerifyContentDigest(r.Header.Get(HeaderContentDigest), body); err != nil {
			t.Fatalf("VerifyContentDigest: %v", err)
		}
		if err := VerifyContentDigest(r.Header.Get(HeaderContentDigest), append(body, '\n')); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("changed body: error = %v, want ErrDigestMismatch", err)
		}
	})
}
