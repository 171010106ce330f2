package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// rstmt returns the reader pool's prepared statement for query, preparing
// it on first use (after Migrate, since it names tables).
func (s *Store) rstmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.rstmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.rdb.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.rstmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// accountColumns are the columns scanAccount reads.
const accountColumns = "rec"

// scanAccount scans one row of accountColumns.
func scanAccount(sc interface{ Scan(...any) error }) (ledger.Account, error) {
	var rec []byte // RawBytes is not allowed with QueryRow
	if err := sc.Scan(&rec); err != nil {
		return ledger.Account{}, err
	}
	if len(rec) != store.AccountRecordSize {
		return ledger.Account{}, fmt.Errorf("account record of %d bytes, want %d", len(rec), store.AccountRecordSize)
	}
	return store.DecodeAccount(rec)
}

// Load streams shard's committed state into l from one read snapshot:
// position, assets in ledger order, accounts in id order, transfers and
// expiries in timestamp order.
func (s *Store) Load(ctx context.Context, shard uint32, l ledger.Loader) error {
	if err := s.load(ctx, shard, l); err != nil {
		return fmt.Errorf("sqlite: load shard %d: %w", shard, err)
	}
	return nil
}

func (s *Store) load(ctx context.Context, shard uint32, l ledger.Loader) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var seq, ts int64
	err = tx.QueryRowContext(ctx, "SELECT seq, timestamp FROM shard_positions WHERE shard = ?", shard).Scan(&seq, &ts)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("position: %w", err)
	}
	l.Position(uint64(seq), uint64(ts))

	if err := eachRow(ctx, tx, "assets", func(r *sql.Rows) error {
		var a ledger.Asset
		var ledg, scale, ts int64
		if err := r.Scan(&ledg, &a.Code, &scale, &ts); err != nil {
			return err
		}
		a.Ledger, a.Scale, a.Timestamp = uint32(ledg), uint8(scale), uint64(ts)
		l.Asset(a)
		return nil
	}, "SELECT ledger, code, scale, timestamp FROM assets WHERE shard = ? ORDER BY ledger", shard); err != nil {
		return err
	}

	// An account's state is its row in accounts overridden by its last
	// record in account_log (accounts.go); accounts go out in id order.
	logged := map[ledger.ID]ledger.Account{}
	if err := eachRow(ctx, tx, "account log", func(r *sql.Rows) error {
		var recs sql.RawBytes
		if err := r.Scan(&recs); err != nil {
			return err
		}
		return decodeLogRecords(recs, func(a ledger.Account) { logged[a.ID] = a })
	}, "SELECT records FROM account_log WHERE shard = ? ORDER BY seq", shard); err != nil {
		return err
	}
	ids := make([]ledger.ID, 0, len(logged))
	for id := range logged {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareID)
	if err := eachRow(ctx, tx, "accounts", func(r *sql.Rows) error {
		a, err := scanAccount(r)
		if err != nil {
			return err
		}
		for len(ids) > 0 && compareID(ids[0], a.ID) < 0 {
			l.Account(logged[ids[0]]) // created since the last fold
			ids = ids[1:]
		}
		if len(ids) > 0 && ids[0] == a.ID {
			a = logged[a.ID]
			ids = ids[1:]
		}
		l.Account(a)
		return nil
	}, "SELECT "+accountColumns+" FROM accounts WHERE shard = ? ORDER BY id", shard); err != nil {
		return err
	}
	for _, id := range ids {
		l.Account(logged[id])
	}

	if err := eachRow(ctx, tx, "transfers", func(r *sql.Rows) error {
		return scanChunk(r, func(t ledger.TransferRecord) { l.Transfer(t) })
	}, "SELECT records FROM transfer_chunks WHERE shard = ? ORDER BY first_ts", shard); err != nil {
		return err
	}

	return eachRow(ctx, tx, "expiries", func(r *sql.Rows) error {
		return scanExpiry(r, l.Expiry)
	}, "SELECT timestamp, pending_id FROM expiries WHERE shard = ? ORDER BY timestamp, pending_id", shard)
}

