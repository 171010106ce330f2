package protocol

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sigAgent is an agent key pair and its keyid.
type sigAgent struct {
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
}

func newSigAgent(t testing.TB) sigAgent {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sigAgent{priv: priv, pub: pub, keyID: id}
}

// sigKeys is a hand-written KeyResolver: registered keys, a revoked set,
// and an optional failure.
type sigKeys struct {
	keys    map[string]crypto.PublicKey
	revoked map[string]bool
	err     error
}

func newSigKeys(agents ...sigAgent) *sigKeys {
	k := &sigKeys{keys: map[string]crypto.PublicKey{}, revoked: map[string]bool{}}
	for _, a := range agents {
		k.keys[a.keyID] = a.pub
	}
	return k
}

func (k *sigKeys) ResolveKey(_ context.Context, keyID string) (crypto.PublicKey, error) {
	if k.err != nil {
		return nil, k.err
	}
	if k.revoked[keyID] {
		return nil, ErrRevokedKey
	}
	pub, ok := k.keys[keyID]
	if !ok {
		return nil, ErrUnknownKey
	}
	return pub, nil
}

var sigTestNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const sigTestURL = "https://api.agentpay.test/v1/transfers?limit=10"

var sigTestBody = []byte(`{"amount":1250,"asset":"USD/2","to":"acct_01HZX3M4Q5R6S7T8V9W0XYZABC"}`)

// sigClientRequest builds a POST of sigTestBody to sigTestURL with a Content-Type and
// an Idempotency-Key.
func sigClientRequest(t testing.TB, body []byte) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, sigTestURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(HeaderIdempotencyKey, "idem-7b1c2d")
	return r
}

// sigReceived sends r through HTTP/1.1 serialization and parsing, as a server
// would receive it, and returns the server-side request and its body.
func sigReceived(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		t.Fatal(err)
	}
	return sr, body
}

func sigSignOpts() SignOptions { return SignOptions{Created: sigTestNow} }

func sigVerifyOpts(keys KeyResolver) VerifyOptions {
	return VerifyOptions{
		Now:    sigTestNow.Add(2 * time.Second),
		Keys:   keys,
		Nonces: NewMemoryNonceCache(64, func() time.Time { return sigTestNow }),
		Scheme: "https",
	}
}

// sigSignedReceived signs a client request with opts, and returns it as received.
func sigSignedReceived(t testing.TB, a sigAgent, body []byte, opts SignOptions) (*http.Request, []byte) {
	t.Helper()
	r := sigClientRequest(t, body)
	if err := SignRequest(r, body, a.priv, opts); err != nil {
		t.Fatalf("SignRequest: %v", err)
	}
	return sigReceived(t, r)
}

func TestSignVerifyRequestRoundTrip(t *testing.T) {
	a := newSigAgent(t)
	r, body := sigSignedReceived(t, a, sigTestBody, sigSignOpts())

	if got, want := r.Header.Get(HeaderContentDigest), ContentDigest(sigTestBody); got != want {
		t.Errorf("Content-Digest = %q, want %q", got, want)
	}
	in := r.Header.Get(HeaderSignatureInput)
	for _, want := range []string{
		`sig1=("@method" "@target-uri" "content-type" "content-digest" "idempotency-key");created=1772366400;expires=1772366700;nonce="`,
		`";keyid="` + a.keyID + `";alg="ed25519";tag="agentpay"`,
	} {
		if !strings.Contains(in, want) {
			t.Errorf("Signature-Input = %s\nlacks %s", in, want)
		}
	}

	v, err := VerifyRequest(r, body, sigVerifyOpts(newSigKeys(a)))
	if err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	if v.KeyID != a.keyID || v.Label != "sig1" || v.Tag != SignatureTagAgentPay || len(v.Nonce) != 22 ||
		!v.Created.Equal(sigTestNow) || !v.Expires.Equal(sigTestNow.Add(SignatureValidityDefault)) ||
		!a.pub.Equal(v.Key) || strings.Join(v.Components, " ") != "@method @target-uri content-type content-digest idempotency-key" {
		t.Errorf("VerifiedRequest = %+v", v)
	}
}

