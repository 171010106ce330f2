package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// Layout limits, units last. Changing them needs no migration: readers
// take rows as they find them.
const (
	// chunkRecordsMax is the most transfer records in one transfer_chunks
	// row (8 KiB).
	chunkRecordsMax = 64
	// l0RowBytesMax bounds a level-0 history row's entries, and
	// l1RowBytesMax a level-1 row's timestamps: both keep the row on its
	// B-tree page (a 4 KiB page holds ~1,000 bytes of a WITHOUT ROWID row
	// before it spills to an overflow page).
	l0RowBytesMax = 900
	l1RowBytesMax = 900
	// historyBatchesMax is how many batches of a shard level-0 history
	// holds before CommitBatch compacts it; readers probe each level-0
	// batch.
	historyBatchesMax = 32
	// l0BytesMin is the level-0 entries (bytes) of a shard above which a
	// compaction moves level 0 to level 1; below, it merges level 0 into
	// one level-0 batch, so that small batches do not give every account
	// a short level-1 row (a B-tree page write each) every 32 batches.
	// 256 KiB is about 75,000 timestamps; 32 batches of 8,189 transfers
	// hold several times that, so large batches always go to level 1.
	l0BytesMin = 256 << 10
	// idGroupEntriesMax is the most ids in one transfer_ids row; 48 entries
	// of 18 bytes keep the row on its B-tree page.
	idGroupEntriesMax = 48
	// idEntrySize is one transfer_ids entry: the id's lower 10 bytes (the
	// upper 6 are the row's prefix) and the timestamp (8).
	idEntrySize = 18
	// bulkRowsMax is the most rows one multi-row INSERT carries.
	bulkRowsMax = 64
)

// idPrefix returns the transfer_ids prefix of id: its upper 48 bits (the
// millisecond of a ULID or UUIDv7).
func idPrefix(id ledger.ID) int64 { return int64(id.Hi() >> 16) }

// bulk is a multi-row INSERT of one table, prepared for 1, 2, 4, ...,
// bulkRowsMax rows on the writer connection, so n rows cost about
// n/bulkRowsMax statement executions.
type bulk struct {
	head, row, tail string // INSERT ... VALUES | (?, ?) | ON CONFLICT ...
	cols            int
	stmts           map[int]driver.StmtExecContext
}

func newBulk(head string, cols int, tail string) *bulk {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return &bulk{head: head, row: row, tail: tail, cols: cols, stmts: map[int]driver.StmtExecContext{}}
}

// writer is the state of the writer connection that CommitBatch uses:
// prepared statements and buffers reused from batch to batch, so a batch
// costs a fixed number of allocations per row, not per transfer. Only the
// goroutine holding Store.wmu touches it, inside wconn.Raw.
type writer struct {
	dc    driver.Conn
	av    *accountView           // the Store's; see accounts.go
	fold  bool                   // this batch folds account_log into accounts
	stmts map[string]driver.Stmt // single statements by SQL text
	args  []driver.NamedValue    // ordinals 1..n, reused
	vals  []driver.Value         // the values of the rows of one bulk insert

	assets, accounts, chunks, recent, history, ids, expiries, creations *bulk
	docChunks, docKeys, docKeyGroups                                    *bulk

	// shards is what the writer knows of each shard's committed state,
	// read from the database on first use and kept up to date by its
	// commits; sh is the batch's shard's. A failed commit drops it all.
	shards map[uint32]*shardState
	sh     *shardState

	docs docChunker // the batch's docs, packed
	// packedDocs and packedTransfers are the buffers of the batch's
	// compressed doc and transfer chunks, reused.
	packedDocs, packedTransfers [][]byte

	// evFiles are the evidence files' stored versions as this writer
	// knows them, evPending the batch's (evidence.go).
	evFiles, evPending map[string]*evFile

	recs      []byte // the batch's encoded transfers
	accts     []byte // the batch's encoded accounts
	acctIndex map[ledger.ID]int32
	acctIDs   []ledger.ID // distinct accounts of the batch's transfers
	counts    []int32     // per account: its transfers
	sides     []int32     // per transfer: debit and credit account indexes
	offsets   []int32     // per account: start of its timestamps in tsList
	tsList    []uint64    // per-account timestamps
	idKeys    []idKey
	idBuf     []byte
	order     []int32 // account indexes in id order (history)
	acctOrder []int32 // b.Accounts indexes in id order
	l0Buf     []byte  // level-0 history rows
	packBuf   []byte  // level-0 rows being packed
	packRows  []l0Row // their rows
	packRow   l0Row   // the row being filled
	// l0BytesMin is how many bytes of level-0 entries a shard gathers
	// before they move to level 1 (l0BytesMin; tests change it).
	l0BytesMin int64
	pieces     []l0Piece
	l1Buf      []byte // level-1 history rows being compacted
	l1Rows     []l1Row

	// docGroups are the batch's docs whose keys are grouped, groupBuf
	// their doc_key_groups entries (writeDocGroups).
	docGroups []docGroupKey
	groupBuf  []byte
}

// shardState is a shard's committed state as the writer knows it: its
// position, its last doc's timestamp and its level-0 history batches. The
// writer is the only one to change these tables (the overlay makes one
// process the only writer, accounts.go), so they need not be read again
// for every batch.
type shardState struct {
	seq, ts uint64 // the shard's position
	// docLast is the timestamp of the shard's last stored doc, 0 if it has
	// none; docKnown tells whether it was read yet.
	docLast  uint64
	docKnown bool
	// l0 are the level-0 history batches in timestamp order; l0Known
	// tells whether they were read yet.
	l0      []l0Batch
	l0Known bool
}

// l0Batch is a level-0 history batch: its history_batches row and the
// bytes of its rows' entries.
type l0Batch struct {
	first, last, size int64
}

