package storetest

import (
	"errors"
	"slices"
	"testing"
)

// testOutcomeKeys: OutcomeKeys lists every stored key once, stops at the
// callback's error, and forgets deleted keys.
func testOutcomeKeys(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(23), 1)
	collect := func() []string {
		var keys []string
		if err := s.OutcomeKeys(bg, func(k string) error { keys = append(keys, k); return nil }); err != nil {
			t.Fatalf("OutcomeKeys: %v", err)
		}
		slices.Sort(keys)
		return keys
	}
	if got := collect(); len(got) != 0 {
		t.Fatalf("OutcomeKeys of an empty store = %q, want none", got)
	}
	b := w.batch()
	b.outcome("a", 100)
	b.outcome("b", 200)
	b.commit(t, s)
	b = w.batch()
	b.outcome("c", 300)
	b.commit(t, s)
	if got, want := collect(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("OutcomeKeys = %q, want %q", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.OutcomeKeys(bg, func(string) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("OutcomeKeys with a failing callback = %v after %d calls, want stop after 1", err, calls)
	}
	if _, err := s.DeleteOutcomesBefore(bg, 250); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(), []string{"c"}; !slices.Equal(got, want) {
		t.Fatalf("OutcomeKeys after delete = %q, want %q", got, want)
	}
}
