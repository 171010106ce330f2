package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentpay/agentpay/ledger"
)

// TestPreallocateWAL: a store opened with PreallocateWAL has a WAL of
// walPreallocBytes, with the database file's permissions, commits into
// it, and reopens with what it committed.
func TestPreallocateWAL(t *testing.T) {
	t.Parallel()
	// The restart threshold leaves room in a preallocated WAL for the
	// frames written between two checkpoints (a quarter of it).
	if frames := walPreallocBytes / (4096 + 24); walFramesRestart > frames*3/4 {
		t.Errorf("walFramesRestart %d: more than three quarters of the %d frames a preallocated WAL holds", walFramesRestart, frames)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pre.db")
	s, err := Open(ctx, path, Options{PreallocateWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		t.Helper()
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	if got := walSize(); got != walPreallocBytes {
		t.Fatalf("WAL of %d bytes after Migrate, want %d", got, walPreallocBytes)
	}
	l, last := commitSmallBatches(t, s, 20)
	if got := walSize(); got != walPreallocBytes {
		t.Fatalf("WAL of %d bytes after 20 small batches, want %d (overwritten, not grown)", got, walPreallocBytes)
	}
	want := accountsOf(t, s, l.accounts)
	tr := last.Transfers[len(last.Transfers)-1]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path, Options{PreallocateWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := walSize(); got != walPreallocBytes {
		t.Fatalf("WAL of %d bytes after reopening, want %d", got, walPreallocBytes)
	}
	if got := accountsOf(t, s, l.accounts); !equalAccounts(got, want) {
		t.Errorf("accounts after reopening differ from those committed")
	}
	if _, err := s.GetTransfer(ctx, tr.Transfer.ID); err != nil {
		t.Errorf("the last transfer committed: %v", err)
	}
}

// TestPreallocateWALRecoversFrames: a WAL that holds committed frames the
// database file does not (as a crash leaves it), extended with zeros by
// PreallocateWAL, is recovered whole: the zeros after its last frame are
// not taken for frames.
func TestPreallocateWALRecoversFrames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpointed: the file holds the schema, no WAL
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	copyFile(t, path, copyPath)

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, last := commitSmallBatches(t, s, 10)
	want := accountsOf(t, s, l.accounts)
	// The copy: the schema-only database file and the live WAL, which
	// holds every batch (a WAL is rewound only past walFramesRestart).
	s.wmu.Lock()
	copyFile(t, path+"-wal", copyPath+"-wal")
	s.wmu.Unlock()
	st, err := os.Stat(copyPath + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() >= walPreallocBytes {
		t.Fatalf("the copied WAL is already %d bytes: nothing to preallocate", st.Size())
	}

	c, err := Open(ctx, copyPath, Options{PreallocateWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(copyPath + "-wal"); err != nil || st.Size() != walPreallocBytes {
		t.Fatalf("the copy's WAL after Migrate: %v, %v; want %d bytes", st, err, walPreallocBytes)
	}
	if got := accountsOf(t, c, l.accounts); !equalAccounts(got, want) {
		t.Errorf("accounts recovered from the preallocated WAL differ from those committed")
	}
	tr := last.Transfers[len(last.Transfers)-1]
	if _, err := c.GetTransfer(ctx, tr.Transfer.ID); err != nil {
		t.Errorf("the last transfer committed, from the preallocated WAL: %v", err)
	}
	// More commits go after the recovered frames, and survive a reopen.
	b := l.nextBatch()
	if err := c.CommitBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	want = accountsOf(t, c, l.accounts)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = Open(ctx, copyPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := accountsOf(t, c, l.accounts); !equalAccounts(got, want) {
		t.Errorf("accounts after a commit into the recovered WAL and a reopen differ")
	}
}

// commitSmallBatches commits a benchLoad's first batch (its accounts)
// and n batches of 64 transfers to s, and returns the load and its last
// batch.
func commitSmallBatches(t *testing.T, s *Store, n int) (*benchLoad, ledger.Batch) {
	t.Helper()
	l := newBenchLoadSize(50, false, 64)
	if err := s.CommitBatch(context.Background(), l.first()); err != nil {
		t.Fatal(err)
	}
	var last ledger.Batch
	for range n {
		b := l.nextBatch()
		if err := s.CommitBatch(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		last = *b
	}
	return l, last
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func accountsOf(t *testing.T, s *Store, accounts []ledger.Account) []ledger.Account {
	t.Helper()
	out := make([]ledger.Account, len(accounts))
	for i, a := range accounts {
		got, err := s.GetAccount(context.Background(), a.ID)
		if err != nil {
			t.Fatalf("GetAccount(%v): %v", a.ID, err)
		}
		out[i] = got
	}
	return out
}

func equalAccounts(a, b []ledger.Account) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