// scanChunk decodes the records of a transfer_chunks row (one column,
// records) and calls fn with each, in order.
func scanChunk(r *sql.Rows, fn func(ledger.TransferRecord)) error {
	var stored sql.RawBytes
	if err := r.Scan(&stored); err != nil {
		return err
	}
	var buf []byte
	recs, err := unpackTransferChunk(&buf, stored)
	if err != nil {
		return err
	}
	for off := 0; off < len(recs); off += store.TransferRecordSize {
		t, err := store.DecodeTransferRecord(recs[off:])
		if err != nil {
			return err
		}
		fn(t)
	}
	return nil
}

// scanExpiry scans an expiries row (timestamp, pending_id) into fn.
func scanExpiry(r *sql.Rows, fn func(ledger.Expiry)) error {
	var ts int64
	var id sql.RawBytes
	if err := r.Scan(&ts, &id); err != nil {
		return err
	}
	if len(id) != 16 {
		return fmt.Errorf("pending id of %d bytes, want 16", len(id))
	}
	fn(ledger.Expiry{Timestamp: uint64(ts), PendingID: ledger.ID(id)})
	return nil
}

// eachRow runs query in tx and calls fn for every row.
func eachRow(ctx context.Context, tx *sql.Tx, what string, fn func(*sql.Rows) error, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ListAssets returns every asset in ledger order. An asset committed by
// several shards is listed once, as the lowest shard committed it.
func (s *Store) ListAssets(ctx context.Context) ([]ledger.Asset, error) {
	// SQLite takes the bare columns from the row min(shard) selects.
	rows, err := s.rdb.QueryContext(ctx,
		"SELECT ledger, code, scale, timestamp, min(shard) FROM assets GROUP BY ledger ORDER BY ledger")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list assets: %w", err)
	}
	defer rows.Close()
	var out []ledger.Asset
	for rows.Next() {
		var a ledger.Asset
		var ledg, scale, ts, shard int64
		if err := rows.Scan(&ledg, &a.Code, &scale, &ts, &shard); err != nil {
			return nil, fmt.Errorf("sqlite: list assets: %w", err)
		}
		a.Ledger, a.Scale, a.Timestamp = uint32(ledg), uint8(scale), uint64(ts)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list assets: %w", err)
	}
	return out, nil
}

