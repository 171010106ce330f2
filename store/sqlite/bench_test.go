package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentpay/agentpay/internal/proc"
	"github.com/agentpay/agentpay/ledger"
)

// benchTransfers is the number of transfers per benchmark batch: the most
// events one request may carry.
const benchTransfers = ledger.BatchEventsMax

// benchLoad makes the batches the benchmarks commit: benchTransfers
// transfers between random pairs of accounts, with time-ordered (ULID,
// about 300 per millisecond, as at 300k transfers/s) or random ids.
type benchLoad struct {
	src      *rand.ChaCha8
	rng      *rand.Rand
	random   bool
	ms       int64
	ts       uint64
	seq      uint64
	accounts []ledger.Account
	index    map[ledger.ID]int
	batch    ledger.Batch
	touched  []bool
}

func newBenchLoad(accounts int, randomIDs bool) *benchLoad {
	return newBenchLoadSize(accounts, randomIDs, benchTransfers)
}

func newBenchLoadSize(accounts int, randomIDs bool, size int) *benchLoad {
	l := &benchLoad{
		src:    rand.NewChaCha8([32]byte{1}),
		random: randomIDs,
		ms:     time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
		ts:     1_750_000_000_000_000_000,
		index:  map[ledger.ID]int{},
	}
	l.rng = rand.New(l.src)
	for i := range accounts {
		a := ledger.Account{ID: l.id(), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: l.next()}
		l.accounts = append(l.accounts, a)
		l.index[a.ID] = i
	}
	l.touched = make([]bool, accounts)
	l.batch.Transfers = make([]ledger.TransferRecord, size)
	return l
}

func (l *benchLoad) next() uint64 { l.ts += 1 + l.rng.Uint64N(100); return l.ts }

func (l *benchLoad) id() ledger.ID {
	var id ledger.ID
	if l.random {
		l.src.Read(id[:])
		return id
	}
	return ledger.NewID(time.UnixMilli(l.ms), l.src)
}

// first returns the batch that creates the accounts.
func (l *benchLoad) first() *ledger.Batch {
	l.seq++
	return &ledger.Batch{Seq: l.seq, Timestamp: l.ts, Accounts: l.accounts,
		Assets: []ledger.Asset{{Ledger: 1, Code: "USD", Scale: 2, Timestamp: l.accounts[0].Timestamp}}}
}

// nextBatch fills the reused batch with the next benchTransfers transfers
// and the final state of every account they touch.
func (l *benchLoad) nextBatch() *ledger.Batch {
	l.seq++
	b := &l.batch
	b.Seq = l.seq
	clear(l.touched)
	b.Accounts = b.Accounts[:0]
	for i := range b.Transfers {
		if i%300 == 0 {
			l.ms++
		}
		d := l.rng.IntN(len(l.accounts))
		c := (d + 1 + l.rng.IntN(len(l.accounts)-1)) % len(l.accounts)
		amount := 1 + l.rng.Uint64N(10_000)
		l.accounts[d].DebitsPosted, _ = l.accounts[d].DebitsPosted.AddU64(amount)
		l.accounts[c].CreditsPosted, _ = l.accounts[c].CreditsPosted.AddU64(amount)
		l.touched[d], l.touched[c] = true, true
		b.Transfers[i] = ledger.TransferRecord{
			Transfer: ledger.Transfer{
				ID: l.id(), DebitAccountID: l.accounts[d].ID, CreditAccountID: l.accounts[c].ID,
				Amount: amount, UserData64: uint64(i), Ledger: 1, Code: 1, Timestamp: l.next(),
			},
			Fingerprint: l.rng.Uint64(),
		}
	}
	for i, t := range l.touched {
		if t {
			b.Accounts = append(b.Accounts, l.accounts[i])
		}
	}
	b.Timestamp = l.ts
	return b
}

// benchStore opens a store in a temporary directory and commits l's
// accounts to it.
func benchStore(b *testing.B, l *benchLoad) *Store {
	s := openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := s.CommitBatch(context.Background(), l.first()); err != nil {
		b.Fatal(err)
	}
	return s
}

