package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// Account log limits, units last. Changing them needs no migration.
const (
	// foldRecordsMax is the most account records account_log holds: the
	// CommitBatch that would take it past this folds the log into the
	// accounts table instead of appending to it. It bounds the overlay
	// (about 200 bytes a record), the work of a fold and what Load and
	// opening a store replay.
	foldRecordsMax = 8192
	// foldRowsMax is the most rows (batches) account_log holds, so that a
	// run of tiny batches is folded too.
	foldRowsMax = 1024
)

// The accounts a batch changed are not upserted into the accounts table
// one by one, which costs a B-tree page write per account (an account's
// page, anywhere in the table) and dominates a small batch. CommitBatch
// appends them instead, as one row of 132-byte records in id order, to
// account_log, and every so often (foldRecordsMax, foldRowsMax) a commit
// folds the log into the accounts table: it upserts, in id order, the
// final state of every account the log holds together with its own
// batch's accounts, and empties the log, in the same transaction. An
// account's committed state is therefore its row in accounts, overridden
// by its last record in account_log.
//
// Readers do not search the log: the Store keeps the accounts the log
// holds in memory (the overlay), updated after each commit succeeds and
// rebuilt from account_log when a store opens (lazily, on first use) or
// after a failed commit. GetAccount answers from the overlay or, failing
// that, from the accounts table. ListAccounts merges a page of the table
// with the overlay; a fold changes the table, so it brackets its commit
// and the overlay update with foldEpoch (odd in between), and ListAccounts
// retries a read during which the epoch changed: every page reflects one
// committed batch. Load reads accounts and account_log in one snapshot.
//
// The overlay makes one process the only writer of a database: another
// process's commits are not in this process's overlay.

// overlayEntry is an account changed since the last fold.
type overlayEntry struct {
	account ledger.Account
	shard   uint32
}

// accountView is the Store's overlay and the state of account_log.
type accountView struct {
	mu    sync.RWMutex // guards m and ids
	m     map[ledger.ID]overlayEntry
	ids   []ledger.ID // m's keys, sorted
	ready atomic.Bool // m mirrors account_log; set and cleared under Store.wmu

	// foldEpoch is odd while a fold or a rebuild changes what the table
	// and the overlay hold; foldMu is held for as long, so a reader that
	// finds the epoch odd waits on it.
	foldEpoch atomic.Uint64
	foldMu    sync.Mutex

	// The size of account_log and its limits (foldRowsMax and
	// foldRecordsMax; tests lower them); only the holder of Store.wmu
	// uses them.
	logRows, logRecords int
	rowsMax, recordsMax int

	// newIDs is scratch for apply; only the holder of Store.wmu uses it.
	newIDs []ledger.ID
}

func newAccountView() *accountView {
	return &accountView{m: map[ledger.ID]overlayEntry{}, rowsMax: foldRowsMax, recordsMax: foldRecordsMax}
}

// beginChange and endChange bracket a change of the accounts table and
// the overlay that readers must not see halfway.
func (v *accountView) beginChange() {
	v.foldMu.Lock()
	v.foldEpoch.Add(1)
}

func (v *accountView) endChange() {
	v.foldEpoch.Add(1)
	v.foldMu.Unlock()
}

// consistent runs read, which reads the accounts table (SQL) and then the
// overlay, until no fold or rebuild overlapped it, and returns its error.
func (v *accountView) consistent(read func() error) error {
	for {
		e := v.foldEpoch.Load()
		if e&1 == 1 {
			v.foldMu.Lock() // wait for the change to end
			v.foldMu.Unlock()
			continue
		}
		if err := read(); err != nil {
			return err
		}
		if v.foldEpoch.Load() == e {
			return nil
		}
	}
}

// get returns the overlay's entry for id.
func (v *accountView) get(id ledger.ID) (overlayEntry, bool) {
	v.mu.RLock()
	e, ok := v.m[id]
	v.mu.RUnlock()
	return e, ok
}

// after appends to dst, in id order, up to n overlay accounts with an id
// greater than after.
func (v *accountView) after(dst []ledger.Account, after ledger.ID, n int) []ledger.Account {
	v.mu.RLock()
	defer v.mu.RUnlock()
	i, found := slices.BinarySearchFunc(v.ids, after, compareID)
	if found {
		i++
	}
	for ; i < len(v.ids) && n > 0; i, n = i+1, n-1 {
		dst = append(dst, v.m[v.ids[i]].account)
	}
	return dst
}

