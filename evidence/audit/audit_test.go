package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/audit"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/internal/sim"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/store/sqlite"
)

const origin = "audit.test/log"

var bg = context.Background()

// ledgerDir is a data directory written by a real engine with the
// evidence log: assets, accounts, plain, pending, posted, voided, expired
// and closing transfers over many batches, and checkpoints along the way.
type ledgerDir struct {
	path     string
	signer   note.Signer
	verifier note.Verifier
	// batchOf maps some transfers to the log index of their batch entry.
	batchOf   map[ledger.ID]uint64
	docBatch  map[string]uint64 // doc key -> log index
	transfers []ledger.ID
	accounts  []ledger.ID
	sizes     []uint64 // signed checkpoint sizes
}

func newLedgerDir(t *testing.T) *ledgerDir {
	t.Helper()
	d := &ledgerDir{path: filepath.Join(t.TempDir(), "agentpay.db"), batchOf: map[ledger.ID]uint64{}, docBatch: map[string]uint64{}}
	skey, vkey, err := note.GenerateKey(nil, origin)
	if err != nil {
		t.Fatal(err)
	}
	if d.signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if d.verifier, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(bg, d.path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(bg); err != nil {
		t.Fatal(err)
	}
	ev, err := ledgerlog.Open(bg, st, ledgerlog.Options{OnCommitted: func(r *ledgerlog.Records, index, _ uint64) {
		for _, tr := range r.Transfers {
			d.batchOf[tr.ID] = index
		}
		for _, doc := range r.Docs {
			d.docBatch[doc.Key] = index
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	clock := sim.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	e, err := ledger.Open(bg, ledger.Config{Store: st, Evidence: ev, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	defer e.Stop(bg)
	signer, err := ledgerlog.NewSigner(st, d.signer, ledgerlog.SignerOptions{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	sign := func() {
		size, _, err := signer.SignNow(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.sizes) == 0 || d.sizes[len(d.sizes)-1] != size {
			d.sizes = append(d.sizes, size)
		}
	}
	must := func(rs []ledger.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if !r.Committed() {
				t.Fatalf("event %d: %v", i, r)
			}
		}
	}
	must(e.CreateAssets(bg, []ledger.Asset{{Ledger: 1, Code: "USD", Scale: 2}}, nil))
	var accts []ledger.Account
	for i := range 12 {
		a := ledger.Account{ID: ledger.IDFromUint64(uint64(100 + i)), Ledger: 1, Code: 1, Flags: ledger.AccountHistory}
		if i > 0 {
			a.Flags |= ledger.AccountDebitsMustNotExceedCredits
		}
		accts = append(accts, a)
		d.accounts = append(d.accounts, a.ID)
	}
	must(e.CreateAccounts(bg, accts, nil))
	sign()
	next := uint64(1000)
	tid := func() ledger.ID { next++; return ledger.IDFromUint64(next) }
	send := func(ts ...ledger.Transfer) {
		t.Helper()
		must(e.CreateTransfers(bg, ts, nil))
		for _, x := range ts {
			d.transfers = append(d.transfers, x.ID)
		}
	}
	for round := range 6 {
		// Funding from the bank (account 100) and payments between users.
		var req []ledger.Transfer
		for i := range 150 { // several transfer chunks in one batch
			req = append(req, ledger.Transfer{ID: tid(), DebitAccountID: accts[0].ID, CreditAccountID: accts[1+i%11].ID,
				Amount: uint64(100 + i + round), Ledger: 1, Code: 1})
		}
		send(req...)
		p1, p2, p3 := tid(), tid(), tid()
		send(
			ledger.Transfer{ID: p1, DebitAccountID: accts[1].ID, CreditAccountID: accts[2].ID, Amount: 40, Ledger: 1, Code: 1, Flags: ledger.TransferPending, Timeout: 60},
			ledger.Transfer{ID: p2, DebitAccountID: accts[3].ID, CreditAccountID: accts[4].ID, Amount: 30, Ledger: 1, Code: 1, Flags: ledger.TransferPending},
			ledger.Transfer{ID: p3, DebitAccountID: accts[5].ID, CreditAccountID: accts[6].ID, Amount: 20, Ledger: 1, Code: 1, Flags: ledger.TransferPending | ledger.TransferClosingCredit},
		)
		send(ledger.Transfer{ID: tid(), PendingID: p2, Flags: ledger.TransferPostPending, Amount: 25})
		pay := ledger.Transfer{ID: tid(), DebitAccountID: accts[7].ID, CreditAccountID: accts[8].ID, Amount: 3, Ledger: 1, Code: 1}
		res, ok, err := e.Submit(bg, &ledger.Request{Transfers: []ledger.Transfer{pay},
			Docs: []ledger.Doc{{Kind: "payment", Key: fmt.Sprintf("pay_%d", round), Body: []byte(fmt.Sprintf(`{"round":%d}`, round))}}}, nil)
		if err != nil || !ok || res[0] != ledger.ResultOK {
			t.Fatalf("submit: %v %v %v", res, ok, err)
		}
		d.transfers = append(d.transfers, pay.ID)
		send(ledger.Transfer{ID: tid(), PendingID: p3, Flags: ledger.TransferVoidPending})
		clock.Advance(61 * time.Second)
		if err := e.Tick(bg); err != nil { // p1 expires
			t.Fatal(err)
		}
		if round%2 == 1 {
			sign()
		}
	}
	sign()
	if err := e.Stop(bg); err != nil {
		t.Fatal(err)
	}
	return d
}

// audit runs an audit of the directory.
func (d *ledgerDir) audit(t *testing.T) *audit.Report {
	t.Helper()
	st, err := sqlite.Open(bg, d.path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := audit.Run(bg, audit.NewStoreSource(st), audit.Options{Origin: origin, Verifier: d.verifier})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// db opens the raw database to tamper with it.
func (d *ledgerDir) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", d.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// chunkOf returns the rowid, records and position of a transfer.
func (d *ledgerDir) chunkOf(t *testing.T, db *sql.DB, id ledger.ID) (int64, []byte, int) {
	t.Helper()
	rows, err := db.Query("SELECT rowid, records FROM transfer_chunks ORDER BY first_ts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var rowid int64
		var stored []byte
		if err := rows.Scan(&rowid, &stored); err != nil {
			t.Fatal(err)
		}
		// Compressed or not; a tampered row is written back as records.
		recs, err := sqlite.TransferChunkRecords(stored)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(recs); off += store.TransferRecordSize {
			if ledger.ID(recs[off:off+16]) == id {
				return rowid, recs, off / store.TransferRecordSize
			}
		}
	}
	t.Fatalf("transfer %v not stored", id)
	return 0, nil, 0
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestCleanLedgerPasses(t *testing.T) {
	t.Parallel()
	d := newLedgerDir(t)
	rep := d.audit(t)
	if rep.Divergence != nil {
		t.Fatalf("a clean ledger diverges: %v", rep.Divergence)
	}
	if rep.Transfers != len(d.transfers) || rep.Accounts != 12 || rep.Assets != 1 || rep.Expiries != 6 || rep.Docs != 6 || rep.Stored != 12 || !rep.Listed {
		t.Fatalf("report %+v; want %d transfers, 12 accounts, 1 asset, 6 expiries", rep, len(d.transfers))
	}
	if rep.Checkpoints != len(d.sizes) || rep.Latest != d.sizes[len(d.sizes)-1] || rep.Latest != rep.Size {
		t.Fatalf("report %+v; checkpoints at %v", rep, d.sizes)
	}
}

// Each tampering is caught, and the report says where.
func TestTamperingIsCaught(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(t *testing.T, d *ledgerDir, db *sql.DB) string // returns the expected location
	}{
		{"change a transfer", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			id := d.transfers[200]
			rowid, recs, i := d.chunkOf(t, db, id)
			recs[i*store.TransferRecordSize+48+7]++ // amount + 1
			exec(t, db, "UPDATE transfer_chunks SET records = ? WHERE rowid = ?", recs, rowid)
			return fmt.Sprintf("log entry %d (", d.batchOf[id])
		}},
		{"delete a transfer", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			id := d.transfers[300]
			rowid, recs, i := d.chunkOf(t, db, id)
			if len(recs) == store.TransferRecordSize {
				t.Fatal("the transfer is alone in its chunk")
			}
			n := store.TransferRecordSize
			recs = append(recs[:i*n:i*n], recs[(i+1)*n:]...)
			exec(t, db, "UPDATE transfer_chunks SET records = ? WHERE rowid = ?", recs, rowid)
			return fmt.Sprintf("log entry %d (", d.batchOf[id])
		}},
		{"reorder two transfers", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			id := d.transfers[410]
			rowid, recs, i := d.chunkOf(t, db, id)
			n := store.TransferRecordSize
			j := i + 1
			if (j+1)*n > len(recs) {
				j = i - 1
			}
			a, b := append([]byte(nil), recs[i*n:(i+1)*n]...), append([]byte(nil), recs[j*n:(j+1)*n]...)
			copy(recs[i*n:], b)
			copy(recs[j*n:], a)
			exec(t, db, "UPDATE transfer_chunks SET records = ? WHERE rowid = ?", recs, rowid)
			return fmt.Sprintf("log entry %d (", d.batchOf[id])
		}},
		{"change a doc", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			// Docs are packed into doc_chunks rows (store/sqlite migration
			// 8); the doc's body follows its key in its chunk's records.
			var shard, chunk int64
			if err := db.QueryRow("SELECT shard, chunk_ts FROM doc_keys WHERE key = ?", "pay_3").Scan(&shard, &chunk); err != nil {
				t.Fatal(err)
			}
			var recs []byte
			if err := db.QueryRow("SELECT records FROM doc_chunks WHERE shard = ? AND first_ts = ?", shard, chunk).Scan(&recs); err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(recs, []byte("pay_3"))
			j := bytes.Index(recs[max(i, 0):], []byte(`{"round":3}`))
			if i < 0 || j < 0 {
				t.Fatal("pay_3's body is not in its chunk")
			}
			recs[i+j+len(`{"round":`)] = '9' // {"round":9}
			exec(t, db, "UPDATE doc_chunks SET records = ? WHERE shard = ? AND first_ts = ?", recs, shard, chunk)
			return fmt.Sprintf("log entry %d (", d.docBatch["pay_3"])
		}},
		{"rewrite a balance", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			id := d.accounts[3]
			rewrite := func(rec []byte) []byte {
				a, err := store.DecodeAccount(rec)
				if err != nil {
					t.Fatal(err)
				}
				a.CreditsPosted, _ = a.CreditsPosted.AddU64(1_000_000)
				out := make([]byte, store.AccountRecordSize)
				store.EncodeAccount(out, &a)
				return out
			}
			var rec []byte
			if err := db.QueryRow("SELECT rec FROM accounts WHERE id = ?", id[:]).Scan(&rec); err == nil {
				exec(t, db, "UPDATE accounts SET rec = ? WHERE id = ?", rewrite(rec), id[:])
			}
			rows, err := db.Query("SELECT rowid, records FROM account_log")
			if err != nil {
				t.Fatal(err)
			}
			type upd struct {
				rowid int64
				recs  []byte
			}
			var ups []upd
			for rows.Next() {
				var u upd
				if err := rows.Scan(&u.rowid, &u.recs); err != nil {
					t.Fatal(err)
				}
				for off := 0; off < len(u.recs); off += store.AccountRecordSize {
					if ledger.ID(u.recs[off:off+16]) == id {
						copy(u.recs[off:], rewrite(u.recs[off:off+store.AccountRecordSize]))
						ups = append(ups, u)
					}
				}
			}
			rows.Close()
			for _, u := range ups {
				exec(t, db, "UPDATE account_log SET records = ? WHERE rowid = ?", u.recs, u.rowid)
			}
			return "account " + id.String()
		}},
		{"swap two checkpoints", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			a, b := d.sizes[1], d.sizes[2]
			exec(t, db, `UPDATE evidence_checkpoints SET note = CASE size WHEN ?1 THEN (SELECT note FROM evidence_checkpoints WHERE size = ?2)
				ELSE (SELECT note FROM evidence_checkpoints WHERE size = ?1) END WHERE size IN (?1, ?2)`, a, b)
			return fmt.Sprintf("checkpoint stored at size %d", a)
		}},
		{"re-sign a checkpoint over another history", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			size := d.sizes[2]
			forged, err := evidence.SignCheckpoint(evidence.Checkpoint{Origin: origin, Size: size, Root: evidence.HashBytes([]byte("other history"))}, d.signer)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, db, "UPDATE evidence_checkpoints SET note = ? WHERE size = ?", forged, size)
			return fmt.Sprintf("checkpoint at size %d", size)
		}},
		{"truncate the log", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			last := d.sizes[len(d.sizes)-1]
			exec(t, db, "UPDATE evidence_size SET size = ?", last-3)
			return fmt.Sprintf("checkpoint stored at size %d", last)
		}},
		{"add a transfer outside the log", func(t *testing.T, d *ledgerDir, db *sql.DB) string {
			var lastTS int64
			var stored []byte
			if err := db.QueryRow("SELECT last_ts, records FROM transfer_chunks ORDER BY first_ts DESC LIMIT 1").Scan(&lastTS, &stored); err != nil {
				t.Fatal(err)
			}
			recs, err := sqlite.TransferChunkRecords(stored)
			if err != nil {
				t.Fatal(err)
			}
			r, err := store.DecodeTransferRecord(recs)
			if err != nil {
				t.Fatal(err)
			}
			r.ID, r.Timestamp = ledger.IDFromUint64(999999), uint64(lastTS)+5_000_000_000
			out := make([]byte, store.TransferRecordSize)
			store.EncodeTransferRecord(out, &r)
			exec(t, db, "INSERT INTO transfer_chunks (shard, first_ts, last_ts, records) VALUES (0, ?, ?, ?)", int64(r.Timestamp), int64(r.Timestamp), out)
			return "transfer " + r.ID.String()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newLedgerDir(t)
			want := tc.tamper(t, d, d.db(t))
			rep := d.audit(t)
			if rep.Divergence == nil {
				t.Fatalf("tampering not caught; report %+v", rep)
			}
			if !strings.HasPrefix(rep.Divergence.Where, want) {
				t.Fatalf("divergence at %q (%s), want at %q", rep.Divergence.Where, rep.Divergence.What, want)
			}
			t.Logf("caught: %v", rep.Divergence)
		})
	}
}

func TestRunNeedsKey(t *testing.T) {
	if _, err := audit.Run(bg, nil, audit.Options{}); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Run without a key: %v", err)
	}
}
