package sqlite

import (
	"context"
	"fmt"
	"math"

	"github.com/agentpay/agentpay/store"
)

// Witness cosignatures and checkpoint export (see
// migrations/0006_cosignatures.sql).

// PutCosignature implements store.Store.
func (s *Store) PutCosignature(ctx context.Context, size uint64, witness string, sigLine []byte) error {
	if size > math.MaxInt64 {
		return fmt.Errorf("sqlite: put cosignature %d: %w", size, store.ErrNotFound)
	}
	if witness == "" || len(sigLine) == 0 {
		return fmt.Errorf("sqlite: put cosignature %d: empty witness or signature", size)
	}
	if err := s.lockWriter(); err != nil {
		return fmt.Errorf("sqlite: put cosignature %d: %w", size, err)
	}
	defer s.wmu.Unlock()
	// Foreign keys are off: the WHERE EXISTS is the reference check.
	res, err := s.wconn.ExecContext(ctx,
		`INSERT INTO evidence_cosignatures (size, witness, sig)
		SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM evidence_checkpoints WHERE size = ?)
		ON CONFLICT (size, witness) DO UPDATE SET sig = excluded.sig`,
		int64(size), witness, sigLine, int64(size))
	if err != nil {
		return fmt.Errorf("sqlite: put cosignature %d: %w", size, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: put cosignature %d: %w", size, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: put cosignature %d: checkpoint %w", size, store.ErrNotFound)
	}
	return nil
}

// Cosignatures implements store.Store.
func (s *Store) Cosignatures(ctx context.Context, size uint64) ([][]byte, error) {
	if size > math.MaxInt64 {
		return nil, nil
	}
	st, err := s.rstmt(ctx, "SELECT sig FROM evidence_cosignatures WHERE size = ? ORDER BY witness")
	if err != nil {
		return nil, fmt.Errorf("sqlite: cosignatures: %w", err)
	}
	rows, err := st.QueryContext(ctx, int64(size))
	if err != nil {
		return nil, fmt.Errorf("sqlite: cosignatures: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var sig []byte
		if err := rows.Scan(&sig); err != nil {
			return nil, fmt.Errorf("sqlite: cosignatures: %w", err)
		}
		out = append(out, sig)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: cosignatures: %w", err)
	}
	return out, nil
}

// ListCheckpoints implements store.Store.
func (s *Store) ListCheckpoints(ctx context.Context, after uint64, limit int) ([]store.StoredCheckpoint, error) {
	if limit < 1 || limit > store.PageLimitMax {
		return nil, fmt.Errorf("sqlite: list checkpoints: limit %d outside 1..%d", limit, store.PageLimitMax)
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	st, err := s.rstmt(ctx, "SELECT size, note FROM evidence_checkpoints WHERE size > ? ORDER BY size LIMIT ?")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list checkpoints: %w", err)
	}
	rows, err := st.QueryContext(ctx, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list checkpoints: %w", err)
	}
	defer rows.Close()
	var out []store.StoredCheckpoint
	for rows.Next() {
		var size int64
		var note []byte
		if err := rows.Scan(&size, &note); err != nil {
			return nil, fmt.Errorf("sqlite: list checkpoints: %w", err)
		}
		if size < 0 {
			return nil, fmt.Errorf("sqlite: list checkpoints: size %d negative", size)
		}
		out = append(out, store.StoredCheckpoint{Size: uint64(size), Note: note})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list checkpoints: %w", err)
	}
	return out, nil
}