func compareID(x, y ledger.ID) int { return bytes.Compare(x[:], y[:]) }

// apply records a committed batch's accounts (each once, sorted by id).
// After a fold, which put every overlay account into the table, the
// overlay is empty. Only the holder of Store.wmu calls it.
func (v *accountView) apply(shard uint32, accounts []ledger.Account, order []int32, folded bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if folded {
		clear(v.m)
		v.ids = v.ids[:0]
		v.logRows, v.logRecords = 0, 0
		return
	}
	if len(accounts) == 0 {
		return
	}
	v.newIDs = v.newIDs[:0]
	for _, i := range order {
		a := &accounts[i]
		if _, ok := v.m[a.ID]; !ok {
			v.newIDs = append(v.newIDs, a.ID)
		}
		v.m[a.ID] = overlayEntry{account: *a, shard: shard}
	}
	v.ids = mergeSortedIDs(v.ids, v.newIDs)
	v.logRows++
	v.logRecords += len(accounts)
}

// mergeSortedIDs merges sorted add (disjoint from ids) into sorted ids in
// place, from the back, and returns the extended slice.
func mergeSortedIDs(ids, add []ledger.ID) []ledger.ID {
	if len(add) == 0 {
		return ids
	}
	n := len(ids)
	ids = slices.Grow(ids, len(add))[:n+len(add)]
	i, j := n-1, len(add)-1
	for k := len(ids) - 1; j >= 0; k-- {
		if i >= 0 && compareID(ids[i], add[j]) > 0 {
			ids[k] = ids[i]
			i--
		} else {
			ids[k] = add[j]
			j--
		}
	}
	return ids
}

// logRow is one account_log row as read back: the shard and the records.
type logRow struct {
	shard   uint32
	records []byte
}

// decodeLogRecords calls fn for every account of an account_log row.
func decodeLogRecords(records []byte, fn func(a ledger.Account)) error {
	if len(records)%store.AccountRecordSize != 0 {
		return fmt.Errorf("account_log row of %d bytes, not a multiple of %d", len(records), store.AccountRecordSize)
	}
	for off := 0; off < len(records); off += store.AccountRecordSize {
		a, err := store.DecodeAccount(records[off:])
		if err != nil {
			return err
		}
		fn(a)
	}
	return nil
}

// ensureAccounts makes the overlay mirror account_log, rebuilding it if a
// store just opened or a commit failed.
func (s *Store) ensureAccounts(ctx context.Context) error {
	if s.av.ready.Load() {
		return nil
	}
	if err := s.lockWriter(); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	return s.rebuildAccountsLocked(ctx)
}

// rebuildAccountsLocked rebuilds the overlay from account_log unless it is
// ready; the caller holds wmu, so no commit runs meanwhile.
func (s *Store) rebuildAccountsLocked(ctx context.Context) error {
	v := s.av
	if v.ready.Load() {
		return nil
	}
	rows, err := s.wconn.QueryContext(ctx, "SELECT shard, records FROM account_log ORDER BY seq")
	if err != nil {
		return fmt.Errorf("account log: %w", err)
	}
	defer rows.Close()
	m := map[ledger.ID]overlayEntry{}
	var nrows, nrecs int
	for rows.Next() {
		var shard int64
		var recs []byte
		if err := rows.Scan(&shard, &recs); err != nil {
			return fmt.Errorf("account log: %w", err)
		}
		err := decodeLogRecords(recs, func(a ledger.Account) {
			m[a.ID] = overlayEntry{account: a, shard: uint32(shard)}
			nrecs++
		})
		if err != nil {
			return fmt.Errorf("account log: %w", err)
		}
		nrows++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("account log: %w", err)
	}
	ids := make([]ledger.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareID)
	v.beginChange()
	v.mu.Lock()
	v.m, v.ids = m, ids
	v.logRows, v.logRecords = nrows, nrecs
	v.mu.Unlock()
	v.ready.Store(true)
	v.endChange()
	return nil
}