// TestVerifyRequestWithRegisteredKey: a resolver may return a registered
// key as a PublicKey (kept, so it expands on reuse): its requests verify
// as with an ed25519.PublicKey, over many uses; a PublicKey of another
// key is refused as an unknown key, and a tampered request still fails.
func TestVerifyRequestWithRegisteredKey(t *testing.T) {
	a, other := newSigAgent(t), newSigAgent(t)
	pk, err := NewPublicKey(a.pub)
	if err != nil {
		t.Fatal(err)
	}
	opk, _ := NewPublicKey(other.pub)
	keys := newSigKeys()
	keys.keys[a.keyID] = pk
	for i := range expandAfter + 3 {
		r, body := sigSignedReceived(t, a, sigTestBody, sigSignOpts())
		v, err := VerifyRequest(r, body, sigVerifyOpts(keys))
		if err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
		if !a.pub.Equal(v.Key) {
			t.Fatalf("use %d: verified key %v", i, v.Key)
		}
		r, body = sigSignedReceived(t, a, sigTestBody, sigSignOpts())
		r.Header.Set("Content-Type", "text/plain")
		if _, err := VerifyRequest(r, body, sigVerifyOpts(keys)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("use %d: tampered request: %v", i, err)
		}
	}
	if pk.ed.ex == nil {
		t.Fatal("a key used repeatedly was not expanded")
	}
	keys.keys[a.keyID] = opk
	r, body := sigSignedReceived(t, a, sigTestBody, sigSignOpts())
	if _, err := VerifyRequest(r, body, sigVerifyOpts(keys)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("another key under the keyid: %v", err)
	}
}

func TestSignVerifyRequestOverHTTP(t *testing.T) {
	a := newSigAgent(t)
	keys := newSigKeys(a)
	nonces := NewMemoryNonceCache(64, nil)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, SingleRequestBodyBytesMax))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := VerifyRequest(r, body, VerifyOptions{Keys: keys, Nonces: nonces}); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name   string
		method string
		body   []byte
	}{
		{"post with body", http.MethodPost, sigTestBody},
		{"get without body", http.MethodGet, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != nil {
				rd = bytes.NewReader(tc.body)
			}
			r, err := http.NewRequest(tc.method, srv.URL+"/v1/accounts/acct_1?expand=balance", rd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != nil {
				r.Header.Set("Content-Type", "application/json")
			}
			if err := SignRequest(r, tc.body, a.priv, SignOptions{}); err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d: %s", resp.StatusCode, msg)
			}
		})
	}
}

