package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// Evidence files only grow until they are full: a batch adds hashes to
// the partial tiles and entries to the partial entry bundle. Rather than
// rewrite each of them whole on every batch (a partial bundle averages
// tens of KiB), the writer stores what a batch appended as a fragment row,
// "<path>#<offset>" (the offset zero-padded, so fragments sort after the
// file's first row and in order), and folds a file's fragments back into
// its first row every evFragmentsMax of them. EvidenceFile concatenates.
// A version that does not extend the stored one is written whole.
// (migrations/0009_evidence_fragments.sql)
const (
	evFragmentsMax = 16
	// evFilesKept bounds the files whose current version the writer keeps
	// (the partial ones, a few per log level); past it the map is
	// dropped and rebuilt from the store on demand.
	evFilesKept = 64
)

// evFile is the stored version of an evidence file as the writer knows
// it: its data (the concatenation) and how many fragments follow its
// first row.
type evFile struct {
	data  []byte
	frags int
}

// evidenceFileRows selects the rows of one file: its first row, then its
// fragments in order.
const evidenceFileRows = `SELECT path, data FROM evidence_files
	WHERE path = ?1 OR (path >= ?1 || '#' AND path < ?1 || '$') ORDER BY path`

// fragmentPath is the row of a fragment of path starting at offset.
func fragmentPath(path string, offset int) string {
	return fmt.Sprintf("%s#%010d", path, offset)
}

// evStored returns the stored version of path: from the writer's map, or
// read in the batch's transaction; nil data when there is none.
func (w *writer) evStored(path string) (*evFile, bool, error) {
	if f, ok := w.evPending[path]; ok {
		return f, true, nil
	}
	if f, ok := w.evFiles[path]; ok {
		return f, true, nil
	}
	st, err := w.stmt(evidenceFileRows)
	if err != nil {
		return nil, false, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), w.bind([]driver.Value{path}))
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	f, found := &evFile{}, false
	dest := make([]driver.Value, 2)
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, false, err
		}
		b, _ := dest[1].([]byte)
		f.data = append(f.data, b...)
		if p, _ := dest[0].(string); p != path {
			f.frags++
		}
		found = true
	}
	return f, found, nil
}

// writeEvidence writes the batch's evidence files and the log size (see
// migrations/0003_evidence.sql) in the batch's transaction.
func (w *writer) writeEvidence(ctx context.Context, b *ledger.Batch) error {
	ev := b.Evidence
	if ev == nil {
		return nil
	}
	if ev.Size > math.MaxInt64 {
		return fmt.Errorf("size %d above 2^63-1", ev.Size)
	}
	clear(w.evPending)
	for i := range ev.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := &ev.Files[i]
		if f.Path == "" {
			return fmt.Errorf("file %d: empty path", i)
		}
		if err := w.writeEvidenceFile(f.Path, f.Data); err != nil {
			return fmt.Errorf("file %q: %w", f.Path, err)
		}
	}
	if err := w.exec(`INSERT INTO evidence_size (id, size) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET size = excluded.size`, int64(ev.Size)); err != nil {
		return fmt.Errorf("size: %w", err)
	}
	return nil
}

// writeEvidenceFile stores data as the new version of path: a fragment
// when it extends the stored version, the whole file otherwise.
func (w *writer) writeEvidenceFile(path string, data []byte) error {
	old, found, err := w.evStored(path)
	if err != nil {
		return err
	}
	n := len(old.data)
	switch {
	case found && len(data) == n && bytes.Equal(data, old.data):
		return nil
	case found && len(data) > n && old.frags+1 < evFragmentsMax && bytes.Equal(data[:n], old.data):
		if err := w.exec("INSERT INTO evidence_files (path, data) VALUES (?, ?)", fragmentPath(path, n), data[n:]); err != nil {
			return err
		}
		// Appended in place when the buffer has room: the stored version
		// (old, n bytes) never reads past its length, and a failed batch
		// forgets every version (evidenceFailed).
		w.evPending[path] = &evFile{data: append(old.data[:n], data[n:]...), frags: old.frags + 1}
		return nil
	}
	if old.frags > 0 {
		if err := w.exec(`DELETE FROM evidence_files WHERE path >= ? || '#' AND path < ? || '$'`, path, path); err != nil {
			return err
		}
	}
	// An empty blob may bind as NULL; coalesce keeps the column NOT NULL.
	if err := w.exec(`INSERT INTO evidence_files (path, data) VALUES (?, coalesce(?, x''))
		ON CONFLICT (path) DO UPDATE SET data = excluded.data`, path, data); err != nil {
		return err
	}
	w.evPending[path] = &evFile{data: bytes.Clone(data)}
	return nil
}

