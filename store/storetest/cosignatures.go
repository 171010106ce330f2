package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agentpay/agentpay/store"
)

// testCosignatures: a cosignature needs a stored checkpoint, a witness has
// one per size (the latest replaces it), and they come back in witness
// order.
func testCosignatures(t *testing.T, h Harness) {
	s := h.Open(t)
	if err := s.PutCosignature(bg, 5, "w1", []byte("— w1 sig")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutCosignature without a checkpoint = %v; want ErrNotFound", err)
	}
	if got, err := s.Cosignatures(bg, 5); err != nil || len(got) != 0 {
		t.Fatalf("Cosignatures on empty store = %q, %v", got, err)
	}
	for _, size := range []uint64{3, 5} {
		if err := s.PutCheckpoint(bg, size, []byte("o\n"+string(rune('0'+size))+"\nAAAA\n\n— k sig\n")); err != nil {
			t.Fatal(err)
		}
	}
	puts := []struct {
		size    uint64
		witness string
		sig     string
	}{
		{5, "zeta.example/w", "— zeta.example/w z1"},
		{5, "alpha.example/w", "— alpha.example/w a1"},
		{3, "alpha.example/w", "— alpha.example/w a3"},
		{5, "zeta.example/w", "— zeta.example/w z2"}, // replaces z1
		{5, "alpha.example/w", "— alpha.example/w a1"},
	}
	for _, p := range puts {
		if err := s.PutCosignature(bg, p.size, p.witness, []byte(p.sig)); err != nil {
			t.Fatalf("PutCosignature(%d, %s): %v", p.size, p.witness, err)
		}
	}
	check := func(size uint64, want ...string) {
		t.Helper()
		got, err := s.Cosignatures(bg, size)
		if err != nil || len(got) != len(want) {
			t.Fatalf("Cosignatures(%d) = %q, %v; want %q", size, got, err, want)
		}
		for i := range want {
			if !bytes.Equal(got[i], []byte(want[i])) {
				t.Fatalf("Cosignatures(%d)[%d] = %q; want %q", size, i, got[i], want[i])
			}
		}
	}
	check(5, "— alpha.example/w a1", "— zeta.example/w z2")
	check(3, "— alpha.example/w a3")
	check(4)
	if err := s.PutCosignature(bg, 5, "", []byte("x")); err == nil {
		t.Error("PutCosignature with an empty witness succeeded")
	}
	if h.Reopen != nil {
		s = h.Reopen(t, s)
		check(5, "— alpha.example/w a1", "— zeta.example/w z2")
	}
}

// testListCheckpoints: checkpoints list in size order after a size, size 0
// excluded, limit respected.
func testListCheckpoints(t *testing.T, h Harness) {
	s := h.Open(t)
	if got, err := s.ListCheckpoints(bg, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("ListCheckpoints on empty store = %v, %v", got, err)
	}
	for _, size := range []uint64{7, 0, 2, 1 << 40, 3} {
		if err := s.PutCheckpoint(bg, size, []byte{byte(size), '\n'}); err != nil {
			t.Fatal(err)
		}
	}
	sizes := func(after uint64, limit int) []uint64 {
		t.Helper()
		cs, err := s.ListCheckpoints(bg, after, limit)
		if err != nil {
			t.Fatalf("ListCheckpoints(%d, %d): %v", after, limit, err)
		}
		var out []uint64
		for _, c := range cs {
			if !bytes.Equal(c.Note, []byte{byte(c.Size), '\n'}) {
				t.Errorf("checkpoint %d note %q", c.Size, c.Note)
			}
			out = append(out, c.Size)
		}
		return out
	}
	eq := func(got []uint64, want ...uint64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("sizes %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("sizes %v, want %v", got, want)
			}
		}
	}
	eq(sizes(0, store.PageLimitMax), 2, 3, 7, 1<<40)
	eq(sizes(0, 2), 2, 3)
	eq(sizes(3, 2), 7, 1<<40)
	eq(sizes(1<<40, 5))
	for _, limit := range []int{0, -1, store.PageLimitMax + 1} {
		if _, err := s.ListCheckpoints(bg, 0, limit); err == nil {
			t.Errorf("ListCheckpoints limit %d succeeded", limit)
		}
	}
}
