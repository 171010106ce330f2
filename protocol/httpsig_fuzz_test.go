package protocol

// Fuzz targets for every parser and verifier of agent request signing. Each
// asserts that the function never panics and returns either a valid result
// or an error wrapping exactly one sentinel. Run one with, for example,
//
//	go test ./protocol -run '^$' -fuzz '^FuzzVerifyRequest$' -fuzztime 10s

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// checkSigFuzzErr fails unless err wraps exactly one of want.
func checkSigFuzzErr(t *testing.T, err error, want ...error) {
	t.Helper()
	s := sigSentinelOf(err)
	for _, w := range want {
		if s == w {
			return
		}
	}
	t.Fatalf("error %v wraps %v, want one of %v", err, s, want)
}

func FuzzSFDictionary(f *testing.F) {
	for _, s := range []string{
		`sig1=("@method" "@target-uri" "content-digest");created=1618884473;expires=1618884773;nonce="abc";keyid="k";alg="ed25519";tag="agentpay"`,
		`sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`,
		`sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:, sha-512=:YQ:`,
		`a=?0, b, c;foo=bar, d=(1 2.5 "x" tok :YQ==:);p=-3`,
		`x=1.000, y="a\"b"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := sfParseDictionary(s)
		if err != nil {
			return
		}
		out, err := sfSerializeDictionary(m)
		if err != nil {
			t.Fatalf("parsed %q but cannot serialize it: %v", s, err)
		}
		m2, err := sfParseDictionary(out)
		if err != nil {
			t.Fatalf("serialization %q of %q does not parse: %v", out, s, err)
		}
		out2, err := sfSerializeDictionary(m2)
		if err != nil || out2 != out {
			t.Fatalf("serialization not canonical: %q then %q (%v)", out, out2, err)
		}
	})
}

func FuzzSignatureFields(f *testing.F) {
	f.Add(`sig1=("@method" "@target-uri" "content-type" "content-digest");created=1772366400;expires=1772366700;nonce="0123456789abcdefgh";keyid="kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";alg="ed25519";tag="agentpay"`,
		`sig1=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`)
	f.Add(`sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
		`sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`)
	f.Add(`a=("x";sf), b=1`, `a=:AA:, b=?1`)
	f.Fuzz(func(t *testing.T, input, sig string) {
		h := http.Header{}
		h.Set(HeaderSignatureInput, input)
		h.Set(HeaderSignature, sig)
		inputs, sigs, err := parseSignatureFields(h)
		if err != nil {
			checkSigFuzzErr(t, err, ErrSignatureMissing, ErrSignatureMalformed)
			return
		}
		in, err := selectSignature(inputs, "", SignatureTagAgentPay, true)
		if err != nil {
			checkSigFuzzErr(t, err, ErrSignatureMalformed)
			return
		}
		if _, err := signatureValue(sigs, in.Key); err != nil {
			checkSigFuzzErr(t, err, ErrSignatureMissing, ErrSignatureMalformed)
		}
		p, err := readSignatureParams(in)
		if err != nil {
			checkSigFuzzErr(t, err, ErrSignatureMalformed, ErrSignatureParamsInvalid, ErrComponentUnsupported, ErrUnsupportedAlgorithm)
			return
		}
		if err := checkComponents(p.components); err != nil {
			checkSigFuzzErr(t, err, ErrSignatureMalformed, ErrComponentUnsupported)
		}
	})
}

func FuzzContentDigest(f *testing.F) {
	f.Add(rfc9530ItemSHA256, []byte(rfc9530Item))
	f.Add(rfc9530ItemSHA512, []byte(rfc9530Item))
	f.Add(rfc9530Section2Both, []byte(rfc9530Item))
	f.Add("md5=:AAAA:, "+rfc9530EmptySHA256, []byte{})
	f.Add("sha-256=abc", []byte("x"))
	f.Fuzz(func(t *testing.T, field string, body []byte) {
		err := VerifyContentDigest(field, body)
		if err != nil {
			checkSigFuzzErr(t, err, ErrDigestMissing, ErrDigestMalformed, ErrDigestUnsupported, ErrDigestMismatch)
			return
		}
		// A field that matched a body must not match a different body.
		if err := VerifyContentDigest(field, append(body[:len(body):len(body)], 'x')); sigSentinelOf(err) != ErrDigestMismatch {
			t.Fatalf("field %q matched %q and then %q: %v", field, body, append(body, 'x'), err)
		}
	})
}