// l1Row is a level-1 history row being written: the account, its last
// timestamp and its delta stream in writer.l1Buf.
type l1Row struct {
	account    ledger.ID
	last       uint64
	start, end int
}

// idKey is one transfer's entry in the id index.
type idKey struct {
	hi, lo, ts uint64
}

// docGroupKey is a doc of the batch whose key is grouped: its index in
// the batch's docs, its key's suffix and the first_ts of its chunk. The
// doc's kind and prefix are read from the batch, so the writer keeps no
// reference to it between batches.
type docGroupKey struct {
	doc    int32
	suffix [docSuffixSize]byte
	chunk  uint64
}

func newWriter(dc driver.Conn, av *accountView) *writer {
	return &writer{
		dc:    dc,
		av:    av,
		stmts: map[string]driver.Stmt{},
		assets: newBulk("INSERT INTO assets (shard, ledger, code, scale, timestamp) VALUES ",
			5, ""),
		accounts: newBulk("INSERT INTO accounts (id, shard, rec) VALUES ", 3,
			" ON CONFLICT (id) DO UPDATE SET rec = excluded.rec"),
		chunks: newBulk("INSERT INTO transfer_chunks (shard, first_ts, last_ts, records) VALUES ",
			4, ""),
		recent: newBulk(`INSERT INTO account_transfers_recent
			(shard, batch_ts, max_account, part, min_account, entries) VALUES `, 6, ""),
		history: newBulk("INSERT INTO account_transfers (account_id, last_ts, shard, timestamps) VALUES ",
			4, ""),
		ids: newBulk("INSERT INTO transfer_ids (prefix, min_id, max_id, shard, entries) VALUES ",
			5, ""),
		expiries: newBulk("INSERT INTO expiries (shard, timestamp, pending_id) VALUES ",
			3, ""),
		creations: newBulk("INSERT INTO account_creations (shard, timestamp, id) VALUES ",
			3, ""),
		docChunks: newBulk("INSERT INTO doc_chunks (shard, first_ts, last_ts, records) VALUES ",
			4, ""),
		docKeys: newBulk("INSERT INTO doc_keys (kind, key, timestamp, shard, chunk_ts) VALUES ",
			5, ""),
		docKeyGroups: newBulk(`INSERT INTO doc_key_groups
			(kind, prefix, min_suffix, max_suffix, shard, first_ts, entries) VALUES `, 7, ""),
		shards:     map[uint32]*shardState{},
		acctIndex:  map[ledger.ID]int32{},
		evFiles:    map[string]*evFile{},
		evPending:  map[string]*evFile{},
		l0BytesMin: l0BytesMin,
	}
}

// close finalizes the prepared statements.
func (w *writer) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	for _, b := range []*bulk{w.assets, w.accounts, w.chunks, w.recent, w.history, w.ids, w.expiries,
		w.creations, w.docChunks, w.docKeys, w.docKeyGroups} {
		for _, st := range b.stmts {
			errs = append(errs, st.(driver.Stmt).Close())
		}
	}
	return errors.Join(errs...)
}

// stmt returns the prepared statement for query.
func (w *writer) stmt(query string) (driver.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.dc.(driver.ConnPrepareContext).PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// bind returns w.args holding vals with ordinals 1..len(vals).
func (w *writer) bind(vals []driver.Value) []driver.NamedValue {
	for len(w.args) < len(vals) {
		w.args = append(w.args, driver.NamedValue{Ordinal: len(w.args) + 1})
	}
	args := w.args[:len(vals)]
	for i, v := range vals {
		args[i].Value = v
	}
	return args
}

// exec runs query with vals. Statements run under context.Background():
// the caller checks its context between statements, which costs less than
// the driver's per-statement cancellation watcher.
func (w *writer) exec(query string, vals ...driver.Value) error {
	st, err := w.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.(driver.StmtExecContext).ExecContext(context.Background(), w.bind(vals))
	return err
}

// queryInt64s runs query with vals and stores the integer columns of its
// first row in dest (one per column); it returns false if there was no
// row.
func (w *writer) queryInt64s(query string, dest []int64, vals ...driver.Value) (bool, error) {
	st, err := w.stmt(query)
	if err != nil {
		return false, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), w.bind(vals))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	row := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(row); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	for i := range dest {
		v, ok := row[i].(int64)
		if !ok {
			return false, fmt.Errorf("%s: column %d: got %T, want int64", query, i, row[i])
		}
		dest[i] = v
	}
	return true, nil
}

// queryInt64 runs query with vals and returns the first column of its
// first row, and false if it returned no row.
func (w *writer) queryInt64(query string, vals ...driver.Value) (int64, bool, error) {
	var v [1]int64
	ok, err := w.queryInt64s(query, v[:], vals...)
	return v[0], ok, err
}

// insert runs b for the rows in w.vals (len(w.vals) = rows × b.cols), in
// statements of bulkRowsMax rows, then powers of two for the rest.
func (w *writer) insert(ctx context.Context, b *bulk) error {
	vals := w.vals
	if len(vals)%b.cols != 0 {
		panic(fmt.Sprintf("sqlite: bulk insert of %d values into %d columns", len(vals), b.cols))
	}
	for len(vals) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := len(vals) / b.cols
		n := bulkRowsMax
		for n > rows {
			n /= 2
		}
		st, ok := b.stmts[n]
		if !ok {
			q := b.head + strings.TrimSuffix(strings.Repeat(b.row+",", n), ",") + b.tail
			ps, err := w.dc.(driver.ConnPrepareContext).PrepareContext(context.Background(), q)
			if err != nil {
				return err
			}
			st = ps.(driver.StmtExecContext)
			b.stmts[n] = st
		}
		if _, err := st.ExecContext(context.Background(), w.bind(vals[:n*b.cols])); err != nil {
			return err
		}
		vals = vals[n*b.cols:]
	}
	return nil
}