// TestVerifyRequestFailures covers every rejection with the sentinel it wraps.
func TestVerifyRequestFailures(t *testing.T) {
	a := newSigAgent(t)
	other := newSigAgent(t)

	type mutate func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions)
	cases := []struct {
		name   string
		sign   SignOptions
		mutate mutate
		want   error
	}{
		{"body changed after signing", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			*body = bytes.Replace(*body, []byte("1250"), []byte("9250"), 1)
		}, ErrDigestMismatch},
		{"body appended after signing", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			*body = append(*body, ' ')
		}, ErrDigestMismatch},
		{"content-digest field replaced by digest of new body", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			*body = []byte(`{"amount":999999}`)
			r.Header.Set(HeaderContentDigest, ContentDigest(*body))
		}, ErrBadSignature},
		{"content-digest not covered", SignOptions{Created: sigTestNow, Components: []string{"@method", "@target-uri", "content-type", "idempotency-key"}}, nil, ErrComponentMissing},
		{"content-type not covered", SignOptions{Created: sigTestNow, Components: []string{"@method", "@target-uri", "content-digest", "idempotency-key"}}, nil, ErrComponentMissing},
		{"method not covered", SignOptions{Created: sigTestNow, Components: []string{"@target-uri", "content-type", "content-digest", "idempotency-key"}}, nil, ErrComponentMissing},
		{"target not covered", SignOptions{Created: sigTestNow, Components: []string{"@method", "@authority", "@path", "content-type", "content-digest", "idempotency-key"}}, nil, ErrComponentMissing},
		{"idempotency-key not covered", SignOptions{Created: sigTestNow, Components: []string{"@method", "@target-uri", "content-type", "content-digest"}}, nil, ErrComponentMissing},
		{"authority+path+query instead of target-uri is accepted", SignOptions{Created: sigTestNow, Components: []string{"@method", "@authority", "@path", "@query", "content-type", "content-digest", "idempotency-key"}}, nil, nil},
		{"covered field removed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Del(HeaderContentDigest)
		}, ErrComponentMissing},
		{"required component from options", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.RequiredComponents = []string{"@method", "date"}
		}, ErrComponentMissing},
		{"expired", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Now = sigTestNow.Add(SignatureValidityDefault + ClockSkewMaxDefault + time.Second)
		}, ErrSignatureExpired},
		{"expires within skew is accepted", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Now = sigTestNow.Add(SignatureValidityDefault + ClockSkewMaxDefault)
		}, nil},
		{"older than max age", SignOptions{Created: sigTestNow, Validity: time.Hour}, func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Now = sigTestNow.Add(10 * time.Minute)
		}, ErrSignatureExpired},
		{"created in the future beyond skew", SignOptions{Created: sigTestNow.Add(2 * time.Minute)}, nil, ErrSignatureNotYetValid},
		{"created in the future within skew", SignOptions{Created: sigTestNow.Add(50 * time.Second)}, nil, nil},
		{"unknown key", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Keys = newSigKeys(other)
		}, ErrUnknownKey},
		{"revoked key", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			k := newSigKeys(a)
			k.revoked[a.keyID] = true
			o.Keys = k
		}, ErrRevokedKey},
		{"resolver returns another key for the keyid", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Keys = &sigKeys{keys: map[string]crypto.PublicKey{a.keyID: other.pub}}
		}, ErrUnknownKey},
		{"resolver returns an ECDSA key", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			o.Keys = &sigKeys{keys: map[string]crypto.PublicKey{a.keyID: &ec.PublicKey}}
		}, ErrUnsupportedAlgorithm},
		{"wrong tag", SignOptions{Created: sigTestNow, Tag: "web-bot-auth"}, nil, ErrWrongTag},
		{"wrong tag for the label asked", SignOptions{Created: sigTestNow, Tag: "web-bot-auth"}, func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Label = "sig1"
		}, ErrWrongTag},
		{"other expected tag", SignOptions{Created: sigTestNow, Tag: "agent-payer-auth"}, func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Tag = "agent-payer-auth"
		}, nil},
		{"label not present", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Label = "sig2"
		}, ErrSignatureMissing},
		{"no expires", SignOptions{Created: sigTestNow, OmitExpires: true}, nil, ErrSignatureParamsInvalid},
		{"no nonce", SignOptions{Created: sigTestNow, OmitNonce: true}, nil, ErrSignatureParamsInvalid},
		{"no nonce, allowed", SignOptions{Created: sigTestNow, OmitNonce: true}, func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.AllowMissingNonce = true
		}, nil},
		{"no alg is accepted", SignOptions{Created: sigTestNow, OmitAlg: true}, nil, nil},
		{"keyid not a thumbprint", SignOptions{Created: sigTestNow, KeyID: "agent-key-1"}, nil, ErrSignatureParamsInvalid},
		{"method changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Method = http.MethodPut
		}, ErrBadSignature},
		{"path changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.RequestURI = "/v1/transfers/x?limit=10"
		}, ErrBadSignature},
		{"query changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.RequestURI = "/v1/transfers?limit=11"
		}, ErrBadSignature},
		{"host changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Host = "evil.example"
		}, ErrBadSignature},
		{"host case and default port are normalized", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Host = "API.AgentPay.test:443"
		}, nil},
		{"scheme differs (server thinks http)", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Scheme = ""
		}, ErrBadSignature},
		{"idempotency key changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Set(HeaderIdempotencyKey, "idem-other")
		}, ErrBadSignature},
		{"signature bytes changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			s := r.Header.Get(HeaderSignature)
			i := strings.Index(s, ":") + 1
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			r.Header.Set(HeaderSignature, s[:i]+string(c)+s[i+1:])
		}, ErrBadSignature},
		{"signature parameters changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			in := r.Header.Get(HeaderSignatureInput)
			r.Header.Set(HeaderSignatureInput, strings.Replace(in, "expires=1772366700", "expires=1772366701", 1))
		}, ErrBadSignature},
		{"component order changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			in := r.Header.Get(HeaderSignatureInput)
			r.Header.Set(HeaderSignatureInput, strings.Replace(in, `"@method" "@target-uri"`, `"@target-uri" "@method"`, 1))
		}, ErrBadSignature},
		{"alg changed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			in := r.Header.Get(HeaderSignatureInput)
			r.Header.Set(HeaderSignatureInput, strings.Replace(in, `alg="ed25519"`, `alg="rsa-pss-sha512"`, 1))
		}, ErrUnsupportedAlgorithm},
		{"signature field removed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Del(HeaderSignature)
		}, ErrSignatureMissing},
		{"signature-input field removed", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Del(HeaderSignatureInput)
		}, ErrSignatureMissing},
		{"signature label differs", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Set(HeaderSignature, strings.Replace(r.Header.Get(HeaderSignature), "sig1=", "sig2=", 1))
		}, ErrSignatureMissing},
		{"Signature-Input too large", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Add(HeaderSignatureInput, "pad="+`"`+strings.Repeat("x", SignatureHeaderBytesMax)+`"`)
		}, ErrSignatureMalformed},
		{"a second, foreign signature first", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			r.Header.Set(HeaderSignatureInput, `foreign=("@method");created=1;keyid="x";tag="web-bot-auth", `+r.Header.Get(HeaderSignatureInput))
			r.Header.Set(HeaderSignature, `foreign=:AAAA:, `+r.Header.Get(HeaderSignature))
		}, nil},
		{"signatures over two field lines each", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			in, sig := r.Header.Get(HeaderSignatureInput), r.Header.Get(HeaderSignature)
			r.Header.Set(HeaderSignatureInput, `foreign=("@method");created=1;keyid="x";tag="web-bot-auth"`)
			r.Header.Add(HeaderSignatureInput, in)
			r.Header.Set(HeaderSignature, `foreign=:AAAA:`)
			r.Header.Add(HeaderSignature, sig)
		}, nil},
		{"resolver fails", sigSignOpts(), func(t *testing.T, r *http.Request, body *[]byte, o *VerifyOptions) {
			o.Keys = &sigKeys{err: errors.New("registry unavailable")}
		}, errSigOperating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, body := sigSignedReceived(t, a, sigTestBody, tc.sign)
			o := sigVerifyOpts(newSigKeys(a))
			if tc.mutate != nil {
				tc.mutate(t, r, &body, &o)
			}
			_, err := VerifyRequest(r, body, o)
			checkSigErr(t, err, tc.want)
		})
	}
}

