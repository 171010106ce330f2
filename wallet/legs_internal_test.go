package wallet

import (
	"testing"
	"time"
)

// TestSingleUseLeg: two closed mandates with one jti (other iat) make
// chains whose first leg has one id, so the ledger refuses the second
// chain even without the service's claims; other agents' or other jtis'
// chains differ, and the other legs start with the payment's time.
func TestSingleUseLeg(t *testing.T) {
	s := &Service{}
	m, w := &Mandate{ID: "mdt_1"}, &Wallet{ID: "wal_1"}
	now := time.Unix(1_800_000_000, 0)
	chain := func(agent, jti string, iat int64) []Leg {
		return s.legs(m, w, &Payment{ID: paymentID(agent, jti, iat)}, now)
	}
	a := chain("agt_a", "jti-0001", 1_800_000_000)
	b := chain("agt_a", "jti-0001", 1_800_000_100)
	if a[0].Transfer != b[0].Transfer {
		t.Fatalf("one jti, two first legs: %v, %v", a[0].Transfer, b[0].Transfer)
	}
	if a[1].Transfer == b[1].Transfer {
		t.Fatal("the payment legs of two payments share an id")
	}
	for _, other := range [][]Leg{chain("agt_b", "jti-0001", 1_800_000_000), chain("agt_a", "jti-0002", 1_800_000_000)} {
		if other[0].Transfer == a[0].Transfer {
			t.Fatal("another agent's or another jti's first leg has the same id")
		}
	}
	if got, want := a[1].Transfer[:timePrefix], paymentIDTime(1_800_000_000); string(got) != string(want) {
		t.Fatalf("payment leg starts %x, want the payment's time %x", got, want)
	}
}

// paymentIDTime is the time prefix of a payment id: iat in milliseconds,
// big-endian.
func paymentIDTime(iat int64) []byte {
	ms := uint64(iat) * 1000
	return []byte{byte(ms >> 40), byte(ms >> 32), byte(ms >> 24), byte(ms >> 16), byte(ms >> 8), byte(ms)}
}