func FuzzParseJWK(f *testing.F) {
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7517X + `","y":"` + rfc7517Y + `","kid":"1","alg":"ES256","use":"sig"}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"` + rfc8037X + `"}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseJWK(data)
		if err != nil {
			checkSigFuzzErr(t, err, ErrJWKInvalid, ErrJWKUnsupported)
			return
		}
		tp, err := k.Thumbprint()
		if err != nil || len(tp) != thumbprintBytes {
			t.Fatalf("parsed %q but thumbprint %q, %v", data, tp, err)
		}
		out, err := json.Marshal(k)
		if err != nil {
			t.Fatalf("parsed %q but cannot marshal it: %v", data, err)
		}
		k2, err := ParseJWK(out)
		if err != nil {
			t.Fatalf("marshalled %q does not parse: %v", out, err)
		}
		if tp2, _ := k2.Thumbprint(); tp2 != tp || k2.KeyID != k.KeyID || k2.Algorithm != k.Algorithm || k2.Use != k.Use {
			t.Fatalf("round trip of %q changed it to %q", data, out)
		}
	})
}

// fuzzAgent is a fixed agent key, so that seeds stay valid across runs.
var sigFuzzAgentKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func FuzzVerifyRequest(f *testing.F) {
	pub := sigFuzzAgentKey.Public().(ed25519.PublicKey)
	keyID, err := Thumbprint(pub)
	if err != nil {
		f.Fatal(err)
	}
	created := time.Unix(1772366400, 0)
	// Seed with a valid signed request, and a few variants.
	seed := func(method string, body []byte, opts SignOptions) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		r, err := http.NewRequest(method, sigTestURL, rd)
		if err != nil {
			f.Fatal(err)
		}
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		r.Header.Set(HeaderIdempotencyKey, "idem-1")
		opts.Created = created
		opts.Rand = bytes.NewReader(bytes.Repeat([]byte{1}, 64))
		if err := SignRequest(r, body, sigFuzzAgentKey, opts); err != nil {
			f.Fatal(err)
		}
		f.Add(method, r.URL.RequestURI(), r.URL.Host, r.Header.Get(HeaderSignatureInput), r.Header.Get(HeaderSignature),
			r.Header.Get(HeaderContentDigest), r.Header.Get("Content-Type"), r.Header.Get(HeaderIdempotencyKey), body)
	}
	seed(http.MethodPost, sigTestBody, SignOptions{})
	seed(http.MethodGet, nil, SignOptions{})
	seed(http.MethodPost, sigTestBody, SignOptions{Components: []string{"@method", "@authority", "@path", "@query", "@scheme", "@request-target", "content-type", "content-digest", "idempotency-key", "host"}})

	keys := KeyResolverFunc(func(_ context.Context, id string) (crypto.PublicKey, error) {
		if id != keyID {
			return nil, ErrUnknownKey
		}
		return pub, nil
	})
	f.Fuzz(func(t *testing.T, method, target, host, sigInput, sig, contentDigest, contentType, idem string, body []byte) {
		r := &http.Request{Method: method, RequestURI: target, URL: &url.URL{}, Host: host, Header: http.Header{}}
		for name, v := range map[string]string{
			HeaderSignatureInput: sigInput, HeaderSignature: sig, HeaderContentDigest: contentDigest,
			"Content-Type": contentType, HeaderIdempotencyKey: idem,
		} {
			if v != "" {
				r.Header.Set(name, v)
			}
		}
		v, err := VerifyRequest(r, body, VerifyOptions{
			Now:    created.Add(time.Second),
			Keys:   keys,
			Nonces: NewMemoryNonceCache(4, func() time.Time { return created }),
			Scheme: "https",
		})
		if err != nil {
			checkSigFuzzErr(t, err, ErrSignatureMissing, ErrSignatureMalformed, ErrSignatureParamsInvalid, ErrWrongTag,
				ErrSignatureExpired, ErrSignatureNotYetValid, ErrComponentMissing, ErrComponentUnsupported,
				ErrUnsupportedAlgorithm, ErrUnknownKey, ErrDigestMissing, ErrDigestMalformed, ErrDigestUnsupported,
				ErrDigestMismatch, ErrBadSignature)
			return
		}
		if v.KeyID != keyID || !pub.Equal(v.Key) || v.Tag != SignatureTagAgentPay || len(v.Nonce) < NonceBytesMin {
			t.Fatalf("accepted with %+v", v)
		}
		if len(body) > 0 {
			if err := VerifyContentDigest(contentDigest, body); err != nil {
				t.Fatalf("accepted a body its Content-Digest does not match: %v", err)
			}
		}
	})
}
