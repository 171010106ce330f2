// Package sqlite is AgentPay's embedded store: a store.Store on one SQLite
// file through modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode with synchronous=FULL, so a commit is
// durable (its WAL frames synced with fdatasync) when CommitBatch
// returns. The Store holds one writer
// connection, used by CommitBatch, Migrate, the API-key methods and
// DeleteOutcomesBefore (serialized by a mutex), and a pool of read-only
// connections for every query; WAL lets readers run while the writer
// commits, and each read sees a consistent snapshot: all of a batch or none
// of it.
//
// A batch is written compactly so that one transaction carries thousands of
// transfers at little per-transfer cost, and a small batch costs a few page
// writes, not a few per transfer: transfers as 128-byte records, 64 to a
// row; the accounts that changed as one row of 132-byte records appended
// to account_log, folded into the accounts table (one upsert per account,
// in id order) every so often, with the accounts changed since in memory
// for readers (accounts.go); per-account history packed per batch (level
// 0), its newest batches merged into one every 32 batches (those much
// smaller than an older batch, so that merges rewrite little) and level 0
// moved to per-account rows (level 1) once it holds enough; the
// transfer-id index
// in groups of ids that share a 48-bit prefix; and the batch's docs packed
// into rows of up to 64 KiB (docs.go), their keys in groups of keys that
// end in a ULID of the same millisecond, or a small key row per doc for
// other keys (dockeys.go). Rows
// are written in key order, so a commit appends pages rather than touching
// one page per account or transfer. The schema and its rationale are in
// migrations/.
//
// The writer connection never checkpoints: a background goroutine, on its
// own connection, copies the WAL into the database file (PASSIVE
// checkpoints, and a RESTART when the WAL passes walFramesRestart frames,
// about 94 MiB, so it is rewound), so CommitBatch only appends to the WAL
// and syncs it.
//
// Transfer ids that are time-ordered (ULID, UUIDv7; what NewID makes) are
// the fast path; random ids cost a B-tree row each and, once the index
// outgrows the page cache, a page write each.
//
// Foreign keys are not declared: the engine is the only writer of ledger
// rows and checks references before it commits; constraints would only add
// index lookups to the hot path.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentpay/agentpay/store"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// Limits and defaults, units last.
const (
	// DefaultBusyTimeout is how long a connection waits for a lock held by
	// another process before failing.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultCacheSizeKiB is the page cache of the writer connection once
	// the database has passed its lock page (see smallCacheSizeKiB).
	DefaultCacheSizeKiB = 64 << 10
	// smallCacheSizeKiB bounds the writer's page cache while the database
	// is smaller than 1 GiB. SQLite's B-tree balancing parks a page at the
	// page number of the lock byte (1 GiB) while it reorders split pages;
	// while the file is smaller than that, the end of every transaction
	// that split a page then drops the cache's pages beyond the file's end
	// by scanning the whole cache: about 300 µs a commit at 64 MiB, 40 µs
	// at 8 MiB. Past 1 GiB the parked number is inside the file and the
	// scan does not happen, so the configured cache applies.
	smallCacheSizeKiB = 8 << 10
	// cacheCheckCommits is how many commits apart the writer checks
	// whether the database has passed its lock page.
	cacheCheckCommits = 256
	// readerCacheSizeKiB is the page cache of each reader connection.
	readerCacheSizeKiB = 16 << 10
	// readConnsMax bounds Options.ReadConns.
	readConnsMax = 64
)

// Options tunes a Store. The zero value is a good default.
type Options struct {
	// ReadConns is the number of reader connections (default
	// max(4, GOMAXPROCS), at most 64).
	ReadConns int
	// BusyTimeout is how long a statement waits for a lock another process
	// holds (default DefaultBusyTimeout).
	BusyTimeout time.Duration
	// CacheSizeKiB is the writer connection's page cache (default
	// DefaultCacheSizeKiB) once the database is larger than 1 GiB; below
	// that the writer uses at most 8 MiB (see smallCacheSizeKiB). Each
	// reader has 16 MiB.
	CacheSizeKiB int
	// PreallocateWAL has Migrate extend the WAL file with zeros to
	// walPreallocBytes (the size journal_size_limit keeps it at) when it is
	// smaller, so that commits overwrite blocks the file already has
	// instead of growing it: an fdatasync of a file whose size did not
	// change writes the data alone, without a commit of the file system's
	// journal for the new size and blocks (on ext4, 15% less CPU for a
	// small batch's commit). A long-running server reaches that state once
	// its WAL has been rewound; preallocation starts it there. It costs a
	// write of 128 MiB at each start (SQLite deletes the WAL when the store
	// closes) and that much disk, so serve sets it and tests do not. Zeros
	// after the WAL's last frame are not frames (a frame's salt must match
	// the header's), so a WAL left by a crash is recovered as it would be
	// without them.
	PreallocateWAL bool
}