// evidenceCommitted makes the batch's evidence files the writer's known
// versions; evidenceFailed forgets every known version (the store is read
// again), for a batch that did not commit.
func (w *writer) evidenceCommitted() {
	if len(w.evFiles)+len(w.evPending) > evFilesKept {
		clear(w.evFiles)
	}
	for p, f := range w.evPending {
		w.evFiles[p] = f
	}
	clear(w.evPending)
}

func (w *writer) evidenceFailed() {
	clear(w.evFiles)
	clear(w.evPending)
}

// EvidenceFile implements store.Store.
func (s *Store) EvidenceFile(ctx context.Context, path string) ([]byte, error) {
	st, err := s.rstmt(ctx, evidenceFileRows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: evidence file: %w", err)
	}
	rows, err := st.QueryContext(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: evidence file %q: %w", path, err)
	}
	defer rows.Close()
	var data []byte
	found := false
	for rows.Next() {
		var p string
		var part []byte
		if err := rows.Scan(&p, &part); err != nil {
			return nil, fmt.Errorf("sqlite: evidence file %q: %w", path, err)
		}
		data, found = append(data, part...), true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: evidence file %q: %w", path, err)
	}
	if !found {
		return nil, fmt.Errorf("sqlite: evidence file %q: %w", path, store.ErrNotFound)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// EvidenceSize implements store.Store.
func (s *Store) EvidenceSize(ctx context.Context) (uint64, error) {
	st, err := s.rstmt(ctx, "SELECT size FROM evidence_size WHERE id = 1")
	if err != nil {
		return 0, fmt.Errorf("sqlite: evidence size: %w", err)
	}
	var size int64
	err = st.QueryRowContext(ctx).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: evidence size: %w", err)
	}
	if size < 0 {
		return 0, fmt.Errorf("sqlite: evidence size %d negative", size)
	}
	return uint64(size), nil
}

// PutCheckpoint implements store.Store.
func (s *Store) PutCheckpoint(ctx context.Context, size uint64, note []byte) error {
	if size > math.MaxInt64 {
		return fmt.Errorf("sqlite: put checkpoint: size %d above 2^63-1", size)
	}
	if len(note) == 0 {
		return fmt.Errorf("sqlite: put checkpoint %d: empty note", size)
	}
	if err := s.lockWriter(); err != nil {
		return fmt.Errorf("sqlite: put checkpoint %d: %w", size, err)
	}
	defer s.wmu.Unlock()
	res, err := s.wconn.ExecContext(ctx,
		`INSERT INTO evidence_checkpoints (size, note) VALUES (?, ?) ON CONFLICT (size) DO NOTHING`,
		int64(size), note)
	if err != nil {
		return fmt.Errorf("sqlite: put checkpoint %d: %w", size, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put checkpoint %d: %w", size, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: put checkpoint %d: %w", size, store.ErrConflict)
	}
	return nil
}

// LatestCheckpoint implements store.Store.
func (s *Store) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	return s.checkpoint(ctx, "SELECT size, note FROM evidence_checkpoints ORDER BY size DESC LIMIT 1")
}

// CheckpointAt implements store.Store.
func (s *Store) CheckpointAt(ctx context.Context, size uint64) ([]byte, error) {
	if size > math.MaxInt64 {
		return nil, fmt.Errorf("sqlite: checkpoint %d: %w", size, store.ErrNotFound)
	}
	_, note, err := s.checkpoint(ctx, "SELECT size, note FROM evidence_checkpoints WHERE size = ?", int64(size))
	return note, err
}

func (s *Store) checkpoint(ctx context.Context, query string, args ...any) (uint64, []byte, error) {
	st, err := s.rstmt(ctx, query)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	var size int64
	var note []byte
	err = st.QueryRowContext(ctx, args...).Scan(&size, &note)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("sqlite: checkpoint: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	if size < 0 {
		return 0, nil, fmt.Errorf("sqlite: checkpoint size %d negative", size)
	}
	return uint64(size), note, nil
}