// checkBatch checks what CommitBatch relies on: a positive Seq, timestamps
// below 2^63 (they are stored and ordered as SQLite integers), transfers in
// strictly increasing and expiries in non-decreasing timestamp order, none
// after the batch's Timestamp.
func checkBatch(b *ledger.Batch) error {
	if b.Seq == 0 || b.Seq > math.MaxInt64 {
		return fmt.Errorf("seq %d not in 1..2^63-1", b.Seq)
	}
	if b.Timestamp > math.MaxInt64 {
		return fmt.Errorf("timestamp %d above 2^63-1", b.Timestamp)
	}
	var last uint64
	for i := range b.Transfers {
		ts := b.Transfers[i].Timestamp
		if ts <= last || ts > b.Timestamp {
			return fmt.Errorf("transfer %d: timestamp %d not after %d and at most the batch's %d",
				i, ts, last, b.Timestamp)
		}
		last = ts
	}
	last = 0
	for i, e := range b.Expiries {
		if e.Timestamp < last || e.Timestamp > b.Timestamp {
			return fmt.Errorf("expiry %d: timestamp %d before %d or after the batch's %d",
				i, e.Timestamp, last, b.Timestamp)
		}
		last = e.Timestamp
	}
	last = 0
	for i := range b.Docs {
		ts := b.Docs[i].Timestamp
		if ts <= last || ts > b.Timestamp {
			return fmt.Errorf("doc %d: timestamp %d not after %d and at most the batch's %d",
				i, ts, last, b.Timestamp)
		}
		last = ts
	}
	for i := range b.Assets {
		if b.Assets[i].Timestamp > math.MaxInt64 {
			return fmt.Errorf("asset %d: timestamp above 2^63-1", i)
		}
	}
	for i := range b.Accounts {
		if b.Accounts[i].Timestamp > math.MaxInt64 {
			return fmt.Errorf("account %d: timestamp above 2^63-1", i)
		}
	}
	for i := range b.Outcomes {
		if b.Outcomes[i].CreatedAt > math.MaxInt64 {
			return fmt.Errorf("outcome %d: created at %d, above 2^63-1", i, b.Outcomes[i].CreatedAt)
		}
	}
	return nil
}

// CommitBatch commits b in one IMMEDIATE transaction and returns after it
// is durable; it keeps no reference to b or its slices. It fails, writing nothing, if b.Seq is not the shard's last
// committed Seq + 1 (the fence against applying a batch twice), if an
// outcome key already exists (the error wraps store.ErrConflict), if ctx is
// done before the commit, or if the batch breaks the ordering
// ledger.Batch documents.
func (s *Store) CommitBatch(ctx context.Context, b *ledger.Batch) error {
	if err := checkBatch(b); err != nil {
		return fmt.Errorf("sqlite: commit batch: shard %d seq %d: %w", b.Shard, b.Seq, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: commit batch: %w", err)
	}
	if err := s.lockWriter(); err != nil {
		return fmt.Errorf("sqlite: commit batch: %w", err)
	}
	defer s.wmu.Unlock()
	if err := s.rebuildAccountsLocked(ctx); err != nil {
		return fmt.Errorf("sqlite: commit batch: shard %d seq %d: %w", b.Shard, b.Seq, err)
	}
	err := s.wconn.Raw(func(dc any) error {
		if s.w == nil || s.w.dc != dc {
			s.w = newWriter(dc.(driver.Conn), s.av)
		}
		return s.w.commit(ctx, b)
	})
	if err != nil {
		return fmt.Errorf("sqlite: commit batch: shard %d seq %d: %w", b.Shard, b.Seq, err)
	}
	if s.ckpt.restartDue.Swap(false) {
		s.restartWAL()
	}
	if s.cacheCommits++; s.cacheCommits >= cacheCheckCommits {
		s.sizeCacheLocked(ctx)
	}
	s.ckpt.notify()
	return nil
}

// restartWAL runs a RESTART checkpoint on the writer connection, waiting at
// most checkpointBusyTimeout for readers, so the next commit rewinds the
// WAL. The batch is committed already: a failure is recorded for Close to
// report and the checkpointer asks again later.
func (s *Store) restartWAL() {
	ctx := context.Background()
	var busy, frames, done int
	_, err := s.wconn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(checkpointBusyTimeout.Milliseconds(), 10))
	if err == nil {
		err = s.wconn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &done)
		_, rerr := s.wconn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(s.busyTimeout.Milliseconds(), 10))
		err = errors.Join(err, rerr)
	}
	if err != nil {
		err = fmt.Errorf("sqlite: restart checkpoint: %w", err)
		s.ckpt.err.Store(&err)
	}
}

