package eddsa

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"
)

// TestSignMatchesWycheproof signs every message of Wycheproof's EdDSA
// tests whose signature is valid with the group's private key and wants
// the published signature.
func TestSignMatchesWycheproof(t *testing.T) {
	f, err := os.Open("../../protocol/testdata/ed25519/eddsa_test.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var wp struct {
		TestGroups []struct {
			Key   struct{ SK, PK string } `json:"key"`
			Tests []struct {
				ID     int    `json:"tcId"`
				Msg    string `json:"msg"`
				Sig    string `json:"sig"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.NewDecoder(z).Decode(&wp); err != nil {
		t.Fatal(err)
	}
	signed := 0
	for _, g := range wp.TestGroups {
		priv := ed25519.NewKeyFromSeed(unhex(t, g.Key.SK))
		if !bytes.Equal(priv.Public().(ed25519.PublicKey), unhex(t, g.Key.PK)) {
			t.Fatalf("group key %s: public key does not match", g.Key.PK)
		}
		for _, v := range g.Tests {
			if v.Result != "valid" {
				continue
			}
			msg, want := unhex(t, v.Msg), unhex(t, v.Sig)
			if got := Sign(priv, msg); !bytes.Equal(got, want) {
				t.Errorf("tcId %d: signature %x, want %x", v.ID, got, want)
			}
			signed++
		}
	}
	if signed < 50 {
		t.Fatalf("%d signatures checked, want Wycheproof's valid ones", signed)
	}
}

// TestSignMatchesStdlib compares Sign with crypto/ed25519 on random keys
// and messages of every length up to 600 bytes.
func TestSignMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seed := make([]byte, ed25519.SeedSize)
	for n := range 600 {
		for i := range seed {
			seed[i] = byte(r.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed)
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(r.Uint32())
		}
		if got, want := Sign(priv, msg), ed25519.Sign(priv, msg); !bytes.Equal(got, want) {
			t.Fatalf("message of %d bytes: %x, crypto/ed25519 %x", n, got, want)
		}
	}
}

func FuzzSignMatchesStdlib(f *testing.F) {
	f.Add(make([]byte, 32), []byte("agentpay"))
	f.Fuzz(func(t *testing.T, seed, msg []byte) {
		if len(seed) != ed25519.SeedSize {
			return
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if got, want := Sign(priv, msg), ed25519.Sign(priv, msg); !bytes.Equal(got, want) {
			t.Fatalf("%x, crypto/ed25519 %x", got, want)
		}
	})
}

// BenchmarkSign compares Sign with crypto/ed25519 (the baseline) on a
// receipt-sized message.
func BenchmarkSign(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := bytes.Repeat([]byte("x"), 400)
	b.Run("crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("eddsa", func(b *testing.B) {
		for b.Loop() {
			Sign(priv, msg)
		}
	})
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
