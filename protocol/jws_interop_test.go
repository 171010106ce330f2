package protocol

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// The ACT JWS profile is plain RFC 7515 compact serialization: an
// independent implementation (go-jose) verifies what Sign produces, and
// what go-jose signs with the same header verifies here (Ed25519, and
// ES256 with go-jose's R||S signatures).

func TestGoJoseVerifiesACT(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	raw := w.sign(w.user, w.credential())
	obj, err := jose.ParseSignedCompact(string(raw), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := obj.Verify(w.user.Public())
	if err != nil {
		t.Fatalf("go-jose refuses an ACT signature: %v", err)
	}
	if len(payload) == 0 || obj.Signatures[0].Header.KeyID != w.user.KeyID() {
		t.Fatal("go-jose read another payload or kid")
	}
	if typ, _ := obj.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); typ != KindAgentCredential.Typ() {
		t.Fatalf("typ %q", typ)
	}
}

func TestACTVerifiesGoJose(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublicKey(&p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.keys.Add("usr_dave", PartyUser, pub); err != nil {
		t.Fatal(err)
	}
	cred := w.credential()
	dave := w.credential()
	dave.Issuer = "usr_dave"
	for _, c := range []struct {
		name string
		key  jose.SigningKey
		kid  string
		obj  Object
	}{
		{"EdDSA", jose.SigningKey{Algorithm: jose.EdDSA, Key: ed25519.NewKeyFromSeed(w.user.Seed())}, w.user.KeyID(), cred},
		{"ES256", jose.SigningKey{Algorithm: jose.ES256, Key: p256}, pub.KeyID(), dave},
	} {
		opts := (&jose.SignerOptions{}).WithType(jose.ContentType(KindAgentCredential.Typ())).WithHeader(jose.HeaderKey("kid"), c.kid)
		signer, err := jose.NewSigner(c.key, opts)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := signer.Sign(payloadOf(t, c.obj))
		if err != nil {
			t.Fatal(err)
		}
		s, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyAgentCredential(actCtx, w.vc(platformID), []byte(s)); err != nil {
			t.Errorf("%s: ACT refuses a go-jose signature: %v", c.name, err)
		}
	}
}
