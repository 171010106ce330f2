package protocol

import (
	"compress/gzip"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// edCase is one verification: a key, a message and a signature.
type edCase struct {
	name          string
	pub, msg, sig []byte
	want          string // "valid", "invalid" or "" (no stated result)
}

func readGzipJSON(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ed25519", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(z).Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edVectors loads the published edge-case vectors: C2SP ed25519vectors
// (every combination of small-order and non-canonical A and R), the 12
// cases of "Taming the many EdDSAs" and Wycheproof's EdDSA tests.
func edVectors(t testing.TB) []edCase {
	var out []edCase
	var c2sp []struct{ A, R, S, M string }
	readGzipJSON(t, "ed25519vectors.json.gz", &c2sp)
	for _, v := range c2sp {
		out = append(out, edCase{name: "c2sp", pub: unhex(t, v.A),
			msg: []byte(v.M), sig: append(unhex(t, v.R), unhex(t, v.S)...)})
	}
	var taming []struct {
		Message string `json:"message"`
		Pub     string `json:"pub_key"`
		Sig     string `json:"signature"`
	}
	readGzipJSON(t, "speccheck_cases.json.gz", &taming)
	for _, v := range taming {
		out = append(out, edCase{name: "taming", pub: unhex(t, v.Pub), msg: unhex(t, v.Message), sig: unhex(t, v.Sig)})
	}
	var wp struct {
		TestGroups []struct {
			Key   struct{ PK string } `json:"key"`
			Tests []struct {
				ID     int    `json:"tcId"`
				Msg    string `json:"msg"`
				Sig    string `json:"sig"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readGzipJSON(t, "eddsa_test.json.gz", &wp)
	for _, g := range wp.TestGroups {
		for _, v := range g.Tests {
			out = append(out, edCase{name: "wycheproof", pub: unhex(t, g.Key.PK), msg: unhex(t, v.Msg), sig: unhex(t, v.Sig), want: v.Result})
		}
	}
	return out
}

// TestEd25519MatchesStdlib checks that ACT verification accepts exactly
// what crypto/ed25519 accepts on every published edge case, unexpanded
// and expanded, and that the vectors exercise both results.
func TestEd25519MatchesStdlib(t *testing.T) {
	cases := edVectors(t)
	if len(cases) < 700 {
		t.Fatalf("%d vectors, want the published sets", len(cases))
	}
	var accepted, refused int
	for i, c := range cases {
		std := len(c.pub) == ed25519.PublicKeySize && ed25519.Verify(ed25519.PublicKey(c.pub), c.msg, c.sig)
		if got := verifyEd25519(c.pub, c.msg, c.sig); got != std {
			t.Errorf("%s #%d: verifyEd25519 = %v, crypto/ed25519 = %v", c.name, i, got, std)
		}
		if len(c.pub) == ed25519.PublicKeySize {
			k := &edKey{pub: c.pub}
			for n := range expandAfter + 2 { // unexpanded, then expanded
				if got := k.verify(c.msg, c.sig); got != std {
					t.Errorf("%s #%d: key verification %d = %v, crypto/ed25519 = %v", c.name, i, n, got, std)
				}
			}
		}
		if c.want == "valid" && !std || c.want == "invalid" && std {
			t.Errorf("%s #%d: crypto/ed25519 = %v, the vector says %s", c.name, i, std, c.want)
		}
		if std {
			accepted++
		} else {
			refused++
		}
	}
	if accepted < 100 || refused < 100 {
		t.Fatalf("accepted %d, refused %d: the vectors should exercise both", accepted, refused)
	}
	t.Logf("%d vectors: %d accepted, %d refused, as crypto/ed25519", len(cases), accepted, refused)
}

// TestPublicKeyVerifiesAfterExpansion checks a long-lived key keeps
// verifying its own signatures and refusing others' once expanded.
func TestPublicKeyVerifiesAfterExpansion(t *testing.T) {
	k, err := NewEd25519PrivateKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewEd25519PrivateKey(append(make([]byte, 31), 1))
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey()
	copyOfPub := pub // copies share the expansion
	for i := range 5 {
		msg := []byte{byte(i)}
		sig, err := k.SignMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		osig, _ := other.SignMessage(msg)
		if !pub.Verify(AlgEdDSA, msg, sig) || !copyOfPub.Verify(AlgEdDSA, msg, sig) {
			t.Fatalf("use %d: own signature refused", i)
		}
		if pub.Verify(AlgEdDSA, msg, osig) || pub.Verify(AlgEdDSA, append(msg, 0), sig) {
			t.Fatalf("use %d: another key's signature or another message accepted", i)
		}
	}
	if pub.ed.ex == nil {
		t.Fatal("a key used five times was not expanded")
	}
}

func FuzzEd25519MatchesStdlib(f *testing.F) {
	for _, c := range edVectors(f) {
		if len(c.pub) == 32 && len(c.sig) == 64 && len(c.msg) < 256 {
			f.Add(c.pub, c.msg, c.sig)
		}
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		std := len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(ed25519.PublicKey(pub), msg, sig)
		if got := verifyEd25519(pub, msg, sig); got != std {
			t.Fatalf("verifyEd25519 = %v, crypto/ed25519 = %v", got, std)
		}
		if len(pub) == ed25519.PublicKeySize {
			k := &edKey{pub: pub}
			k.uses.Store(expandAfter)
			if got := k.verify(msg, sig); got != std {
				t.Fatalf("expanded key = %v, crypto/ed25519 = %v", got, std)
			}
		}
	})
}