func (w *writer) commit(ctx context.Context, b *ledger.Batch) (err error) {
	defer w.release()
	w.fold = false
	tx, err := w.dc.(driver.ConnBeginTx).BeginTx(context.Background(), driver.TxOptions{})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			w.forget()
			w.evidenceFailed()
			if rerr := tx.Rollback(); rerr != nil {
				w.av.ready.Store(false)
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
	}()
	if err := w.checkSeq(b); err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(context.Context, *ledger.Batch) error
	}{
		{"assets", w.writeAssets},
		{"accounts", w.writeAccounts},
		{"account creations", w.writeCreations},
		{"transfers", w.writeTransfers},
		{"account history", w.writeHistory},
		{"transfer ids", w.writeIDs},
		{"expiries", w.writeExpiries},
		{"docs", w.writeDocs},
		{"outcomes", w.writeOutcomes},
		{"evidence", w.writeEvidence},
	}
	for _, st := range steps {
		if err := st.fn(ctx, b); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	if err := w.exec(`INSERT INTO shard_positions (shard, seq, timestamp) VALUES (?, ?, ?)
		ON CONFLICT (shard) DO UPDATE SET seq = excluded.seq, timestamp = excluded.timestamp`,
		int64(b.Shard), int64(b.Seq), int64(b.Timestamp)); err != nil {
		return fmt.Errorf("position: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.fold {
		// Readers of the table and the overlay together wait or retry
		// until both show the fold.
		w.av.beginChange()
		defer w.av.endChange()
	}
	if err := tx.Commit(); err != nil {
		// The batch may or may not be durable: rebuild the overlay from
		// what is.
		w.av.ready.Store(false)
		return fmt.Errorf("commit: %w", err)
	}
	w.sh.seq, w.sh.ts = b.Seq, b.Timestamp
	w.av.apply(b.Shard, b.Accounts, w.acctOrder, w.fold)
	w.evidenceCommitted()
	return nil
}

// release drops the writer's references to the batch (bound values point
// into its slices): CommitBatch keeps nothing of a batch once it returns,
// since the engine reuses that memory.
func (w *writer) release() {
	clear(w.vals[:cap(w.vals)])
	w.vals = w.vals[:0]
	for i := range w.args {
		w.args[i].Value = nil
	}
	// A batch of many docs leaves many chunk buffers: keep those a
	// usual batch needs (~5 MiB at most).
	for _, p := range []*[][]byte{&w.packedDocs, &w.packedTransfers} {
		if len(*p) > packedKept {
			clear((*p)[packedKept:])
			*p = (*p)[:packedKept]
		}
	}
}

// packedKept is how many compressed chunk buffers of each kind a writer
// keeps between batches.
const packedKept = 64

// checkSeq sets w.sh to b's shard's state, reading its position if the
// writer does not know it, and fails unless b.Seq follows the shard's last
// committed batch.
func (w *writer) checkSeq(b *ledger.Batch) error {
	sh, ok := w.shards[b.Shard]
	if !ok {
		var pos [2]int64
		if _, err := w.queryInt64s("SELECT seq, timestamp FROM shard_positions WHERE shard = ?",
			pos[:], int64(b.Shard)); err != nil {
			return fmt.Errorf("read position: %w", err)
		}
		sh = &shardState{seq: uint64(pos[0]), ts: uint64(pos[1])}
		w.shards[b.Shard] = sh
	}
	w.sh = sh
	if b.Seq != sh.seq+1 {
		return fmt.Errorf("batch seq %d does not follow the shard's last committed seq %d", b.Seq, sh.seq)
	}
	return nil
}

// forget drops what the writer knows of the shards' committed state, so
// that it is read again: after a failed commit, or when something else
// changed the database (Migrate).
func (w *writer) forget() { clear(w.shards) }

// writeDocs writes the batch's docs (in timestamp order, checkBatch
// checks) packed into doc_chunks rows of up to docChunkBytesMax bytes, and
// their keys: grouped in doc_key_groups rows for keys that end in a ULID
// (writeDocGroups), a doc_keys row each for the others. A shard's chunks
// must not overlap in time, so docs at or before the shard's last stored
// doc are refused as a conflict.
func (w *writer) writeDocs(ctx context.Context, b *ledger.Batch) error {
	if len(b.Docs) == 0 {
		return nil
	}
	sh := w.sh
	if !sh.docKnown {
		last, _, err := w.queryInt64("SELECT last_ts FROM doc_chunks WHERE shard = ? ORDER BY first_ts DESC LIMIT 1",
			int64(b.Shard))
		if err != nil {
			return err
		}
		sh.docLast, sh.docKnown = uint64(last), true
	}
	if first := b.Docs[0].Timestamp; first <= sh.docLast {
		return fmt.Errorf("%w: doc at %d not after the shard's last stored doc at %d", store.ErrConflict, first, sh.docLast)
	}
	// A failed commit drops w.shards: this is only kept if the batch is.
	sh.docLast = b.Docs[len(b.Docs)-1].Timestamp
	c := &w.docs
	c.reset()
	for i := range b.Docs {
		d := &b.Docs[i]
		c.add(i, d.Timestamp, d.Kind, d.Key, d.Body)
	}
	w.vals = w.vals[:0]
	for len(w.packedDocs) < len(c.chunks) {
		w.packedDocs = append(w.packedDocs, nil)
	}
	for i := range c.chunks {
		ch := &c.chunks[i]
		stored := packDocChunk(w.packedDocs[i], c.records(ch))
		if len(stored) > 0 && stored[0] == docChunkS2 {
			w.packedDocs[i] = stored // its buffer, kept for the next batch
		}
		w.vals = append(w.vals, int64(b.Shard), int64(ch.first), int64(ch.last), stored)
	}
	if err := w.insert(ctx, w.docChunks); err != nil {
		return conflict(err)
	}
	w.vals = w.vals[:0]
	w.docGroups = w.docGroups[:0]
	for i := range c.chunks {
		ch := &c.chunks[i]
		for j := ch.from; j < ch.to; j++ {
			d := &b.Docs[j]
			if _, suffix, ok := splitDocKey(d.Key); ok {
				w.docGroups = append(w.docGroups, docGroupKey{doc: int32(j), suffix: suffix, chunk: ch.first})
				continue
			}
			w.vals = append(w.vals, d.Kind, d.Key, int64(d.Timestamp), int64(b.Shard), int64(ch.first))
		}
	}
	if err := w.insert(ctx, w.docKeys); err != nil {
		return conflict(err)
	}
	return conflict(w.writeDocGroups(ctx, b))
}

// docPrefix returns the doc_key_groups prefix of a grouped key: the key
// without its suffix.
func docPrefix(key string) string { return key[:len(key)-docSuffixLen] }

// writeDocGroups writes the doc_key_groups rows of the docs in
// w.docGroups: sorted by kind, prefix, suffix and timestamp (the batch's
// order), cut into groups of up to docGroupEntriesMax that share their
// kind and prefix. Payment keys made in the same millisecond share a row.
func (w *writer) writeDocGroups(ctx context.Context, b *ledger.Batch) error {
	keys := w.docGroups
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(x, y docGroupKey) int {
		dx, dy := &b.Docs[x.doc], &b.Docs[y.doc]
		if c := strings.Compare(dx.Kind, dy.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(docPrefix(dx.Key), docPrefix(dy.Key)); c != 0 {
			return c
		}
		if c := bytes.Compare(x.suffix[:], y.suffix[:]); c != 0 {
			return c
		}
		return cmp.Compare(x.doc, y.doc)
	})
	n := len(keys)
	w.groupBuf = slices.Grow(w.groupBuf[:0], n*docEntrySize)[:n*docEntrySize]
	for i := range keys {
		k := &keys[i]
		putDocGroupEntry(w.groupBuf[i*docEntrySize:], &k.suffix, b.Docs[k.doc].Timestamp, k.chunk)
	}
	w.vals = w.vals[:0]
	for i := 0; i < n; {
		d := &b.Docs[keys[i].doc]
		prefix := docPrefix(d.Key)
		j := i + 1
		for j < n && j-i < docGroupEntriesMax {
			dj := &b.Docs[keys[j].doc]
			if dj.Kind != d.Kind || docPrefix(dj.Key) != prefix {
				break
			}
			j++
		}
		// The group's least and greatest suffixes are its first and last
		// entries'.
		first, last := i*docEntrySize, (j-1)*docEntrySize
		w.vals = append(w.vals, d.Kind, prefix, w.groupBuf[first:first+docSuffixSize],
			w.groupBuf[last:last+docSuffixSize], int64(b.Shard), int64(d.Timestamp),
			w.groupBuf[first:j*docEntrySize])
		i = j
	}
	return w.insert(ctx, w.docKeyGroups)
}

// writeCreations indexes the accounts the batch created (those newer than
// the shard's previous position) by timestamp.
func (w *writer) writeCreations(ctx context.Context, b *ledger.Batch) error {
	w.vals = w.vals[:0]
	for i := range b.Accounts {
		if a := &b.Accounts[i]; a.Timestamp > w.sh.ts {
			w.vals = append(w.vals, int64(b.Shard), int64(a.Timestamp), a.ID[:])
		}
	}
	return conflict(w.insert(ctx, w.creations))
}

func (w *writer) writeAssets(ctx context.Context, b *ledger.Batch) error {
	w.vals = w.vals[:0]
	for i := range b.Assets {
		a := &b.Assets[i]
		w.vals = append(w.vals, int64(b.Shard), int64(a.Ledger), a.Code, int64(a.Scale), int64(a.Timestamp))
	}
	return conflict(w.insert(ctx, w.assets))
}

// writeAccounts writes the batch's accounts (see accounts.go): as one
// account_log row of records in id order, or, when the log is full, by
// folding: upserting the accounts the log holds and the batch's, in id
// order (sorted keys make the B-tree seeks of consecutive rows hit the same
// pages), and emptying the log.
func (w *writer) writeAccounts(ctx context.Context, b *ledger.Batch) error {
	w.acctOrder = w.acctOrder[:0]
	for i := range b.Accounts {
		w.acctOrder = append(w.acctOrder, int32(i))
	}
	slices.SortFunc(w.acctOrder, func(x, y int32) int {
		return bytes.Compare(b.Accounts[x].ID[:], b.Accounts[y].ID[:])
	})
	v := w.av
	w.fold = len(b.Accounts) > 0 &&
		(v.logRecords+len(b.Accounts) > v.recordsMax || v.logRows+1 > v.rowsMax)
	if !w.fold {
		if len(b.Accounts) == 0 {
			return nil
		}
		n := len(b.Accounts) * store.AccountRecordSize
		w.accts = slices.Grow(w.accts[:0], n)[:n]
		for i, a := range w.acctOrder {
			store.EncodeAccount(w.accts[i*store.AccountRecordSize:], &b.Accounts[a])
		}
		return w.exec("INSERT INTO account_log (shard, batch, records) VALUES (?, ?, ?)",
			int64(b.Shard), int64(b.Seq), w.accts)
	}
	// The overlay (v.ids, v.m) changes only under Store.wmu, which the
	// caller holds: it is read here without v.mu.
	n := (len(v.ids) + len(b.Accounts)) * store.AccountRecordSize
	w.accts = slices.Grow(w.accts[:0], n)[:n]
	w.vals = w.vals[:0]
	k := 0
	add := func(a *ledger.Account, shard uint32) {
		rec := w.accts[k*store.AccountRecordSize : (k+1)*store.AccountRecordSize]
		k++
		store.EncodeAccount(rec, a)
		w.vals = append(w.vals, rec[:16], int64(shard), rec)
	}
	i, j := 0, 0
	for i < len(v.ids) || j < len(w.acctOrder) {
		c := -1 // the overlay's next id comes first
		switch {
		case i == len(v.ids):
			c = 1
		case j < len(w.acctOrder):
			c = compareID(v.ids[i], b.Accounts[w.acctOrder[j]].ID)
		}
		if c < 0 {
			e := v.m[v.ids[i]]
			add(&e.account, e.shard)
			i++
			continue
		}
		if c == 0 {
			i++ // the batch has the newer state
		}
		add(&b.Accounts[w.acctOrder[j]], b.Shard)
		j++
	}
	if err := w.insert(ctx, w.accounts); err != nil {
		return err
	}
	if v.logRows > 0 {
		return w.exec("DELETE FROM account_log")
	}
	return nil
}

func (w *writer) writeTransfers(ctx context.Context, b *ledger.Batch) error {
	n := len(b.Transfers)
	w.recs = slices.Grow(w.recs[:0], n*store.TransferRecordSize)[:n*store.TransferRecordSize]
	for i := range b.Transfers {
		store.EncodeTransferRecord(w.recs[i*store.TransferRecordSize:], &b.Transfers[i])
	}
	w.vals = w.vals[:0]
	for c, i := 0, 0; i < n; c, i = c+1, i+chunkRecordsMax {
		j := min(i+chunkRecordsMax, n)
		if len(w.packedTransfers) <= c {
			w.packedTransfers = append(w.packedTransfers, nil)
		}
		stored := packTransferChunk(w.packedTransfers[c], w.recs[i*store.TransferRecordSize:j*store.TransferRecordSize])
		if len(stored)%store.TransferRecordSize != 0 {
			w.packedTransfers[c] = stored // its buffer, kept for the next batch
		}
		w.vals = append(w.vals, int64(b.Shard), int64(b.Transfers[i].Timestamp),
			int64(b.Transfers[j-1].Timestamp), stored)
	}
	return w.insert(ctx, w.chunks)
}

// writeHistory appends the batch's level-0 history: for every account its
// transfers touch, their timestamps, packed in account order into rows of
// up to l0RowBytesMax bytes. Once the shard has historyBatchesMax level-0
// batches, it compacts them into level 1.
func (w *writer) writeHistory(ctx context.Context, b *ledger.Batch) error {
	clear(w.acctIndex)
	w.acctIDs = w.acctIDs[:0]
	w.counts = w.counts[:0]
	w.sides = w.sides[:0]
	index := func(id ledger.ID) int32 {
		i, ok := w.acctIndex[id]
		if !ok {
			i = int32(len(w.acctIDs))
			w.acctIndex[id] = i
			w.acctIDs = append(w.acctIDs, id)
			w.counts = append(w.counts, 0)
		}
		return i
	}
	for i := range b.Transfers {
		t := &b.Transfers[i]
		d, c := index(t.DebitAccountID), index(t.CreditAccountID)
		w.counts[d]++
		w.counts[c]++
		w.sides = append(w.sides, d, c)
	}
	w.offsets = slices.Grow(w.offsets[:0], len(w.counts))[:len(w.counts)]
	var off int32
	for i, c := range w.counts {
		w.offsets[i] = off
		off += c
	}
	w.tsList = slices.Grow(w.tsList[:0], int(off))[:off]
	// Fill in transfer (so timestamp) order; counts becomes the fill level.
	clear(w.counts)
	for i := range b.Transfers {
		for _, a := range w.sides[2*i : 2*i+2] {
			w.tsList[w.offsets[a]+w.counts[a]] = b.Transfers[i].Timestamp
			w.counts[a]++
		}
	}
	if len(b.Transfers) == 0 {
		return nil
	}
	// Pack the lists in account order into level-0 rows.
	w.order = w.order[:0]
	for i := range w.acctIDs {
		w.order = append(w.order, int32(i))
	}
	slices.SortFunc(w.order, func(x, y int32) int { return bytes.Compare(w.acctIDs[x][:], w.acctIDs[y][:]) })
	w.packStart()
	for _, a := range w.order {
		w.pack(w.acctIDs[a], w.tsList[w.offsets[a]:w.offsets[a]+w.counts[a]])
	}
	if err := w.loadL0(b.Shard); err != nil {
		return err
	}
	batch := l0Batch{first: int64(b.Transfers[0].Timestamp), last: int64(b.Transfers[len(b.Transfers)-1].Timestamp)}
	var err error
	if batch.size, err = w.insertL0(ctx, b.Shard, batch.first); err != nil {
		return err
	}
	if err := w.exec("INSERT INTO history_batches (shard, first_ts, last_ts) VALUES (?, ?, ?)",
		int64(b.Shard), batch.first, batch.last); err != nil {
		return err
	}
	sh := w.sh
	sh.l0 = append(sh.l0, batch)
	if len(sh.l0) < historyBatchesMax {
		return nil
	}
	var size int64
	for _, l := range sh.l0 {
		size += l.size
	}
	if size >= w.l0BytesMin {
		return w.compactHistory(ctx, b.Shard, 0, true)
	}
	// Small batches leave little history per account: rather than give
	// every account a short level-1 row (a B-tree page write each), merge
	// level-0 batches until level 0 holds enough.
	return w.compactHistory(ctx, b.Shard, mergeFrom(sh.l0), false)
}

// mergeFrom returns the first of the level-0 batches that a merge
// replaces with one: the newest batch, and each older one smaller than
// twice those after it. Merged batches so at least halve from the oldest
// to the newest, and a byte of history is rewritten a few times before it
// moves to level 1, not at every merge. If that would keep more than half
// of historyBatchesMax batches, it merges them all.
func mergeFrom(l0 []l0Batch) int {
	k := len(l0) - 1
	acc := l0[k].size
	for k > 0 && l0[k-1].size < 2*acc {
		k--
		acc += l0[k].size
	}
	if k > historyBatchesMax/2 {
		return 0
	}
	return k
}

// loadL0 reads the shard's level-0 batches into w.sh unless the writer
// knows them.
func (w *writer) loadL0(shard uint32) error {
	sh := w.sh
	if sh.l0Known {
		return nil
	}
	sh.l0 = sh.l0[:0]
	st, err := w.stmt(`SELECT h.first_ts, h.last_ts, (SELECT coalesce(sum(length(entries)), 0)
		FROM account_transfers_recent WHERE shard = h.shard AND batch_ts = h.first_ts)
		FROM history_batches h WHERE h.shard = ? ORDER BY h.first_ts`)
	if err != nil {
		return err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), w.bind([]driver.Value{int64(shard)}))
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, 3)
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		var l l0Batch
		for i, p := range []*int64{&l.first, &l.last, &l.size} {
			v, ok := dest[i].(int64)
			if !ok {
				return fmt.Errorf("level-0 history batch: column %d of type %T", i, dest[i])
			}
			*p = v
		}
		sh.l0 = append(sh.l0, l)
	}
	sh.l0Known = true
	return nil
}

