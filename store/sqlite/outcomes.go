package sqlite

import (
	"context"
	"fmt"
)

// OutcomeKeys implements store.Store. It reads on one read connection in
// one snapshot.
func (s *Store) OutcomeKeys(ctx context.Context, fn func(key string) error) error {
	rows, err := s.rdb.QueryContext(ctx, "SELECT key FROM outcomes")
	if err != nil {
		return fmt.Errorf("sqlite: outcome keys: %w", err)
	}
	defer rows.Close()
	var key string
	for rows.Next() {
		if err := rows.Scan(&key); err != nil {
			return fmt.Errorf("sqlite: outcome keys: %w", err)
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: outcome keys: %w", err)
	}
	return nil
}
