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