// errSigOperating stands for "an error that wraps no sentinel".
var errSigOperating = errors.New("operating error")

// sigSentinels are every sentinel error of this file set.
var sigSentinels = []error{
	ErrSignatureMissing, ErrSignatureMalformed, ErrSignatureParamsInvalid, ErrSignatureExpired,
	ErrSignatureNotYetValid, ErrWrongTag, ErrComponentMissing, ErrComponentUnsupported,
	ErrUnsupportedAlgorithm, ErrUnknownKey, ErrRevokedKey, ErrBadSignature, ErrNonceReplayed,
	ErrNonceCacheFull, ErrDigestMissing, ErrDigestMalformed, ErrDigestUnsupported, ErrDigestMismatch,
	ErrJWKInvalid, ErrJWKUnsupported,
}

// sigSentinelOf returns the one sentinel err wraps, or nil.
func sigSentinelOf(err error) error {
	var found error
	for _, s := range sigSentinels {
		if errors.Is(err, s) {
			if found != nil {
				return errors.New("wraps both " + found.Error() + " and " + s.Error())
			}
			found = s
		}
	}
	return found
}

func checkSigErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("error = %v, want nil", err)
	case want == nil:
	case err == nil:
		t.Fatalf("error = nil, want %v", want)
	case want == errSigOperating:
		if s := sigSentinelOf(err); s != nil {
			t.Fatalf("error = %v, wraps sentinel %v, want an operating error", err, s)
		}
	default:
		if got := sigSentinelOf(err); got != want {
			t.Fatalf("error = %v\n(sentinel %v), want %v", err, got, want)
		}
	}
}