// commitTimed commits batch with the benchmark's timer running (it is
// stopped when called) and returns the process's CPU time the commit took;
// the timer is left running.
func commitTimed(b *testing.B, s *Store, batch *ledger.Batch) time.Duration {
	c0 := proc.CPU()
	b.StartTimer()
	if err := s.CommitBatch(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := proc.CPU() - c0
	b.StartTimer()
	return cpu
}

// BenchmarkCommitBatch commits batches of 8,189 transfers through
// CommitBatch (durable: WAL, synchronous=FULL) and reports transfers/s.
func BenchmarkCommitBatch(b *testing.B) {
	for _, tc := range []struct {
		accounts  int
		randomIDs bool
	}{
		{1000, false},
		{10000, false},
		{1000, true},
	} {
		ids := "ulid"
		if tc.randomIDs {
			ids = "random"
		}
		b.Run(fmt.Sprintf("accounts=%d/ids=%s", tc.accounts, ids), func(b *testing.B) {
			l := newBenchLoad(tc.accounts, tc.randomIDs)
			s := benchStore(b, l)
			var touched int
			var cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				batch := l.nextBatch()
				touched += len(batch.Accounts)
				cpu += commitTimed(b, s, batch)
			}
			b.ReportMetric(float64(b.N*benchTransfers)/b.Elapsed().Seconds(), "transfers/s")
			b.ReportMetric(float64(touched)/float64(b.N), "accounts/batch")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/batch")
			b.ReportMetric(0, "ns/op") // per-batch time is in transfers/s
		})
	}
}