// packStart starts packing level-0 rows into packBuf and packRows.
func (w *writer) packStart() {
	w.packBuf, w.packRows = w.packBuf[:0], w.packRows[:0]
	w.packRow = l0Row{}
}

// pack appends an account's ascending timestamps to the level-0 rows being
// packed; accounts come in id order. A row holds up to l0RowBytesMax bytes
// of records; a long list continues in the next row.
func (w *writer) pack(account ledger.ID, tss []uint64) {
	for len(tss) > 0 {
		row := &w.packRow
		space := l0RowBytesMax - (len(w.packBuf) - row.start) - l0RecordHeader
		if space < maxVarintLen {
			w.packRows = append(w.packRows, *row)
			*row = l0Row{start: len(w.packBuf)}
			continue
		}
		if len(w.packBuf) == row.start {
			row.min = account
		}
		row.max = account
		w.packBuf = append(w.packBuf, account[:]...)
		w.packBuf = append(w.packBuf, 0, 0) // the stream's length, below
		start := len(w.packBuf)
		var n int
		w.packBuf, n = appendTimestamps(w.packBuf, tss, space)
		binary.BigEndian.PutUint16(w.packBuf[start-2:], uint16(len(w.packBuf)-start))
		tss = tss[n:]
	}
}

// insertL0 inserts the packed rows as the level-0 batch batchTS and
// returns the bytes of their entries.
func (w *writer) insertL0(ctx context.Context, shard uint32, batchTS int64) (int64, error) {
	if len(w.packBuf) > w.packRow.start {
		w.packRows = append(w.packRows, w.packRow)
		w.packRow = l0Row{start: len(w.packBuf)}
	}
	w.vals = w.vals[:0]
	for i := range w.packRows {
		r := &w.packRows[i]
		end := len(w.packBuf)
		if i+1 < len(w.packRows) {
			end = w.packRows[i+1].start
		}
		w.vals = append(w.vals, int64(shard), batchTS, r.max[:], int64(i), r.min[:], w.packBuf[r.start:end])
	}
	return int64(len(w.packBuf)), w.insert(ctx, w.recent)
}

