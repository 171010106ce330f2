// Package bench holds AgentPay's throughput workloads, shared by
// `go test -bench` and `agentpay bench` so both measure the same thing:
// durable transfers through the engine, the naive baseline of one SQLite
// transaction per transfer, and concurrent single-transfer HTTP requests.
package bench

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/ledger"
	_ "modernc.org/sqlite" // the baseline's driver
)

// Result is one measured run.
type Result struct {
	Name      string
	Transfers int
	Elapsed   time.Duration
}

// PerSecond is the throughput.
func (r Result) PerSecond() float64 { return float64(r.Transfers) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%-44s %9d transfers in %7.3fs = %10.0f transfers/s",
		r.Name, r.Transfers, r.Elapsed.Seconds(), r.PerSecond())
}

const ledgerUSD = 1

// SetupAccounts creates the USD asset and accounts 1..n on e.
func SetupAccounts(ctx context.Context, e *ledger.Engine, n int) error {
	res, err := e.CreateAssets(ctx, []ledger.Asset{{Ledger: ledgerUSD, Code: "USD", Scale: 2}}, nil)
	if err != nil {
		return err
	}
	if !res[0].Committed() {
		return fmt.Errorf("bench: create asset: %v", res[0])
	}
	for start := 0; start < n; start += ledger.BatchEventsMax {
		batch := make([]ledger.Account, 0, ledger.BatchEventsMax)
		for i := start; i < n && len(batch) < ledger.BatchEventsMax; i++ {
			batch = append(batch, ledger.Account{ID: ledger.IDFromUint64(uint64(i + 1)), Ledger: ledgerUSD, Code: 1})
		}
		res, err := e.CreateAccounts(ctx, batch, nil)
		if err != nil {
			return err
		}
		for i, r := range res {
			if !r.Committed() {
				return fmt.Errorf("bench: create account %d: %v", start+i, r)
			}
		}
	}
	return nil
}

// Engine sends total transfers of 31 minor units between accounts 1..accounts
// (set up by SetupAccounts) in requests of perRequest, with enough requests
// in flight to keep the pipeline full, and returns when all are durable.
// firstID is the first transfer id to use (ids must not repeat on one
// engine).
func Engine(ctx context.Context, e *ledger.Engine, total, perRequest, accounts int, firstID uint64) (Result, error) {
	requests := (total + perRequest - 1) / perRequest
	work := make(chan int, requests)
	for i := 0; i < requests; i++ {
		work <- i
	}
	close(work)
	var next atomic.Uint64
	next.Store(firstID - 1)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	workers := 4 * max(1, ledger.BatchEventsMax/perRequest)
	workers = min(workers, 512)
	start := time.Now()
	for g := 0; g < workers; g++ {
		wg.Go(func() {
			req := make([]ledger.Transfer, perRequest)
			for range work {
				for i := range req {
					n := next.Add(1)
					req[i] = ledger.Transfer{ID: ledger.IDFromUint64(n),
						DebitAccountID:  ledger.IDFromUint64(n%uint64(accounts) + 1),
						CreditAccountID: ledger.IDFromUint64((n+1)%uint64(accounts) + 1),
						Amount:          31, Ledger: ledgerUSD, Code: 1}
				}
				res, err := e.CreateTransfers(ctx, req, nil)
				if err == nil && res[0] != ledger.ResultOK {
					err = fmt.Errorf("bench: transfer rejected: %v", res[0])
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return Result{}, *p
	}
	return Result{
		Name:      fmt.Sprintf("engine, %d transfers/request, %d accounts", perRequest, accounts),
		Transfers: requests * perRequest,
		Elapsed:   elapsed,
	}, nil
}

// Baseline runs the naive design on its own SQLite file (WAL,
// synchronous=FULL, like the engine's store): one transaction per transfer
// that checks the debit balance, inserts the transfer and updates both
// balances.
func Baseline(ctx context.Context, path string, total, accounts int) (Result, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, debits_posted INTEGER NOT NULL, credits_posted INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS transfers (id INTEGER PRIMARY KEY, debit INTEGER NOT NULL, credit INTEGER NOT NULL, amount INTEGER NOT NULL, ts INTEGER NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS transfers_debit ON transfers (debit, ts)`,
		`CREATE INDEX IF NOT EXISTS transfers_credit ON transfers (credit, ts)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return Result{}, fmt.Errorf("bench: baseline schema: %w", err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Result{}, err
	}
	for i := 1; i <= accounts; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO accounts VALUES (?, 0, 0)`, i); err != nil {
			tx.Rollback()
			return Result{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Result{}, err
	}
	start := time.Now()
	for n := 1; n <= total; n++ {
		debit, credit := n%accounts+1, (n+1)%accounts+1
		if err := baselineTransfer(ctx, db, n, debit, credit); err != nil {
			return Result{}, err
		}
	}
	return Result{
		Name:      fmt.Sprintf("baseline: 1 SQLite transaction per transfer"),
		Transfers: total,
		Elapsed:   time.Since(start),
	}, nil
}

func baselineTransfer(ctx context.Context, db *sql.DB, n, debit, credit int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var dpo, cpo int64
	if err := tx.QueryRowContext(ctx, `SELECT debits_posted, credits_posted FROM accounts WHERE id = ?`, debit).Scan(&dpo, &cpo); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO transfers VALUES (?, ?, ?, 31, ?)`, n, debit, credit, time.Now().UnixNano()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET debits_posted = debits_posted + 31 WHERE id = ?`, debit); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET credits_posted = credits_posted + 31 WHERE id = ?`, credit); err != nil {
		return err
	}
	return tx.Commit()
}