// BenchmarkNaiveInsert is the baseline: the same transfers as
// BenchmarkCommitBatch (1,000 accounts, ULIDs), stored as one row per
// transfer (id primary key, indexes on the debit and credit accounts),
// one INSERT each, in one transaction per transfer (tx=transfer) or per
// batch (tx=batch), durable like CommitBatch.
func BenchmarkNaiveInsert(b *testing.B) {
	for _, perBatch := range []bool{false, true} {
		name := "tx=transfer"
		if perBatch {
			name = "tx=batch"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "naive.db")
			db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, q := range []string{
				`CREATE TABLE transfers (
					id BLOB PRIMARY KEY, debit_account_id BLOB NOT NULL, credit_account_id BLOB NOT NULL,
					amount INTEGER NOT NULL, pending_id BLOB NOT NULL, user_data_128 BLOB NOT NULL,
					user_data_64 INTEGER NOT NULL, user_data_32 INTEGER NOT NULL, timeout INTEGER NOT NULL,
					ledger INTEGER NOT NULL, code INTEGER NOT NULL, flags INTEGER NOT NULL,
					timestamp INTEGER NOT NULL, fingerprint INTEGER NOT NULL)`,
				"CREATE INDEX transfers_by_debit ON transfers (debit_account_id, timestamp)",
				"CREATE INDEX transfers_by_credit ON transfers (credit_account_id, timestamp)",
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			ins, err := db.PrepareContext(ctx, "INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			insert := func(stmt *sql.Stmt, t *ledger.TransferRecord) error {
				_, err := stmt.ExecContext(ctx, t.ID[:], t.DebitAccountID[:], t.CreditAccountID[:],
					int64(t.Amount), t.PendingID[:], t.UserData128[:], int64(t.UserData64),
					int64(t.UserData32), int64(t.Timeout), int64(t.Ledger), int64(t.Code),
					int64(t.Flags), int64(t.Timestamp), int64(t.Fingerprint))
				return err
			}
			l := newBenchLoad(1000, false)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				batch := l.nextBatch()
				b.StartTimer()
				if perBatch {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					stmt := tx.StmtContext(ctx, ins)
					for i := range batch.Transfers {
						if err := insert(stmt, &batch.Transfers[i]); err != nil {
							b.Fatal(err)
						}
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for i := range batch.Transfers {
					if err := insert(ins, &batch.Transfers[i]); err != nil { // autocommit: one transaction
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*benchTransfers)/b.Elapsed().Seconds(), "transfers/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkReads measures the API's read paths on a store holding 20
// batches of benchmark transfers (1,000 accounts, ULIDs): some history in
// level 1, some in level 0.
func BenchmarkReads(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, filepath.Join(b.TempDir(), "reads.db"))
	l := newBenchLoad(1000, false)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		b.Fatal(err)
	}
	var ids []ledger.ID
	for range 20 {
		batch := l.nextBatch()
		if err := s.CommitBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(batch.Transfers); i += 97 {
			ids = append(ids, batch.Transfers[i].ID)
		}
	}
	b.Run("GetTransfer", func(b *testing.B) {
		for i := range b.N {
			if _, err := s.GetTransfer(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetAccount", func(b *testing.B) {
		for i := range b.N {
			if _, err := s.GetAccount(ctx, l.accounts[i%len(l.accounts)].ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListAccountTransfers/limit=100", func(b *testing.B) {
		for i := range b.N {
			p, err := s.ListAccountTransfers(ctx, l.accounts[i%len(l.accounts)].ID, 0, 100)
			if err != nil || len(p.Transfers) != 100 {
				b.Fatalf("got %d transfers, %v", len(p.Transfers), err)
			}
		}
	})
	b.Run("ListAccountTransfers/recent", func(b *testing.B) {
		// The newest transfers: level-0 history only.
		after := l.ts - 200_000
		for i := range b.N {
			if _, err := s.ListAccountTransfers(ctx, l.accounts[i%len(l.accounts)].ID, after, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCommitBatchSmall commits the small batches that concurrent
// single-transfer HTTP requests make: each transfer with its idempotency
// outcome (a ~600-byte response body). The per-batch time bounds how many
// single-transfer requests a node answers per second.
func BenchmarkCommitBatchSmall(b *testing.B) {
	for _, tc := range []struct{ size, outcomes int }{{1, 1}, {32, 32}, {32, 0}, {256, 256}} {
		size := tc.size
		b.Run(fmt.Sprintf("transfers=%d/outcomes=%d", size, tc.outcomes), func(b *testing.B) {
			l := newBenchLoadSize(1000, false, size)
			s := benchStore(b, l)
			body := make([]byte, 600)
			n := 0
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				batch := l.nextBatch()
				batch.Outcomes = batch.Outcomes[:0]
				for range tc.outcomes {
					n++
					batch.Outcomes = append(batch.Outcomes, ledger.Outcome{Key: fmt.Sprintf("key-%d", n),
						Status: 201, Body: body, CreatedAt: l.ts})
				}
				cpu += commitTimed(b, s, batch)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
			// CPU, unlike wall time, is not the fsync's and other load's.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/batch")
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "transfers/s")
		})
	}
}

// walletDoc is a wallet payment's doc as the wallet writes it (about
// 2.4 KB of JSON), with this payment's ids, jti and signature.
func walletDoc(l *benchLoad, key string, legs []ledger.TransferRecord) []byte {
	var sig [64]byte
	l.src.Read(sig[:])
	var jti [16]byte
	l.src.Read(jti[:])
	b := fmt.Appendf(nil, `{"id":%q,"mandate":"mdt_01M8MVEB204P23Z39M6S9NRE96","agent":"agt_bench3","owner":"usr_01M8MVEB203NC5BW4Y6NVX0FEN","wallet":"wal_01M8MVEB20SNE20NNK04D4KK5V","payee":"mch_bench%02d","amount":31,"currency":"USD","scale":2,"status":"completed",`,
		key, l.rng.IntN(64))
	b = fmt.Appendf(b, `"closed_mandate":"eyJhbGciOiJFZERTQSIsImtpZCI6ImdVRVZucUJZbnNZd3E1Q21vV0pNNVAyU0RCMEs0ZXROWTJ5dWUtRFBycDQiLCJ0eXAiOiJhY3QtcGF5bWVudC1tYW5kYXRlK2p3dCJ9.eyJ2Y3QiOiJtYW5kYXRlLnBheW1lbnQuMSIsImlzcyI6ImFndF94IiwiYXVkIjoiYWdlbnRwYXkudGVzdCIsImlhdCI6MTc5NTk5NjE5OSwiZXhwIjoxNzk1OTk3MTAwLCJqdGkiOiJ%s.%s",`,
		base64.RawURLEncoding.EncodeToString(jti[:])+"IiwidHJhbnNhY3Rpb25faWQiOiJzaTRPQlBtTU9rdklfQWRkWGgtLW5LUU5ic2ZrNXRSd1dJUjZKTzY3cllZIiwicGF5ZWUiOnsiaWQiOiJtY2hfYmVuY2gwMSIsIm5hbWUiOiJCZW5jaCBtZXJjaGFudCJ9LCJwYXltZW50X2Ftb3VudCI6eyJhbW91bnQiOjMxLCJjdXJyZW5jeSI6IlVTRCIsInNjYWxlIjoyfSwicGF5bWVudF9pbnN0cnVtZW50Ijp7ImlkIjoid2FsXzAxTThNVkVCMjBTTkUyME5OSzA0RDRLSzVWIiwidHlwZSI6ImFnZW50cGF5X3dhbGxldCJ9LCJvcGVuX21hbmRhdGVfaGFzaCI6ImNOcTItMWk1MTZFWkFfVHhJcWFWdkJBWlhIaTFGTjFNT3M2X1d1R0M3cEkiLCJtb2RhbGl0eSI6Imh1bWFuX25vdF9wcmVzZW50In0",
		base64.RawURLEncoding.EncodeToString(sig[:]))
	used := 1000 + l.rng.Int64N(1<<30)
	b = fmt.Appendf(b, `"decision":{"outcome":"allow","checks":[{"mandate":"payment","index":0,"type":"payment.budget","result":"pass","detail":"%d.%02d USD of the total budget 10995116277.76 USD left after this payment","limits":[{"name":"total","unit":"USD","scale":2,"max":1099511627776,"used":%d,"requested":31,"remaining":%d}]},`,
		(1<<40-used-31)/100, (1<<40-used-31)%100, used, 1<<40-used-31)
	b = fmt.Appendf(b, `{"mandate":"payment","index":1,"type":"payment.budget","result":"pass","detail":"%d.%02d USD of the day budget 10995116277.76 USD left after this payment","limits":[{"name":"day","unit":"USD","scale":2,"max":1099511627776,"used":%d,"requested":31,"remaining":%d}]},`,
		(1<<40-used-31)/100, (1<<40-used-31)%100, used, 1<<40-used-31)
	b = append(b, `{"mandate":"payment","index":2,"type":"payment.amount_range","result":"pass","detail":"0.31 USD is within [0.00 USD, 10.00 USD]","limits":[{"name":"max","unit":"USD","scale":2,"max":1000,"used":0,"requested":31,"remaining":969}]}]},"risk":{"outcome":"approve"},"legs":[`...)
	for i, t := range legs {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"name":"leg%d","transfer":"%s","account":"%s"}`, i, t.ID, t.DebitAccountID)
	}
	return append(b, `],"created_at":"2026-11-29T23:50:00Z"}`...)
}

// BenchmarkCommitWalletBatch commits batches shaped like a busy wallet's
// (payments=N: N payments of 3 transfers and one 2.4 KB JSON doc each,
// time-ordered ids and keys) and reports the commit's CPU per payment,
// the store's share of a payment's cost (BenchmarkPay in wallet/). At
// payments=5 the batch's fixed cost dominates.
func BenchmarkCommitWalletBatch(b *testing.B) {
	for _, payments := range []int{5, 320} {
		b.Run(fmt.Sprintf("payments=%d", payments), func(b *testing.B) {
			benchWalletBatch(b, payments)
		})
	}
}

func benchWalletBatch(b *testing.B, payments int) {
	const legs = 3
	l := newBenchLoadSize(1000, false, payments*legs)
	s := benchStore(b, l)
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		batch := l.nextBatch()
		batch.Docs = batch.Docs[:0]
		for p := range payments {
			ts := batch.Transfers[p*legs : (p+1)*legs]
			key := "pay_" + ts[legs-1].Transfer.ID.String()
			batch.Docs = append(batch.Docs, ledger.Doc{Kind: "payment", Key: key,
				Body: walletDoc(l, key, ts), Timestamp: l.next()})
		}
		batch.Timestamp = l.ts
		cpu += commitTimed(b, s, batch)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*payments), "cpu-µs/payment")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/batch")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*payments), "wall-µs/payment")
	b.ReportMetric(0, "ns/op")
}
