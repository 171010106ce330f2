package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// checkEvidence checks that the store holds exactly files (path → data,
// nil data meaning absent) and size.
func checkEvidence(t *testing.T, s store.Store, size uint64, files map[string][]byte) {
	t.Helper()
	if got, err := s.EvidenceSize(bg); err != nil || got != size {
		t.Errorf("EvidenceSize = %d, %v; want %d", got, err, size)
	}
	for path, want := range files {
		got, err := s.EvidenceFile(bg, path)
		if want == nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("EvidenceFile(%q) = %x, %v; want ErrNotFound", path, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("EvidenceFile(%q) = %x, %v; want %x", path, got, err, want)
		}
	}
}

// testEvidence: evidence files and the log size commit with their batch,
// a later batch overwrites a partial tile with its fuller version, and a
// batch without evidence changes neither.
func testEvidence(t *testing.T, h Harness) {
	s := h.Open(t)
	checkEvidence(t, s, 0, map[string][]byte{"tile/0/000": nil})
	w := newWorld(newGen(40), 1)

	b := w.batch()
	b.asset(1, "USD", 2)
	x, y := b.account(), b.account()
	b.transfer(x, y, 5)
	batch := b.build()
	batch.Evidence = &ledger.EvidenceWrite{Size: 1, Files: []ledger.EvidenceFile{
		{Path: "tile/0/000", Data: bytes.Repeat([]byte{1}, 32)},
		{Path: "tile/entries/000", Data: []byte{0, 1, 'a'}},
	}}
	if err := s.CommitBatch(bg, batch); err != nil {
		t.Fatal(err)
	}
	w.apply(batch)
	checkEvidence(t, s, 1, map[string][]byte{
		"tile/0/000":       bytes.Repeat([]byte{1}, 32),
		"tile/entries/000": {0, 1, 'a'},
		"tile/1/000":       nil,
	})

	// The fuller tile replaces the partial one; untouched files stay.
	b = w.batch()
	b.transfer(y, x, 2)
	batch = b.build()
	full := append(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)...)
	batch.Evidence = &ledger.EvidenceWrite{Size: 2, Files: []ledger.EvidenceFile{
		{Path: "tile/0/000", Data: full},
	}}
	if err := s.CommitBatch(bg, batch); err != nil {
		t.Fatal(err)
	}
	w.apply(batch)
	checkEvidence(t, s, 2, map[string][]byte{"tile/0/000": full, "tile/entries/000": {0, 1, 'a'}})

	// A batch without evidence leaves the log as it was.
	b = w.batch()
	b.transfer(x, y, 1)
	b.commit(t, s)
	checkEvidence(t, s, 2, map[string][]byte{"tile/0/000": full})
	checkLoad(t, s, w)
}

// testEvidenceFailedBatch: a batch that fails writes none of its evidence.
func testEvidenceFailedBatch(t *testing.T, h Harness) {
	s := h.Open(t)
	w := newWorld(newGen(41), 1)
	b := w.batch()
	b.asset(1, "USD", 2)
	x, y := b.account(), b.account()
	b.transfer(x, y, 5)
	b.outcome("first", 100)
	batch := b.build()
	batch.Evidence = &ledger.EvidenceWrite{Size: 1, Files: []ledger.EvidenceFile{
		{Path: "tile/0/000", Data: bytes.Repeat([]byte{1}, 32)},
	}}
	if err := s.CommitBatch(bg, batch); err != nil {
		t.Fatal(err)
	}
	w.apply(batch)

	b = w.batch()
	b.transfer(y, x, 1)
	b.outcome("first", 200) // already stored: the batch fails
	dup := b.build()
	dup.Evidence = &ledger.EvidenceWrite{Size: 2, Files: []ledger.EvidenceFile{
		{Path: "tile/0/000", Data: bytes.Repeat([]byte{3}, 64)},
		{Path: "tile/entries/000", Data: []byte{0, 1, 'b'}},
	}}
	if err := s.CommitBatch(bg, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CommitBatch(outcome key already stored) error = %v, want ErrConflict", err)
	}
	checkNothingOf(t, s, w, dup)
	checkEvidence(t, s, 1, map[string][]byte{
		"tile/0/000":       bytes.Repeat([]byte{1}, 32),
		"tile/entries/000": nil,
	})
}

// testEvidenceReopen: evidence survives a reopen.
func testEvidenceReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the harness cannot reopen a store")
	}
	s := h.Open(t)
	w := newWorld(newGen(42), 1)
	b := w.batch()
	b.asset(1, "USD", 2)
	b.account()
	batch := b.build()
	data := bytes.Repeat([]byte{7}, 8192)
	batch.Evidence = &ledger.EvidenceWrite{Size: 300, Files: []ledger.EvidenceFile{
		{Path: "tile/0/000", Data: data},
		{Path: "tile/entries/001", Data: []byte{0, 0}},
	}}
	if err := s.CommitBatch(bg, batch); err != nil {
		t.Fatal(err)
	}
	w.apply(batch)
	s = h.Reopen(t, s)
	checkEvidence(t, s, 300, map[string][]byte{"tile/0/000": data, "tile/entries/001": {0, 0}})
	checkLoad(t, s, w)
}
