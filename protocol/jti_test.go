package protocol

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestJTI: a new jti reads back its time to the millisecond, carries 128
// random bits, and is a valid jti; other forms have no time.
func TestJTI(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_800_000_000_123)
	a, b := NewJTI(now, nil), NewJTI(now, nil)
	if a == b {
		t.Fatal("two jtis alike")
	}
	for _, j := range []string{a, b} {
		ms, ok := JTITime(j)
		if !ok || ms != 1_800_000_000_123 {
			t.Fatalf("%s: time %d, %v", j, ms, ok)
		}
		c := Claims{VCT: "x", Issuer: "agt_a", Audience: Audience{"p"}, IssuedAt: 1, Expiry: 2, ID: j}
		if err := c.check(kindSpecs[KindClosedPaymentMandate]); err != nil && CodeOf(err) == CodeClaimsInvalid {
			t.Fatalf("%s is not a valid jti: %v", j, err)
		}
	}
	// The random part is what the reader gives.
	fixed := NewJTI(now, bytes.NewReader(bytes.Repeat([]byte{0xab}, 16)))
	if raw, _ := jwsB64.DecodeString(fixed); !bytes.Equal(raw[6:], bytes.Repeat([]byte{0xab}, 16)) {
		t.Fatalf("random part %x", raw[6:])
	}
	// Later jtis sort after earlier ones in their time part.
	if later := NewJTI(now.Add(time.Millisecond), nil); later[:8] <= a[:8] {
		t.Fatalf("%s is not after %s", later, a)
	}
	// Other lengths, characters outside base64url and non-canonical
	// encodings (the last character's unused bits set) have no time.
	for _, j := range []string{"", "jti-0123456789abcdef-1", a[:29], a + "A", a[:29] + "/", a[:29] + "B", strings.Repeat("=", 30)} {
		if _, ok := JTITime(j); ok {
			t.Errorf("%q read as time-ordered", j)
		}
	}
}

// FuzzJTITime: any string either has no time or is exactly 30 canonical
// base64url characters whose first 6 bytes are the time returned.
func FuzzJTITime(f *testing.F) {
	f.Add(NewJTI(time.UnixMilli(1_800_000_000_000), nil))
	f.Add("jti-0123456789abcdef-1")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAA_")
	f.Fuzz(func(t *testing.T, jti string) {
		ms, ok := JTITime(jti)
		if !ok {
			return
		}
		raw, err := jwsB64.DecodeString(jti)
		if err != nil || len(raw) != 22 || jwsB64.EncodeToString(raw) != jti {
			t.Fatalf("%q read as time-ordered (%v, %d bytes)", jti, err, len(raw))
		}
		var want uint64
		for _, c := range raw[:6] {
			want = want<<8 | uint64(c)
		}
		if ms != want {
			t.Fatalf("%q: time %d, want %d", jti, ms, want)
		}
	})
}
