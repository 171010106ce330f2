package wallet

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// TestSingleUseLeg: two closed mandates with one jti (other iat) make
// chains whose first leg has one id, so the ledger refuses the second
// chain even without the service's claims; other agents' or other jtis'
// chains differ, and the other legs start with the payment's time. A
// time-ordered jti's legs, the first included, start with the jti's time.
func TestSingleUseLeg(t *testing.T) {
	s := &Service{}
	m, w := &Mandate{ID: "mdt_1"}, &Wallet{ID: "wal_1"}
	now := time.Unix(1_800_000_000, 0)
	chain := func(agent, jti string, iat int64) []Leg {
		return s.legs(m, w, &Payment{ID: paymentID(agent, jti, iat)}, jti, now)
	}
	jtiAt := func(ms int64, fill byte) string {
		return protocol.NewJTI(time.UnixMilli(ms), bytes.NewReader(bytes.Repeat([]byte{fill}, 16)))
	}
	timed, timed2 := jtiAt(1_800_000_000_250, 1), jtiAt(1_800_000_000_250, 2)
	for _, c := range []struct {
		jti, other string
		timed      bool
	}{
		{"jti-0001", "jti-0002", false},
		{timed, timed2, true},
	} {
		a := chain("agt_a", c.jti, 1_800_000_000)
		b := chain("agt_a", c.jti, 1_800_000_100)
		if a[0].Transfer != b[0].Transfer {
			t.Fatalf("%s: one jti, two first legs: %v, %v", c.jti, a[0].Transfer, b[0].Transfer)
		}
		if a[1].Transfer == b[1].Transfer && !c.timed {
			t.Fatalf("%s: the payment legs of two payments share an id", c.jti)
		}
		for _, other := range [][]Leg{chain("agt_b", c.jti, 1_800_000_000), chain("agt_a", c.other, 1_800_000_000)} {
			if other[0].Transfer == a[0].Transfer {
				t.Fatalf("%s: another agent's or another jti's first leg has the same id", c.jti)
			}
		}
		if !isSingleUse(paymentID("agt_a", c.jti, 1_800_000_000), a[0].Transfer) {
			t.Fatalf("%s: the first leg is not the single-use leg", c.jti)
		}
		if !c.timed {
			if got, want := a[1].Transfer[:timePrefix], paymentIDTime(1_800_000_000); string(got) != string(want) {
				t.Fatalf("payment leg starts %x, want the payment's time %x", got, want)
			}
			continue
		}
		// The jti's time, to the millisecond, starts every leg.
		var ms [8]byte
		binary.BigEndian.PutUint64(ms[:], 1_800_000_000_250<<16)
		want := ms[:timePrefix]
		for _, l := range a {
			if string(l.Transfer[:timePrefix]) != string(want) {
				t.Fatalf("%s leg starts %x, want the jti's time %x", l.Name, l.Transfer[:timePrefix], want)
			}
		}
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
	s := &Service{clock: fixedClock{time.Unix(1_800_000_000, 0)}}
	load := func(p Payment) { t.Helper(); loadPayment(t, s, p) }
	legacy := PrefixPayment + id("payment", "agt_a", "jti-legacy").String()
	load(Payment{ID: legacy, Legs: []Leg{{Name: "total", Transfer: id("leg", legacy, "total")}}})
	current := paymentID("agt_a", "jti-current", 1_800_000_000)
	load(Payment{ID: current, Legs: []Leg{{Name: "total", Transfer: singleUse(current, false)}}})

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

// TestMovedSingleUse: a payment made, before time-ordered jtis put their
// time in the single-use leg, with a jti of that form (its id from the iat,
// its single-use leg a hash) keeps its jti refused while its closed
// mandate may still be presented, whatever iat the new one has; older
// payments, payments with other jtis and payments made since are left to
// the ledger.
func TestMovedSingleUse(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &Service{clock: fixedClock{now}}
	jti := protocol.NewJTI(now.Add(-time.Minute), nil)
	closedWith := func(jti string) string {
		payload, _ := json.Marshal(map[string]any{"jti": jti, "iat": now.Unix() - 60})
		return "e30." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
	}
	// The id and first leg the payment got before (the iat's time, a hash).
	before := func(agent, jti string, at time.Time) Payment {
		pid := PrefixPayment + id("payment", agent, jti).String()
		x, _ := ledger.ParseID(pid[len(PrefixPayment):])
		copy(x[:timePrefix], paymentIDTime(at.Unix()))
		pid = PrefixPayment + x.String()
		return Payment{ID: pid, Closed: closedWith(jti), CreatedAt: at,
			Legs: []Leg{{Name: "total", Transfer: singleUse(pid, false)}}}
	}
	load := func(p Payment) { t.Helper(); loadPayment(t, s, p) }
	load(before("agt_a", jti, now.Add(-time.Minute)))
	oldJTI := protocol.NewJTI(now.Add(-3*time.Hour), nil)
	load(before("agt_a", oldJTI, now.Add(-3*time.Hour)))
	load(before("agt_a", "jti-plain", now.Add(-time.Minute)))
	newJTI := protocol.NewJTI(now.Add(-time.Minute), nil)
	pid := paymentID("agt_a", newJTI, now.Unix())
	load(Payment{ID: pid, Closed: closedWith(newJTI), CreatedAt: now, Legs: []Leg{{Name: "total", Transfer: singleUse(pid, true)}}})

	for _, iat := range []int64{now.Unix() - 60, now.Unix()} {
		var r *Refusal
		if err := s.unusedJTI(paymentID("agt_a", jti, iat)); !errors.As(err, &r) || r.Code != protocol.CodeReplayed {
			t.Fatalf("a recent payment's time-ordered jti, presented again at iat %d: %v", iat, err)
		}
	}
	for _, p := range []string{paymentID("agt_a", oldJTI, now.Unix()), paymentID("agt_a", "jti-plain", now.Unix()),
		paymentID("agt_a", newJTI, now.Unix()), paymentID("agt_b", jti, now.Unix())} {
		if err := s.unusedJTI(p); err != nil {
			t.Fatalf("%s: %v (expired, a plain jti, made since, or another agent's)", p, err)
		}
	}
}

// loadPayment applies p's doc as the service does on start.
func loadPayment(t *testing.T, s *Service, p Payment) {
	t.Helper()
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.applyPayment(ledger.Doc{Kind: KindPayment, Key: p.ID, Body: body}); err != nil {
		t.Fatal(err)
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// TestStoredJTI: the jti of a stored closed mandate, read plainly or, when
// it is escaped or spaced, by decoding; nothing from what is not a JWS.
func TestStoredJTI(t *testing.T) {
	jws := func(payload string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	for payload, want := range map[string]string{
		`{"iss":"agt_a","jti":"jti-1","iat":5}`:      "jti-1",
		`{"iss":"agt_a","jti":"jti-\u0032","iat":5}`: "jti-2",
		`{"iss":"agt_a", "jti" : "jti-3"}`:           "jti-3",
		`{"payee":{"name":"x"},"jti":"jti-4"}`:       "jti-4",
	} {
		if got, ok := storedJTI(jws(payload)); !ok || got != want {
			t.Errorf("%s: %q, %v; want %q", payload, got, ok, want)
		}
	}
	for _, bad := range []string{"", "no-dots", "a.!!!.c", jws(`{"jti":`)} {
		if got, ok := storedJTI(bad); ok {
			t.Errorf("%q: %q from what is not a closed mandate", bad, got)
		}
	}
}

// TestLimitAccountsKept: the limit account ids a mandate keeps are the ids
// derived from the mandate and the window, whichever window was asked
// for last (a payment of a late request may name yesterday's window).
func TestLimitAccountsKept(t *testing.T) {
	m := &Mandate{ID: "mdt_kept"}
	if got, want := m.totalAccount(), id("limit", m.ID, protocol.PeriodTotal); got != want || m.totalAccount() != want {
		t.Fatalf("total account %v, want %v", got, want)
	}
	if got, want := m.usesAccount(), id("limit", m.ID, "uses"); got != want || m.usesAccount() != want {
		t.Fatalf("uses account %v, want %v", got, want)
	}
	base := time.Date(2026, 1, 30, 23, 59, 59, 0, time.UTC)
	times := []time.Duration{0, time.Second, 0, 36 * time.Hour, 24 * time.Hour * 9, 0, -48 * time.Hour}
	for _, period := range []string{protocol.PeriodDay, protocol.PeriodWeek, protocol.PeriodMonth} {
		for i, d := range times {
			now := base.Add(d)
			start, _ := protocol.BudgetWindow(period, now)
			want := id("limit", m.ID, period, start.Format(time.RFC3339))
			got, gotStart := m.periodAccount(period, now)
			if got != want || !gotStart.Equal(start) {
				t.Fatalf("%s, time %d (%v): account %v from %v, want %v from %v", period, i, now, got, gotStart, want, start)
			}
		}
	}
	// The periods keep their windows apart.
	day, _ := m.periodAccount(protocol.PeriodDay, base)
	week, _ := m.periodAccount(protocol.PeriodWeek, base)
	if day == week {
		t.Fatal("the day's and the week's accounts are one")
	}
}

// TestPayeeKey: a wallet and payee's key is the walletPayee key, the one
// seenPayees holds once the wallet paid the payee.
func TestPayeeKey(t *testing.T) {
	s := &Service{}
	key, seen := s.payeeKey("wlt_a", "mch_b")
	if seen || key != walletPayee("wlt_a", "mch_b") {
		t.Fatalf("before a payment: %q, seen %v", key, seen)
	}
	s.seePayee(key)
	again, seen := s.payeeKey("wlt_a", "mch_b")
	if !seen || again != key || unsafe.StringData(again) != unsafe.StringData(key) {
		t.Fatalf("after a payment: %q, seen %v, the key held: %v", again, seen, unsafe.StringData(again) == unsafe.StringData(key))
	}
	if other, seen := s.payeeKey("wlt_a", "mch_c"); seen || other != walletPayee("wlt_a", "mch_c") {
		t.Fatalf("another payee: %q, seen %v", other, seen)
	}
}