// l0Row is a level-0 history row being packed: its start in
// writer.packBuf and its first and last accounts.
type l0Row struct {
	start    int
	min, max ledger.ID
}

// l0Piece is one account's run of timestamps in a level-0 row, found by
// compactHistory: the account and where its delta stream lies in l0Buf.
type l0Piece struct {
	account  ledger.ID
	off, end int32
}

// compactHistory reads the rows of the shard's level-0 batches from the
// from-th (batch by batch, each in account order) and gathers each
// account's runs in timestamp order. With toLevel1 (and from 0) it writes
// them as level-1 rows of up to l1RowBytesMax bytes in account order (so
// each level-1 page is written once) and deletes level 0; otherwise it
// replaces those batches with one level-0 batch holding them all (from
// the first batch's first timestamp to the last one's last), which
// readers probe once instead of once per batch.
func (w *writer) compactHistory(ctx context.Context, shard uint32, from int, toLevel1 bool) error {
	st, err := w.stmt(`SELECT entries FROM account_transfers_recent
		WHERE shard = ? AND batch_ts >= ? ORDER BY batch_ts, max_account, part`)
	if err != nil {
		return err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(),
		w.bind([]driver.Value{int64(shard), w.l0Start(from)}))
	if err != nil {
		return err
	}
	w.l0Buf, w.pieces = w.l0Buf[:0], w.pieces[:0]
	dest := make([]driver.Value, 1)
	for {
		if err := rows.Next(dest); err != nil {
			rows.Close()
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		entries, ok := dest[0].([]byte)
		if !ok {
			rows.Close()
			return fmt.Errorf("level-0 history entries of type %T", dest[0])
		}
		base := len(w.l0Buf)
		w.l0Buf = append(w.l0Buf, entries...)
		err := parseL0(entries, func(account ledger.ID, off, end int) error {
			w.pieces = append(w.pieces, l0Piece{account, int32(base + off), int32(base + end)})
			return nil
		})
		if err != nil {
			rows.Close()
			return err
		}
	}
	// Rows come batch by batch, so a stable sort by account keeps each
	// account's runs in timestamp order.
	slices.SortStableFunc(w.pieces, func(x, y l0Piece) int { return bytes.Compare(x.account[:], y.account[:]) })
	if !toLevel1 {
		return w.mergeLevel0(ctx, shard, from)
	}
	w.l1Buf, w.l1Rows = w.l1Buf[:0], w.l1Rows[:0]
	for i := 0; i < len(w.pieces); {
		account := w.pieces[i].account
		var err error
		if i, err = w.gatherTimestamps(i); err != nil {
			return err
		}
		for tss := w.tsList; len(tss) > 0; {
			start := len(w.l1Buf)
			var n int
			w.l1Buf, n = appendTimestamps(w.l1Buf, tss, l1RowBytesMax)
			w.l1Rows = append(w.l1Rows, l1Row{account, tss[n-1], start, len(w.l1Buf)})
			tss = tss[n:]
		}
	}
	w.vals = w.vals[:0]
	for i := range w.l1Rows {
		r := &w.l1Rows[i]
		w.vals = append(w.vals, r.account[:], int64(r.last), int64(shard), w.l1Buf[r.start:r.end])
	}
	if err := w.insert(ctx, w.history); err != nil {
		return err
	}
	if err := w.deleteL0(shard, 0); err != nil {
		return err
	}
	w.sh.l0 = w.sh.l0[:0]
	return nil
}

// l0Start returns the least batch_ts of the level-0 rows of the batches
// from the from-th on: from 0 takes every row of the shard.
func (w *writer) l0Start(from int) int64 {
	if from == 0 {
		return math.MinInt64
	}
	return w.sh.l0[from].first
}

// deleteL0 deletes the shard's level-0 batches from the from-th on.
func (w *writer) deleteL0(shard uint32, from int) error {
	first := w.l0Start(from)
	if err := w.exec("DELETE FROM account_transfers_recent WHERE shard = ? AND batch_ts >= ?", int64(shard), first); err != nil {
		return err
	}
	return w.exec("DELETE FROM history_batches WHERE shard = ? AND first_ts >= ?", int64(shard), first)
}

// mergeLevel0 replaces the shard's level-0 batches from the from-th on
// with one holding the runs compactHistory gathered in w.pieces.
func (w *writer) mergeLevel0(ctx context.Context, shard uint32, from int) error {
	sh := w.sh
	merged := l0Batch{first: sh.l0[from].first, last: sh.l0[len(sh.l0)-1].last}
	w.packStart()
	for i := 0; i < len(w.pieces); {
		account := w.pieces[i].account
		var err error
		if i, err = w.gatherTimestamps(i); err != nil {
			return err
		}
		w.pack(account, w.tsList)
	}
	if err := w.deleteL0(shard, from); err != nil {
		return err
	}
	var err error
	if merged.size, err = w.insertL0(ctx, shard, merged.first); err != nil {
		return err
	}
	sh.l0 = append(sh.l0[:from], merged)
	return w.exec("INSERT INTO history_batches (shard, first_ts, last_ts) VALUES (?, ?, ?)",
		int64(shard), merged.first, merged.last)
}

// writeIDs writes the batch's transfer ids: sorted, cut into groups of up
// to idGroupEntriesMax that share their 48-bit prefix.
func (w *writer) writeIDs(ctx context.Context, b *ledger.Batch) error {
	w.idKeys = w.idKeys[:0]
	for i := range b.Transfers {
		t := &b.Transfers[i]
		w.idKeys = append(w.idKeys, idKey{hi: t.ID.Hi(), lo: t.ID.Lo(), ts: t.Timestamp})
	}
	slices.SortFunc(w.idKeys, func(x, y idKey) int {
		if c := cmp.Compare(x.hi, y.hi); c != 0 {
			return c
		}
		return cmp.Compare(x.lo, y.lo)
	})
	n := len(w.idKeys)
	w.idBuf = slices.Grow(w.idBuf[:0], n*(idEntrySize+32))[:n*idEntrySize]
	for i, k := range w.idKeys {
		e := w.idBuf[i*idEntrySize:]
		binary.BigEndian.PutUint16(e[0:], uint16(k.hi))
		binary.BigEndian.PutUint64(e[2:], k.lo)
		binary.BigEndian.PutUint64(e[10:], k.ts)
	}
	w.vals = w.vals[:0]
	for i := 0; i < n; {
		prefix := w.idKeys[i].hi >> 16
		j := i + 1
		for j < n && j-i < idGroupEntriesMax && w.idKeys[j].hi>>16 == prefix {
			j++
		}
		// The group's bounds follow the entries in idBuf.
		bounds := len(w.idBuf)
		w.idBuf = binary.BigEndian.AppendUint64(w.idBuf, w.idKeys[i].hi)
		w.idBuf = binary.BigEndian.AppendUint64(w.idBuf, w.idKeys[i].lo)
		w.idBuf = binary.BigEndian.AppendUint64(w.idBuf, w.idKeys[j-1].hi)
		w.idBuf = binary.BigEndian.AppendUint64(w.idBuf, w.idKeys[j-1].lo)
		w.vals = append(w.vals, int64(prefix), w.idBuf[bounds:bounds+16], w.idBuf[bounds+16:bounds+32],
			int64(b.Shard), w.idBuf[i*idEntrySize:j*idEntrySize])
		i = j
	}
	return w.insert(ctx, w.ids)
}

func (w *writer) writeExpiries(ctx context.Context, b *ledger.Batch) error {
	w.vals = w.vals[:0]
	for i := range b.Expiries {
		e := &b.Expiries[i]
		w.vals = append(w.vals, int64(b.Shard), int64(e.Timestamp), e.PendingID[:])
	}
	return conflict(w.insert(ctx, w.expiries))
}

func (w *writer) writeOutcomes(ctx context.Context, b *ledger.Batch) error {
	for i := range b.Outcomes {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := &b.Outcomes[i]
		// An empty body may bind as NULL; coalesce keeps the column NOT NULL.
		err := w.exec(`INSERT INTO outcomes (key, request_hash, status, body, created_at)
			VALUES (?, ?, ?, coalesce(?, x''), ?)`,
			o.Key, o.RequestHash[:], int64(o.Status), o.Body, int64(o.CreatedAt))
		if err != nil {
			return fmt.Errorf("key %q: %w", o.Key, conflict(err))
		}
	}
	return nil
}

// gatherTimestamps collects into w.tsList the level-0 timestamps of the
// account of w.pieces[i] (its pieces are consecutive, sorted by account)
// and returns the index of the next account's first piece.
func (w *writer) gatherTimestamps(i int) (int, error) {
	account := w.pieces[i].account
	w.tsList = w.tsList[:0]
	for ; i < len(w.pieces) && w.pieces[i].account == account; i++ {
		err := eachTimestamp(w.l0Buf[w.pieces[i].off:w.pieces[i].end], func(ts uint64) bool {
			w.tsList = append(w.tsList, ts)
			return true
		})
		if err != nil {
			return i, fmt.Errorf("level-0 history of account %v: %w", account, err)
		}
	}
	return i, nil
}
