package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// writeEvidence upserts the batch's evidence files and the log size (see
// migrations/0003_evidence.sql) in the batch's transaction.
func (w *writer) writeEvidence(ctx context.Context, b *ledger.Batch) error {
	ev := b.Evidence
	if ev == nil {
		return nil
	}
	if ev.Size > math.MaxInt64 {
		return fmt.Errorf("size %d above 2^63-1", ev.Size)
	}
	for i := range ev.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := &ev.Files[i]
		if f.Path == "" {
			return fmt.Errorf("file %d: empty path", i)
		}
		// An empty blob may bind as NULL; coalesce keeps the column NOT NULL.
		if err := w.exec(`INSERT INTO evidence_files (path, data) VALUES (?, coalesce(?, x''))
			ON CONFLICT (path) DO UPDATE SET data = excluded.data`, f.Path, f.Data); err != nil {
			return fmt.Errorf("file %q: %w", f.Path, err)
		}
	}
	if err := w.exec(`INSERT INTO evidence_size (id, size) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET size = excluded.size`, int64(ev.Size)); err != nil {
		return fmt.Errorf("size: %w", err)
	}
	return nil
}

// EvidenceFile implements store.Store.
func (s *Store) EvidenceFile(ctx context.Context, path string) ([]byte, error) {
	st, err := s.rstmt(ctx, "SELECT data FROM evidence_files WHERE path = ?")
	if err != nil {
		return nil, fmt.Errorf("sqlite: evidence file: %w", err)
	}
	var data []byte
	err = st.QueryRowContext(ctx, path).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: evidence file %q: %w", path, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: evidence file %q: %w", path, err)
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
