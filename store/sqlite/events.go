package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// migrationData fills what a migration's SQL cannot: by version, run in
// the migration's transaction after its SQL.
var migrationData = map[int]func(context.Context, *sql.Tx) error{
	5: fillAccountCreations,
	8: fillDocChunks,
}

// fillAccountCreations indexes the accounts created before version 5 by
// their timestamp, read from their records (accounts, then account_log).
func fillAccountCreations(ctx context.Context, tx *sql.Tx) error {
	type row struct {
		shard int64
		a     ledger.Account
	}
	var rows []row
	if err := eachRow(ctx, tx, "accounts", func(r *sql.Rows) error {
		var shard int64
		var rec []byte
		if err := r.Scan(&shard, &rec); err != nil {
			return err
		}
		a, err := store.DecodeAccount(rec)
		if err != nil {
			return err
		}
		rows = append(rows, row{shard, a})
		return nil
	}, "SELECT shard, rec FROM accounts"); err != nil {
		return err
	}
	if err := eachRow(ctx, tx, "account log", func(r *sql.Rows) error {
		var shard int64
		var recs []byte
		if err := r.Scan(&shard, &recs); err != nil {
			return err
		}
		return decodeLogRecords(recs, func(a ledger.Account) { rows = append(rows, row{shard, a}) })
	}, "SELECT shard, records FROM account_log"); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO account_creations (shard, timestamp, id) VALUES (?, ?, ?)",
			r.shard, int64(r.a.Timestamp), r.a.ID[:]); err != nil {
			return err
		}
	}
	return nil
}

// Events calls l with every asset, account, transfer and expiry of shard
// with a timestamp in [from, to], from one read snapshot except for the
// accounts' states: assets, accounts (their current state; the fields set
// at creation never change), transfers and expiries, each in timestamp
// order. Position is not called.
func (s *Store) Events(ctx context.Context, shard uint32, from, to uint64, l ledger.Loader) error {
	if err := s.events(ctx, shard, from, to, l); err != nil {
		return fmt.Errorf("sqlite: events of shard %d in [%d, %d]: %w", shard, from, to, err)
	}
	return nil
}

func (s *Store) events(ctx context.Context, shard uint32, from, to uint64, l ledger.Loader) error {
	if from > to || to > math.MaxInt64 {
		return fmt.Errorf("timestamp range [%d, %d] is empty or above 2^63-1", from, to)
	}
	lo, hi := int64(from), int64(to)
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := eachRow(ctx, tx, "assets", func(r *sql.Rows) error {
		var a ledger.Asset
		var ledg, scale, ts int64
		if err := r.Scan(&ledg, &a.Code, &scale, &ts); err != nil {
			return err
		}
		a.Ledger, a.Scale, a.Timestamp = uint32(ledg), uint8(scale), uint64(ts)
		l.Asset(a)
		return nil
	}, "SELECT ledger, code, scale, timestamp FROM assets WHERE shard = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp",
		shard, lo, hi); err != nil {
		return err
	}

	var ids []ledger.ID
	if err := eachRow(ctx, tx, "account creations", func(r *sql.Rows) error {
		var id []byte
		if err := r.Scan(&id); err != nil {
			return err
		}
		if len(id) != 16 {
			return fmt.Errorf("account id of %d bytes, want 16", len(id))
		}
		ids = append(ids, ledger.ID(id))
		return nil
	}, "SELECT id FROM account_creations WHERE shard = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp",
		shard, lo, hi); err != nil {
		return err
	}

	var transfers []ledger.TransferRecord
	if err := eachRow(ctx, tx, "transfers", func(r *sql.Rows) error {
		return scanChunk(r, func(t ledger.TransferRecord) {
			if t.Timestamp >= from && t.Timestamp <= to {
				transfers = append(transfers, t)
			}
		})
	}, `SELECT records FROM transfer_chunks WHERE shard = ?1 AND first_ts <= ?3 AND first_ts >= coalesce(
			(SELECT max(first_ts) FROM transfer_chunks WHERE shard = ?1 AND first_ts <= ?2), ?2)
		ORDER BY first_ts`, shard, lo, hi); err != nil {
		return err
	}

	var expiries []ledger.Expiry
	if err := eachRow(ctx, tx, "expiries", func(r *sql.Rows) error {
		return scanExpiry(r, func(e ledger.Expiry) { expiries = append(expiries, e) })
	}, "SELECT timestamp, pending_id FROM expiries WHERE shard = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp, pending_id",
		shard, lo, hi); err != nil {
		return err
	}
	if err := tx.Rollback(); err != nil {
		return err
	}

	for _, id := range ids {
		a, err := s.GetAccount(ctx, id)
		if err != nil {
			return fmt.Errorf("account %s: %w", id, err)
		}
		l.Account(a)
	}
	for _, t := range transfers {
		l.Transfer(t)
	}
	for _, e := range expiries {
		l.Expiry(e)
	}
	return nil
}
