package protocol

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// decodesAsHash is isHashB64's definition: the strict decoder takes s
// and gives 32 bytes, and s has no line breaks (which encoding/base64
// skips: checkHash once took a hash with one in it).
func decodesAsHash(s string) bool {
	b, err := jwsB64.DecodeString(s)
	return err == nil && len(b) == 32 && !strings.ContainsAny(s, "\r\n")
}

// TestIsHashB64: every byte value at the first, a middle and the last
// position of a real hash, and the lengths around 43, judged as the
// strict decoder judges them.
func TestIsHashB64(t *testing.T) {
	sum := sha256.Sum256([]byte("agentpay"))
	h := jwsB64.EncodeToString(sum[:])
	if !isHashB64(h) {
		t.Fatalf("isHashB64(%q) = false", h)
	}
	accepted := 0
	for _, pos := range []int{0, 21, 42} {
		for c := range 256 {
			b := []byte(h)
			b[pos] = byte(c)
			s := string(b)
			want := decodesAsHash(s)
			if got := isHashB64(s); got != want {
				t.Errorf("isHashB64(%q) = %v, the decoder says %v", s, got, want)
			}
			if want {
				accepted++
			}
		}
	}
	// 64 characters at the first two positions, the 16 with their low
	// bits clear at the last.
	if accepted != 64+64+16 {
		t.Errorf("%d variants accepted, want %d", accepted, 64+64+16)
	}
	for _, s := range []string{"", h[:42], h + "A", h[:42] + "=", h + "=", h[:21] + "\n" + h[22:]} {
		if isHashB64(s) || decodesAsHash(s) {
			t.Errorf("%q: isHashB64 %v, decoder %v; want both false", s, isHashB64(s), decodesAsHash(s))
		}
	}
}

func FuzzIsHashB64(f *testing.F) {
	sum := sha256.Sum256(nil)
	f.Add(jwsB64.EncodeToString(sum[:]))
	f.Add("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU")
	f.Add("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFV")
	f.Add("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isHashB64(s), decodesAsHash(s); got != want {
			t.Fatalf("isHashB64(%q) = %v, the decoder says %v", s, got, want)
		}
	})
}

// TestParsedText: Text is the bytes received, whatever the caller does
// with its slice afterwards, for an object that parses, one that does
// not and none; bytes too large to parse (which Parse does not copy) are
// read when Text is called.
func TestParsedText(t *testing.T) {
	w := newWorld(t)
	co := w.sign(w.merchant, w.checkout())
	for _, raw := range [][]byte{
		w.sign(w.agent, w.closedPayment(co, usd(8220), HashJWS(co))),
		[]byte("not.a.jws"),
		{},
	} {
		want := string(raw)
		p := Parse[ClosedPaymentMandate](raw)
		for i := range raw {
			raw[i] = '!'
		}
		if got := p.Text(); got != want {
			t.Fatalf("Text() = %.40q..., want %.40q...", got, want)
		}
	}
	large := []byte(strings.Repeat("x", JWSBytesMax+1))
	if got := Parse[ClosedPaymentMandate](large).Text(); got != string(large) {
		t.Fatalf("Text() of %d bytes = %d bytes", len(large), len(got))
	}
}
