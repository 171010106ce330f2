package wallet

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
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

// TestLegacyJTIs: a payment loaded from before chains had a single-use leg
// (its id a plain hash of the agent and jti) keeps its jti used: a new
// closed mandate with that jti, whatever its iat, is refused; a payment
// with a single-use leg is left to the ledger.
func TestLegacyJTIs(t *testing.T) {
	s := &Service{}
	load := func(p Payment) {
		t.Helper()
		body, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.applyPayment(ledger.Doc{Kind: KindPayment, Key: p.ID, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	legacy := PrefixPayment + id("payment", "agt_a", "jti-legacy").String()
	load(Payment{ID: legacy, Legs: []Leg{{Name: "total", Transfer: id("leg", legacy, "total")}}})
	current := paymentID("agt_a", "jti-current", 1_800_000_000)
	load(Payment{ID: current, Legs: []Leg{{Name: "total", Transfer: singleUse(current)}}})

	for _, iat := range []int64{1_700_000_000, 1_800_000_000} {
		var r *Refusal
		if err := s.unusedJTI(paymentID("agt_a", "jti-legacy", iat)); !errors.As(err, &r) || r.Code != protocol.CodeReplayed {
			t.Fatalf("a legacy payment's jti at iat %d: %v", iat, err)
		}
	}
	for _, pid := range []string{paymentID("agt_b", "jti-legacy", 1_800_000_000), paymentID("agt_a", "jti-current", 1_800_000_100)} {
		if err := s.unusedJTI(pid); err != nil {
			t.Fatalf("%s: %v (another agent's jti, or one the ledger guards)", pid, err)
		}
	}
}