func TestVerifyRequestNonceReplay(t *testing.T) {
	a := newSigAgent(t)
	r, body := sigSignedReceived(t, a, sigTestBody, sigSignOpts())
	o := sigVerifyOpts(newSigKeys(a))

	// A forged copy must not burn the genuine nonce.
	forged := r.Clone(context.Background())
	forged.Header.Set(HeaderSignature, "sig1=:"+strings.Repeat("A", 86)+"==:")
	if _, err := VerifyRequest(forged, body, o); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: error = %v, want ErrBadSignature", err)
	}
	if _, err := VerifyRequest(r, body, o); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := VerifyRequest(r, body, o); !errors.Is(err, ErrNonceReplayed) {
		t.Fatalf("replay: error = %v, want ErrNonceReplayed", err)
	}
	// Another agent may use the same nonce string.
	b := newSigAgent(t)
	nonce := strings.Split(strings.Split(r.Header.Get(HeaderSignatureInput), `nonce="`)[1], `"`)[0]
	r2, body2 := sigSignedReceived(t, b, sigTestBody, SignOptions{Created: sigTestNow, Nonce: nonce})
	o.Keys = newSigKeys(a, b)
	if _, err := VerifyRequest(r2, body2, o); err != nil {
		t.Fatalf("same nonce, other agent: %v", err)
	}
}

