package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agentpay/agentpay/store"
)

// testCheckpoints: signed checkpoints are stored once per size, the latest
// is the largest size (not the last written), and CheckpointAt finds each.
func testCheckpoints(t *testing.T, h Harness) {
	s := h.Open(t)
	if size, note, err := s.LatestCheckpoint(bg); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCheckpoint on empty store = %d, %q, %v; want ErrNotFound", size, note, err)
	}
	if note, err := s.CheckpointAt(bg, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CheckpointAt(0) on empty store = %q, %v; want ErrNotFound", note, err)
	}
	notes := map[uint64][]byte{
		0:       []byte("o\n0\nAAAA\n\n— k sig0\n"),
		5:       []byte("o\n5\nBBBB\n\n— k sig5\n"),
		3:       []byte("o\n3\nCCCC\n\n— k sig3\n"),
		1 << 40: []byte("o\n1099511627776\nDDDD\n\n— k sig\n"),
	}
	latest := uint64(0)
	for _, size := range []uint64{0, 5, 3, 1 << 40} {
		if err := s.PutCheckpoint(bg, size, notes[size]); err != nil {
			t.Fatalf("PutCheckpoint(%d): %v", size, err)
		}
		latest = max(latest, size)
		gotSize, gotNote, err := s.LatestCheckpoint(bg)
		if err != nil || gotSize != latest || !bytes.Equal(gotNote, notes[latest]) {
			t.Fatalf("LatestCheckpoint = %d, %q, %v; want %d, %q", gotSize, gotNote, err, latest, notes[latest])
		}
	}
	for size, want := range notes {
		if got, err := s.CheckpointAt(bg, size); err != nil || !bytes.Equal(got, want) {
			t.Errorf("CheckpointAt(%d) = %q, %v; want %q", size, got, err, want)
		}
	}
	if note, err := s.CheckpointAt(bg, 4); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckpointAt(4) = %q, %v; want ErrNotFound", note, err)
	}
	// A size is written once; the stored note stays.
	if err := s.PutCheckpoint(bg, 5, []byte("other\n")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second PutCheckpoint(5) = %v; want ErrConflict", err)
	}
	if got, err := s.CheckpointAt(bg, 5); err != nil || !bytes.Equal(got, notes[5]) {
		t.Errorf("CheckpointAt(5) after conflict = %q, %v; want %q", got, err, notes[5])
	}
	if err := s.PutCheckpoint(bg, 7, nil); err == nil {
		t.Errorf("PutCheckpoint with an empty note succeeded")
	}
	if h.Reopen != nil {
		s = h.Reopen(t, s)
		if gotSize, gotNote, err := s.LatestCheckpoint(bg); err != nil || gotSize != 1<<40 || !bytes.Equal(gotNote, notes[1<<40]) {
			t.Errorf("LatestCheckpoint after reopen = %d, %q, %v", gotSize, gotNote, err)
		}
	}
}