// Store is a store.Store on one SQLite file. It is safe for concurrent use;
// CommitBatch and the other writes are serialized on one connection.
type Store struct {
	path string
	rdb  *sql.DB // reader pool (query_only)
	wdb  *sql.DB // one writer connection

	wmu    sync.Mutex // guards wconn, w and closed
	wconn  *sql.Conn
	w      *writer // CommitBatch's prepared statements and buffers; nil until first use
	closed bool

	av          *accountView // accounts changed since the last fold, see accounts.go
	isClosed    atomic.Bool  // set by Close, for reads served from memory
	rstmts      sync.Map     // query -> *sql.Stmt on rdb, see rstmt
	ckpt        *checkpointer
	busyTimeout time.Duration
	// preallocateWAL is Options.PreallocateWAL.
	preallocateWAL bool

	// The writer's page cache, see smallCacheSizeKiB; guarded by wmu.
	cacheKiB     int    // configured (Options.CacheSizeKiB)
	cacheFull    bool   // the writer uses cacheKiB
	cacheCommits int    // commits since the last size check
	lockPage     uint64 // the page count that gives the full cache; 0: the lock page's number
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path. It does not
// migrate: call Migrate before anything else. path is a file name; it must
// not contain '?' (DSN parameters are the driver's business).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %q: path must be a non-empty file name without '?' or '#'", path)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	opts.ReadConns = min(opts.ReadConns, readConnsMax)
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.CacheSizeKiB <= 0 {
		opts.CacheSizeKiB = DefaultCacheSizeKiB
	}
	busy := strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)
	// Commits sync with fdatasync(2), as SQLite's own Linux builds do: the
	// WAL's data and size reach the disk, and ext4 does not also commit
	// its journal for the file's timestamps. The switch is process-wide;
	// where the platform has no fdatasync it stays off (fsync).
	sqlite3.Fdatasync(true)

	wq := url.Values{}
	wq.Add("_pragma", "busy_timeout("+busy+")")
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(FULL)")
	wq.Add("_pragma", "wal_autocheckpoint(0)") // see checkpointer
	wq.Add("_pragma", "journal_size_limit("+strconv.Itoa(walPreallocBytes)+")")
	wq.Add("_pragma", "foreign_keys(OFF)")
	wq.Add("_pragma", "temp_store(MEMORY)")
	wq.Add("_pragma", "cache_size(-"+strconv.Itoa(min(opts.CacheSizeKiB, smallCacheSizeKiB))+")")
	wq.Set("_txlock", "immediate")
	wdb, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// Pinning the writer connection opens the file and switches it to WAL
	// before any reader connects.
	wconn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var mode string
	if err := wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		wconn.Close()
		wdb.Close()
		if err == nil {
			err = fmt.Errorf("journal_mode is %q, want wal", mode)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+busy+")")
	rq.Add("_pragma", "query_only(ON)")
	rq.Add("_pragma", "temp_store(MEMORY)")
	rq.Add("_pragma", "cache_size(-"+strconv.Itoa(readerCacheSizeKiB)+")")
	rdb, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(opts.ReadConns)
	rdb.SetMaxIdleConns(opts.ReadConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)

	cq := url.Values{}
	cq.Add("_pragma", "busy_timeout("+strconv.FormatInt(checkpointBusyTimeout.Milliseconds(), 10)+")")
	cq.Add("_pragma", "synchronous(FULL)")
	cdb, err := sql.Open("sqlite", path+"?"+cq.Encode())
	if err != nil {
		rdb.Close()
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	cdb.SetMaxOpenConns(1)
	cdb.SetMaxIdleConns(1)
	cdb.SetConnMaxLifetime(0)
	cdb.SetConnMaxIdleTime(0)

	s := &Store{path: path, rdb: rdb, wdb: wdb, wconn: wconn, ckpt: startCheckpointer(cdb),
		av: newAccountView(), busyTimeout: opts.BusyTimeout, preallocateWAL: opts.PreallocateWAL, cacheKiB: opts.CacheSizeKiB,
		cacheFull: opts.CacheSizeKiB <= smallCacheSizeKiB}
	s.wmu.Lock()
	s.sizeCacheLocked(ctx)
	s.wmu.Unlock()
	return s, nil
}