func TestVerifyRequestMalformedHeaders(t *testing.T) {
	a := newSigAgent(t)
	good, body := sigSignedReceived(t, a, sigTestBody, sigSignOpts())
	goodIn, goodSig := good.Header.Get(HeaderSignatureInput), good.Header.Get(HeaderSignature)
	params := goodIn[strings.Index(goodIn, ")")+1:]
	cases := []struct {
		name, input, sig string
		want             error
	}{
		{"empty input", "", goodSig, ErrSignatureMissing},
		{"not a dictionary", "sig1", goodSig, ErrSignatureMalformed},
		{"input is an item", `sig1="@method"`, goodSig, ErrSignatureMalformed},
		{"unclosed inner list", `sig1=("@method"`, goodSig, ErrSignatureMalformed},
		{"component is a token", `sig1=(@method)` + params, goodSig, ErrSignatureMalformed},
		{"component with parameter", `sig1=("content-type";sf "@method")` + params, goodSig, ErrComponentUnsupported},
		{"component uppercase", `sig1=("Content-Type")` + params, goodSig, ErrComponentUnsupported},
		{"component @query-param", `sig1=("@query-param")` + params, goodSig, ErrComponentUnsupported},
		{"component @status", `sig1=("@status")` + params, goodSig, ErrComponentUnsupported},
		{"component @signature-params", `sig1=("@signature-params")` + params, goodSig, ErrComponentUnsupported},
		{"component twice", `sig1=("@method" "@method")` + params, goodSig, ErrComponentUnsupported},
		{"too many components", `sig1=(` + strings.Repeat(`"a" `, ComponentsPerSignatureMax) + `"b")` + params, goodSig, ErrSignatureMalformed},
		{"created is a string", `sig1=("@method");created="1";tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"created negative", `sig1=("@method");created=-1;tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"created missing", `sig1=("@method");keyid="` + a.keyID + `";tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"keyid missing", `sig1=("@method");created=1772366400;tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"keyid a token", `sig1=("@method");created=1772366400;keyid=abc;tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"expires before created", `sig1=("@method");created=1772366400;expires=1772366300;nonce="0123456789abcdef";keyid="` + a.keyID + `";tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"nonce too short", `sig1=("@method");created=1772366400;expires=1772366500;nonce="abc";keyid="` + a.keyID + `";tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"nonce an integer", `sig1=("@method");created=1772366400;nonce=5;keyid="` + a.keyID + `";tag="agentpay"`, goodSig, ErrSignatureParamsInvalid},
		{"repeated parameter", `sig1=("@method");created=1;created=2`, goodSig, ErrSignatureMalformed},
		{"repeated label", goodIn + ", " + goodIn, goodSig, ErrSignatureMalformed},
		{"too many signatures", strings.Repeat(`a=("@method"), `, SignaturesPerRequestMax) + goodIn, goodSig, ErrSignatureMalformed},
		{"trailing comma", goodIn + ",", goodSig, ErrSignatureMalformed},
		{"non-ASCII", goodIn + ", x=\"é\"", goodSig, ErrSignatureMalformed},
		{"newline", goodIn + "\n", goodSig, ErrSignatureMalformed},
		{"date item (RFC 9651)", goodIn + ", x=@1", goodSig, ErrSignatureMalformed},
		{"signature not bytes", goodIn, `sig1="abc"`, ErrSignatureMalformed},
		{"signature inner list", goodIn, `sig1=(:AAAA:)`, ErrSignatureMalformed},
		{"signature bad base64", goodIn, `sig1=:*AAA:`, ErrSignatureMalformed},
		{"signature bad padding", goodIn, `sig1=:AA=A:`, ErrSignatureMalformed},
		{"signature unclosed", goodIn, `sig1=:AAAA`, ErrSignatureMalformed},
		{"signature too short", goodIn, `sig1=:AAAA:`, ErrBadSignature},
		{"signature empty", goodIn, `sig1=::`, ErrBadSignature},
		{"signature missing", goodIn, `other=:AAAA:`, ErrSignatureMissing},
		{"input whitespace is not signed", strings.Replace(goodIn, `" "`, `"   "`, 1), goodSig, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := good.Clone(context.Background())
			r.Header.Set(HeaderSignatureInput, tc.input)
			r.Header.Set(HeaderSignature, tc.sig)
			o := sigVerifyOpts(newSigKeys(a))
			_, err := VerifyRequest(r, body, o)
			checkSigErr(t, err, tc.want)
		})
	}
}

func TestSignRequestErrors(t *testing.T) {
	a := newSigAgent(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		signer RequestSigner
		prep   func(r *http.Request) []byte
		opts   SignOptions
		want   error
	}{
		{"ECDSA signer", ec, nil, SignOptions{}, ErrUnsupportedAlgorithm},
		{"body without content type", a.priv, func(r *http.Request) []byte { r.Header.Del("Content-Type"); return sigTestBody }, SignOptions{}, ErrComponentMissing},
		{"covered field absent", a.priv, nil, SignOptions{Components: []string{"@method", "content-digest", "date"}}, ErrComponentMissing},
		{"unsupported component", a.priv, nil, SignOptions{Components: []string{"@status"}}, ErrComponentUnsupported},
		{"uppercase component", a.priv, nil, SignOptions{Components: []string{"Date"}}, ErrComponentUnsupported},
		{"control byte in a value", a.priv, func(r *http.Request) []byte { r.Header.Set("X-Note", "a\x01b"); return sigTestBody }, SignOptions{Components: []string{"x-note"}}, ErrComponentUnsupported},
		{"bad label", a.priv, nil, SignOptions{Label: "Sig"}, ErrSignatureParamsInvalid},
		{"short nonce", a.priv, nil, SignOptions{Nonce: "abc"}, ErrSignatureParamsInvalid},
		{"nonce with a control byte", a.priv, nil, SignOptions{Nonce: "0123456789abcdef\x00"}, ErrSignatureParamsInvalid},
		{"negative validity", a.priv, nil, SignOptions{Validity: -time.Second}, ErrSignatureParamsInvalid},
		{"body length differs", a.priv, func(r *http.Request) []byte { return sigTestBody[1:] }, SignOptions{}, errSigOperating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sigClientRequest(t, sigTestBody)
			body := sigTestBody
			if tc.prep != nil {
				body = tc.prep(r)
			}
			err := SignRequest(r, body, tc.signer, tc.opts)
			checkSigErr(t, err, tc.want)
			if r.Header.Get(HeaderSignature) != "" || r.Header.Get(HeaderSignatureInput) != "" || r.Header.Get(HeaderContentDigest) != "" {
				t.Errorf("fields set despite the error: %v", r.Header)
			}
		})
	}
}

// TestRequestViewDerivedComponents checks the derived components of client and server
// requests, including absolute-form targets and empty paths.
func TestRequestViewDerivedComponents(t *testing.T) {
	get := func(v requestView, c string) string {
		s, err := v.componentValue(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		return s
	}
	cr, _ := http.NewRequest(http.MethodGet, "HTTPS://Example.COM:443", nil)
	cv, err := newRequestView(cr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := get(cv, "@target-uri"); got != "https://example.com/" {
		t.Errorf("client @target-uri = %q", got)
	}
	if get(cv, "@path") != "/" || get(cv, "@query") != "?" || get(cv, "@request-target") != "/" || get(cv, "@scheme") != "https" {
		t.Errorf("client path/query/target/scheme = %q %q %q %q", get(cv, "@path"), get(cv, "@query"), get(cv, "@request-target"), get(cv, "@scheme"))
	}

	sr, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET http://proxy.example:8080/a%20b?x=1&y HTTP/1.1\r\nHost: proxy.example:8080\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	sv, err := newRequestView(sr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := get(sv, "@target-uri"); got != "http://proxy.example:8080/a%20b?x=1&y" {
		t.Errorf("server @target-uri = %q", got)
	}
	if got := get(sv, "@authority"); got != "proxy.example:8080" {
		t.Errorf("server @authority = %q", got)
	}
	if got := get(sv, "host"); got != "proxy.example:8080" {
		t.Errorf("server host = %q", got)
	}
	for _, tc := range []struct{ in, scheme, want string }{
		{"Example.com:80", "http", "example.com"},
		{"example.com:443", "http", "example.com:443"},
		{"[2001:DB8::1]:443", "https", "[2001:db8::1]"},
		{"[2001:db8::1]:8443", "https", "[2001:db8::1]:8443"},
		{"example.com:", "https", "example.com"},
	} {
		if got := normalizeAuthority(tc.in, tc.scheme); got != tc.want {
			t.Errorf("normalizeAuthority(%q, %q) = %q, want %q", tc.in, tc.scheme, got, tc.want)
		}
	}
}

// TestVerifyRequestContentLength covers a signature over content-length
// made on a client request (from ContentLength) and verified on the server
// (from the field).
func TestVerifyRequestContentLength(t *testing.T) {
	a := newSigAgent(t)
	opts := sigSignOpts()
	opts.Components = []string{"@method", "@target-uri", "content-type", "content-digest", "content-length", "idempotency-key"}
	r, body := sigSignedReceived(t, a, sigTestBody, opts)
	if _, err := VerifyRequest(r, body, sigVerifyOpts(newSigKeys(a))); err != nil {
		t.Fatal(err)
	}
}
