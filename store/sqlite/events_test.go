package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/agentpay/agentpay/ledger"
)

type accountsSeen struct{ ids []ledger.ID }

func (a *accountsSeen) Position(uint64, uint64)        {}
func (a *accountsSeen) Asset(ledger.Asset)             {}
func (a *accountsSeen) Account(x ledger.Account)       { a.ids = append(a.ids, x.ID) }
func (a *accountsSeen) Transfer(ledger.TransferRecord) {}
func (a *accountsSeen) Expiry(ledger.Expiry)           {}

// TestAccountCreationsFilled: migration 5 indexes the accounts of a
// database written before it, folded (accounts) or not (account_log), so
// Events finds them by timestamp.
func TestAccountCreationsFilled(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentpay.db")
	s := openAt(t, path)
	var want []ledger.ID
	for seq := uint64(1); seq <= 3; seq++ {
		b := &ledger.Batch{Seq: seq, Timestamp: seq * 10}
		if seq == 1 {
			b.Assets = []ledger.Asset{{Ledger: 1, Code: "USD", Scale: 2, Timestamp: 1}}
		}
		for i := range uint64(3) {
			a := ledger.Account{ID: ledger.IDFromUint64(seq*100 + i), Ledger: 1, Code: 1, Timestamp: seq*10 - 3 + i}
			b.Accounts = append(b.Accounts, a)
			want = append(want, a.ID)
		}
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Undo migration 5, as if the database were written before it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TABLE account_creations", "DELETE FROM schema_migrations WHERE version = 5"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s = openAt(t, path)
	var got accountsSeen
	if err := s.Events(ctx, 0, 1, 30, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.ids) != len(want) {
		t.Fatalf("Events found %d accounts, want %d", len(got.ids), len(want))
	}
	for i := range want {
		if got.ids[i] != want[i] {
			t.Fatalf("account %d: %v, want %v", i, got.ids[i], want[i])
		}
	}
}