// sizeCacheLocked gives the writer its configured page cache once the
// database has more pages than the lock page's number (see
// smallCacheSizeKiB). A failed check is retried cacheCheckCommits commits
// later: the cache's size is a matter of speed, not of correctness.
func (s *Store) sizeCacheLocked(ctx context.Context) {
	s.cacheCommits = 0
	if s.cacheFull {
		return
	}
	limit := s.lockPage
	if limit == 0 {
		var size uint64
		if err := s.wconn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil || size == 0 {
			return
		}
		limit = 1<<30/size + 1
	}
	var pages uint64
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil || pages < limit {
		return
	}
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(s.cacheKiB)); err == nil {
		s.cacheFull = true
	}
}

// Path returns the file name the Store was opened with.
func (s *Store) Path() string { return s.path }

// Close closes every connection. It waits for a running write to finish;
// calls after Close fail. Close is idempotent.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.isClosed.Store(true)
	var errs []error
	if s.w != nil {
		errs = append(errs, s.wconn.Raw(func(any) error { return s.w.close() }))
		s.w = nil
	}
	s.rstmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	errs = append(errs, s.rdb.Close(), s.ckpt.close(), s.wconn.Close(), s.wdb.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// errClosed is returned by methods called after Close.
var errClosed = errors.New("store is closed")

// lockWriter takes the writer mutex, or fails if the Store is closed.
func (s *Store) lockWriter() error {
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return errClosed
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema change: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Versions
// start at 1 and have no gaps; a violation is a programmer error.
func migrations() []migration {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic("sqlite: listing migrations: " + err.Error())
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "migrations/"), ".sql")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("sqlite: migration file " + n + " is not named NNNN_name.sql")
		}
		body, err := migrationFS.ReadFile(n)
		if err != nil {
			panic("sqlite: reading migration " + n + ": " + err.Error())
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			panic(fmt.Sprintf("sqlite: migration %s has version %d, want %d", m.name, m.version, i+1))
		}
	}
	return ms
}

// LatestSchemaVersion is the version Migrate brings a database to.
func LatestSchemaVersion() int { return len(migrations()) }

// Migrate applies every embedded migration not yet applied, in version
// order, each in its own IMMEDIATE transaction together with its row in
// schema_migrations. It is safe to call on every start and from several
// processes: a migration another process applied first is skipped.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.lockWriter(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer s.wmu.Unlock()
	if s.w != nil {
		s.w.forget() // a migration may move a shard's rows
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`
	if _, err := s.wconn.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	for _, m := range migrations() {
		if err := s.applyMigration(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", m.name, err)
		}
	}
	// Now the database has pages (SQLite deletes the WAL of an empty
	// one) and no transaction is open: nothing writes the WAL meanwhile.
	if s.preallocateWAL {
		if err := preallocateWAL(s.path+"-wal", walPreallocBytes); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) error {
	tx, err := s.wconn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil // applied earlier
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if fill := migrationData[m.version]; fill != nil {
		if err := fill(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the latest applied migration version, 0 for a
// database never migrated.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	err := s.rdb.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").Scan(&exists)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// isConstraint reports whether err is a SQLite UNIQUE or PRIMARY KEY
// constraint violation.
func isConstraint(err error) bool {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// conflict wraps a constraint violation as store.ErrConflict and returns
// other errors unchanged.
func conflict(err error) error {
	if isConstraint(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// walPreallocBytes is the size Options.PreallocateWAL gives the WAL file:
// journal_size_limit, the size a rewound WAL is truncated to. Rewinding
// the WAL stalls commits while the writer copies the last frames and syncs
// the database file (80–120 ms on two cores under load), so the WAL is
// large enough that this happens every few seconds at most: about 94 MiB
// of frames (walFramesRestart) is five seconds at 20,000 payments a
// second.
const walPreallocBytes = 128 << 20

// preallocateWAL extends the WAL file at path with zeros up to size bytes
// and syncs it. A WAL already that large is left as it is; so are its
// frames, whatever they hold. The caller holds the writer, outside a
// transaction.
func preallocateWAL(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	err = extendWithZeros(f, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("preallocate WAL: %w", err)
	}
	return nil
}

// extendWithZeros writes zeros to f from its end up to size bytes, if it
// is shorter, and syncs it.
func extendWithZeros(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil || st.Size() >= size {
		return err
	}
	zeros := make([]byte, 1<<20)
	for off := st.Size(); off < size; {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return f.Sync()
}
