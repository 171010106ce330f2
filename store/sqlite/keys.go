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

// outcomesDeleteRowsMax is how many outcomes DeleteOutcomesBefore deletes
// per transaction, so a large purge never holds the writer for long.
const outcomesDeleteRowsMax = 5000

// GetOutcome returns the outcome stored for key, or an error wrapping
// store.ErrNotFound. An empty body reads back as nil.
func (s *Store) GetOutcome(ctx context.Context, key string) (ledger.Outcome, error) {
	st, err := s.rstmt(ctx, "SELECT request_hash, status, body, created_at FROM outcomes WHERE key = ?")
	if err != nil {
		return ledger.Outcome{}, fmt.Errorf("sqlite: get outcome: %w", err)
	}
	o := ledger.Outcome{Key: key}
	var hash []byte
	var status, created int64
	err = st.QueryRowContext(ctx, key).Scan(&hash, &status, &o.Body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Outcome{}, fmt.Errorf("sqlite: get outcome %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return ledger.Outcome{}, fmt.Errorf("sqlite: get outcome %q: %w", key, err)
	}
	if len(hash) != len(o.RequestHash) {
		return ledger.Outcome{}, fmt.Errorf("sqlite: get outcome %q: request hash of %d bytes", key, len(hash))
	}
	copy(o.RequestHash[:], hash)
	if len(o.Body) == 0 {
		o.Body = nil
	}
	o.Status, o.CreatedAt = int(status), uint64(created)
	return o, nil
}

// DeleteOutcomesBefore deletes the outcomes created before the timestamp,
// in transactions of at most 5,000 rows so that CommitBatch can run in
// between, and returns how many it deleted. On an error, the rows of the
// transactions that committed stay deleted.
func (s *Store) DeleteOutcomesBefore(ctx context.Context, before uint64) (int, error) {
	b := int64(min(before, math.MaxInt64))
	total := 0
	for {
		n, err := s.deleteOutcomes(ctx, b)
		total += n
		if err != nil {
			return total, fmt.Errorf("sqlite: delete outcomes before %d: %w", before, err)
		}
		if n < outcomesDeleteRowsMax {
			return total, nil
		}
	}
}

func (s *Store) deleteOutcomes(ctx context.Context, before int64) (int, error) {
	if err := s.lockWriter(); err != nil {
		return 0, err
	}
	defer s.wmu.Unlock()
	res, err := s.wconn.ExecContext(ctx, `DELETE FROM outcomes WHERE rowid IN
		(SELECT rowid FROM outcomes WHERE created_at < ? LIMIT ?)`, before, outcomesDeleteRowsMax)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// CreateAPIKey stores k; the error wraps store.ErrConflict if its ID or
// hash exists.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if err := s.lockWriter(); err != nil {
		return fmt.Errorf("sqlite: create api key: %w", err)
	}
	defer s.wmu.Unlock()
	_, err := s.wconn.ExecContext(ctx, `INSERT INTO api_keys
		(id, hash, prefix, party, role, name, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID[:], k.Hash[:], k.Prefix, k.Party, string(k.Role), k.Name, int64(k.CreatedAt), int64(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create api key %v: %w", k.ID, conflict(err))
	}
	return nil
}

const apiKeyColumns = "id, hash, prefix, party, role, name, created_at, revoked_at"

func scanAPIKey(sc interface{ Scan(...any) error }) (store.APIKey, error) {
	var k store.APIKey
	var id, hash []byte
	var role string
	var created, revoked int64
	if err := sc.Scan(&id, &hash, &k.Prefix, &k.Party, &role, &k.Name, &created, &revoked); err != nil {
		return k, err
	}
	if len(id) != len(k.ID) || len(hash) != len(k.Hash) {
		return k, fmt.Errorf("api key row: id of %d bytes, hash of %d", len(id), len(hash))
	}
	copy(k.ID[:], id)
	copy(k.Hash[:], hash)
	k.Role, k.CreatedAt, k.RevokedAt = store.Role(role), uint64(created), uint64(revoked)
	return k, nil
}

// GetAPIKeyByHash returns the key with that secret hash, revoked or not,
// or an error wrapping store.ErrNotFound.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash [32]byte) (store.APIKey, error) {
	st, err := s.rstmt(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE hash = ?")
	if err != nil {
		return store.APIKey{}, fmt.Errorf("sqlite: get api key: %w", err)
	}
	k, err := scanAPIKey(st.QueryRowContext(ctx, hash[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, fmt.Errorf("sqlite: get api key by hash: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("sqlite: get api key by hash: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key in creation order (CreatedAt, then ID).
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey sets the key's RevokedAt to at (not 0: that error wraps
// store.ErrInvalidArgument) unless it is revoked already; the error wraps
// store.ErrNotFound for an unknown id.
func (s *Store) RevokeAPIKey(ctx context.Context, id ledger.ID, at uint64) error {
	if at == 0 {
		return fmt.Errorf("sqlite: revoke api key %v: revocation time 0: %w", id, store.ErrInvalidArgument)
	}
	if err := s.lockWriter(); err != nil {
		return fmt.Errorf("sqlite: revoke api key: %w", err)
	}
	defer s.wmu.Unlock()
	res, err := s.wconn.ExecContext(ctx, `UPDATE api_keys
		SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?`, int64(at), id[:])
	if err != nil {
		return fmt.Errorf("sqlite: revoke api key %v: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: revoke api key %v: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: revoke api key %v: %w", id, store.ErrNotFound)
	}
	return nil
}