// GetAccount returns a committed account or an error wrapping
// store.ErrNotFound: from the overlay if the account changed since the
// last fold, else from the accounts table.
func (s *Store) GetAccount(ctx context.Context, id ledger.ID) (ledger.Account, error) {
	if s.isClosed.Load() {
		return ledger.Account{}, fmt.Errorf("sqlite: get account: %w", errClosed)
	}
	if err := s.ensureAccounts(ctx); err != nil {
		return ledger.Account{}, fmt.Errorf("sqlite: get account: %w", err)
	}
	// The overlay holds every account changed since the last fold, newer
	// than the table. A commit may add the account to the overlay while
	// the table is read, so the overlay is checked again after the read;
	// a fold overlapping the read makes consistent run it again. So a
	// reader never sees a balance older than one a previous read returned.
	var a ledger.Account
	var missing bool // not found is an answer too, and must not overlap a fold
	err := s.av.consistent(func() error {
		missing = false
		if e, ok := s.av.get(id); ok {
			a = e.account
			return nil
		}
		st, err := s.rstmt(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id = ?")
		if err != nil {
			return err
		}
		got, err := scanAccount(st.QueryRowContext(ctx, id[:]))
		if e, ok := s.av.get(id); ok {
			a = e.account
			return nil
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			missing = true
		case err != nil:
			return err
		default:
			a = got
		}
		return nil
	})
	if err != nil {
		return ledger.Account{}, fmt.Errorf("sqlite: get account %v: %w", id, err)
	}
	if missing {
		return ledger.Account{}, fmt.Errorf("sqlite: get account %v: %w", id, store.ErrNotFound)
	}
	return a, nil
}

// ListAccounts returns up to limit (1..store.PageLimitMax) accounts with an
// id greater than after, in id order; Next is the last id of the page when
// more accounts follow. The page merges the accounts table with the
// overlay, retrying if a fold overlapped the read, so it shows one
// committed batch.
func (s *Store) ListAccounts(ctx context.Context, after ledger.ID, limit int) (store.AccountPage, error) {
	var page store.AccountPage
	if err := store.CheckPageLimit(limit); err != nil {
		return page, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	if s.isClosed.Load() {
		return page, fmt.Errorf("sqlite: list accounts: %w", errClosed)
	}
	if err := s.ensureAccounts(ctx); err != nil {
		return page, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	st, err := s.rstmt(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id > ? ORDER BY id LIMIT ?")
	if err != nil {
		return page, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	var table, overlay []ledger.Account
	err = s.av.consistent(func() error {
		table, overlay = table[:0], overlay[:0]
		rows, err := st.QueryContext(ctx, after[:], limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			table = append(table, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		overlay = s.av.after(overlay, after, limit+1)
		return nil
	})
	if err != nil {
		return store.AccountPage{}, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	// Both lists are sorted and hold the first limit+1 ids of their
	// source, so the merge's first limit+1 are the page and the next.
	all := make([]ledger.Account, 0, min(len(table)+len(overlay), limit+1))
	for len(all) <= limit && (len(table) > 0 || len(overlay) > 0) {
		c := 1 // the overlay's next account comes first
		switch {
		case len(overlay) == 0:
			c = -1
		case len(table) > 0:
			c = compareID(table[0].ID, overlay[0].ID)
		}
		if c < 0 {
			all = append(all, table[0])
			table = table[1:]
			continue
		}
		if c == 0 {
			table = table[1:] // the overlay has the newer state
		}
		all = append(all, overlay[0])
		overlay = overlay[1:]
	}
	page.Accounts = all
	if len(page.Accounts) > limit {
		page.Accounts = page.Accounts[:limit]
		page.Next = page.Accounts[limit-1].ID
	}
	return page, nil
}

// chunkReader finds transfer records by (shard, timestamp), keeping the
// last chunk it read, since a page's transfers often share chunks.
type chunkReader struct {
	st          *sql.Stmt
	shard       uint32
	first, last uint64
	recs        []byte
	loaded      bool
}

const chunkQuery = `SELECT first_ts, last_ts, records FROM transfer_chunks
	WHERE shard = ? AND first_ts <= ? ORDER BY first_ts DESC LIMIT 1`

// record returns the encoded record of the transfer at (shard, ts).
func (c *chunkReader) record(ctx context.Context, shard uint32, ts uint64) ([]byte, error) {
	if !c.loaded || c.shard != shard || ts < c.first || ts > c.last {
		var first, last int64
		var stored []byte
		err := c.st.QueryRowContext(ctx, shard, int64(ts)).Scan(&first, &last, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("no transfer chunk holds shard %d timestamp %d", shard, ts)
		}
		if err != nil {
			return nil, err
		}
		var buf []byte // the records returned share it
		recs, err := unpackTransferChunk(&buf, stored)
		if err != nil {
			return nil, err
		}
		c.shard, c.first, c.last, c.recs, c.loaded = shard, uint64(first), uint64(last), recs, true
	}
	n := len(c.recs) / store.TransferRecordSize
	i := sort.Search(n, func(i int) bool {
		return store.TransferRecordTimestamp(c.recs[i*store.TransferRecordSize:]) >= ts
	})
	if i == n || store.TransferRecordTimestamp(c.recs[i*store.TransferRecordSize:]) != ts {
		return nil, fmt.Errorf("transfer chunk at %d lacks timestamp %d", c.first, ts)
	}
	return c.recs[i*store.TransferRecordSize : (i+1)*store.TransferRecordSize], nil
}

// GetTransfer returns a committed transfer or an error wrapping
// store.ErrNotFound.
func (s *Store) GetTransfer(ctx context.Context, id ledger.ID) (ledger.TransferRecord, error) {
	r, err := s.getTransfer(ctx, id)
	if err != nil {
		return ledger.TransferRecord{}, fmt.Errorf("sqlite: get transfer %v: %w", id, err)
	}
	return r, nil
}

func (s *Store) getTransfer(ctx context.Context, id ledger.ID) (ledger.TransferRecord, error) {
	// Groups whose ranges hold id; the nearest (largest min_id) first,
	// which is the one holding id unless ranges of several batches
	// overlap.
	st, err := s.rstmt(ctx, `SELECT shard, entries FROM transfer_ids
		WHERE prefix = ?1 AND min_id <= ?2 AND max_id >= ?2 ORDER BY min_id DESC`)
	if err != nil {
		return ledger.TransferRecord{}, err
	}
	rows, err := st.QueryContext(ctx, idPrefix(id), id[:])
	if err != nil {
		return ledger.TransferRecord{}, err
	}
	var (
		shard uint32
		ts    uint64
		found bool
	)
	for !found && rows.Next() {
		var sh int64
		var entries sql.RawBytes
		if err := rows.Scan(&sh, &entries); err != nil {
			rows.Close()
			return ledger.TransferRecord{}, err
		}
		if ts, found = findID(entries, id); found {
			shard = uint32(sh)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ledger.TransferRecord{}, err
	}
	if !found {
		return ledger.TransferRecord{}, store.ErrNotFound
	}
	cst, err := s.rstmt(ctx, chunkQuery)
	if err != nil {
		return ledger.TransferRecord{}, err
	}
	c := chunkReader{st: cst}
	rec, err := c.record(ctx, shard, ts)
	if err != nil {
		return ledger.TransferRecord{}, err
	}
	r, err := store.DecodeTransferRecord(rec)
	if err != nil {
		return ledger.TransferRecord{}, err
	}
	if r.ID != id {
		return ledger.TransferRecord{}, fmt.Errorf("id index points at timestamp %d, which holds transfer %v", ts, r.ID)
	}
	return r, nil
}

// findID binary-searches a transfer_ids entries blob for the id's lower 10
// bytes and returns its timestamp.
func findID(entries []byte, id ledger.ID) (uint64, bool) {
	n := len(entries) / idEntrySize
	low := id[6:]
	i := sort.Search(n, func(i int) bool {
		return bytes.Compare(entries[i*idEntrySize:i*idEntrySize+10], low) >= 0
	})
	if i == n || !bytes.Equal(entries[i*idEntrySize:i*idEntrySize+10], low) {
		return 0, false
	}
	return binary.BigEndian.Uint64(entries[i*idEntrySize+10:]), true
}

// ListAccountTransfers returns up to limit (1..store.PageLimitMax)
// committed transfers that debit or credit account with a timestamp
// greater than after, in timestamp order; Next is the last timestamp of
// the page when more follow. An unknown account yields an empty page.
func (s *Store) ListAccountTransfers(ctx context.Context, account ledger.ID, after uint64, limit int) (store.TransferPage, error) {
	page, err := s.listAccountTransfers(ctx, account, after, limit)
	if err != nil {
		return store.TransferPage{}, fmt.Errorf("sqlite: list transfers of account %v: %w", account, err)
	}
	return page, nil
}

func (s *Store) listAccountTransfers(ctx context.Context, account ledger.ID, after uint64, limit int) (store.TransferPage, error) {
	var page store.TransferPage
	if err := store.CheckPageLimit(limit); err != nil {
		return page, err
	}
	if after >= math.MaxInt64 {
		return page, nil // no timestamp is larger
	}
	if s.isClosed.Load() {
		return page, errClosed
	}
	if err := s.ensureAccounts(ctx); err != nil {
		return page, err
	}
	// The account's shard: from the overlay, looked up before the snapshot
	// below starts (as in GetAccount), or from the accounts table.
	e, known := s.av.get(account)
	shard := e.shard
	// One snapshot for the history and the records; limit+1 references
	// tell whether another page follows.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, err
	}
	defer tx.Rollback()
	if !known {
		var sh int64
		err = tx.QueryRowContext(ctx, "SELECT shard FROM accounts WHERE id = ?", account[:]).Scan(&sh)
		if errors.Is(err, sql.ErrNoRows) {
			return page, nil // an unknown account has no transfers
		}
		if err != nil {
			return page, err
		}
		shard = uint32(sh)
	}
	refs := make([]uint64, 0, min(limit+1, 64))
	// collect appends the timestamps above after from rows of
	// timestamps, until it has limit+1.
	collect := func(st *sql.Stmt, args ...any) error {
		rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for len(refs) <= limit && rows.Next() {
			var tss sql.RawBytes
			if err := rows.Scan(&tss); err != nil {
				return err
			}
			if err := eachTimestamp(tss, func(ts uint64) bool {
				if ts > after {
					refs = append(refs, ts)
				}
				return len(refs) <= limit
			}); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	// Level 1 holds the shard's older transfers, level 0 the newer ones.
	l1, err := s.rstmt(ctx, `SELECT timestamps FROM account_transfers
		WHERE account_id = ? AND last_ts > ? ORDER BY last_ts`)
	if err != nil {
		return page, err
	}
	if err := collect(l1, account[:], int64(after)); err != nil {
		return page, err
	}
	if len(refs) <= limit {
		batches, err := s.l0Batches(ctx, tx, shard, after)
		if err != nil {
			return page, err
		}
		l0, err := s.rstmt(ctx, `SELECT min_account, entries FROM account_transfers_recent
			WHERE shard = ? AND batch_ts = ? AND max_account >= ? ORDER BY max_account, part`)
		if err != nil {
			return page, err
		}
		l0tx := tx.StmtContext(ctx, l0)
		for _, bts := range batches {
			if len(refs) > limit {
				break
			}
			if err := s.collectL0(ctx, l0tx, shard, bts, account, after, limit, &refs); err != nil {
				return page, err
			}
		}
	}
	if len(refs) > limit {
		refs = refs[:limit]
		page.Next = refs[limit-1]
	}
	if len(refs) == 0 {
		return page, nil
	}
	cst, err := s.rstmt(ctx, chunkQuery)
	if err != nil {
		return page, err
	}
	c := chunkReader{st: tx.StmtContext(ctx, cst)}
	page.Transfers = make([]ledger.Transfer, 0, len(refs))
	for _, ts := range refs {
		rec, err := c.record(ctx, shard, ts)
		if err != nil {
			return store.TransferPage{}, err
		}
		t, err := store.DecodeTransferRecord(rec)
		if err != nil {
			return store.TransferPage{}, err
		}
		if t.DebitAccountID != account && t.CreditAccountID != account {
			return store.TransferPage{}, fmt.Errorf("history points at timestamp %d, transfer %v of other accounts", ts, t.ID)
		}
		page.Transfers = append(page.Transfers, t.Transfer)
	}
	return page, nil
}

// l0Batches returns the first timestamps of the shard's level-0 history
// batches that end after after, in order.
func (s *Store) l0Batches(ctx context.Context, tx *sql.Tx, shard uint32, after uint64) ([]int64, error) {
	st, err := s.rstmt(ctx, `SELECT first_ts FROM history_batches
		WHERE shard = ? AND last_ts > ? ORDER BY first_ts`)
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, shard, int64(after))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var ts int64
		if err := rows.Scan(&ts); err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, rows.Err()
}

// collectL0 appends to refs, until it holds limit+1, the timestamps above
// after of account in one level-0 history batch.
func (s *Store) collectL0(ctx context.Context, st *sql.Stmt, shard uint32, batchTS int64, account ledger.ID, after uint64, limit int, refs *[]uint64) error {
	rows, err := st.QueryContext(ctx, shard, batchTS, account[:])
	if err != nil {
		return err
	}
	defer rows.Close()
	for len(*refs) <= limit && rows.Next() {
		var minAccount, entries sql.RawBytes
		if err := rows.Scan(&minAccount, &entries); err != nil {
			return err
		}
		if bytes.Compare(minAccount, account[:]) > 0 {
			break // rows from here on hold larger accounts only
		}
		err := parseL0(entries, func(a ledger.ID, off, end int) error {
			if a != account || len(*refs) > limit {
				return nil
			}
			return eachTimestamp(entries[off:end], func(ts uint64) bool {
				if ts > after {
					*refs = append(*refs, ts)
				}
				return len(*refs) <= limit
			})
		})
		if err != nil {
			return err
		}
	}
	return rows.Err()
}
