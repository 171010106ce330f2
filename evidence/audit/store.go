package audit

import (
	"context"
	"math"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// StoreSource audits a store directly (a data directory), including the
// check that no stored record is outside the log.
type StoreSource struct {
	ledgerlog.Tiles
	St store.Store
}

// NewStoreSource returns a Source over st.
func NewStoreSource(st store.Store) *StoreSource {
	return &StoreSource{Tiles: ledgerlog.Tiles{R: st}, St: st}
}

var (
	_ Source = (*StoreSource)(nil)
	_ Lister = (*StoreSource)(nil)
)

// Size implements Source: the committed log size.
func (s *StoreSource) Size(ctx context.Context) (uint64, error) { return s.St.EvidenceSize(ctx) }

// Checkpoints implements Source.
func (s *StoreSource) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	var out []Checkpoint
	after := uint64(0)
	for {
		page, err := s.St.ListCheckpoints(ctx, after, store.PageLimitMax)
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			out = append(out, Checkpoint{Size: c.Size, Note: c.Note})
			after = c.Size
		}
		if len(page) < store.PageLimitMax {
			return out, nil
		}
	}
}

// BatchLeaves implements Source.
func (s *StoreSource) BatchLeaves(ctx context.Context, _ uint64, e *evidence.Entry) ([][]byte, error) {
	r, err := ledgerlog.Rebuild(ctx, s.St, e)
	if err != nil {
		return nil, err
	}
	return r.Leaves(), nil
}

// Accounts implements Source.
func (s *StoreSource) Accounts(ctx context.Context, fn func(ledger.Account) error) error {
	var after ledger.ID
	for {
		page, err := s.St.ListAccounts(ctx, after, store.PageLimitMax)
		if err != nil {
			return err
		}
		for _, a := range page.Accounts {
			if err := fn(a); err != nil {
				return err
			}
		}
		if page.Next.IsZero() {
			return nil
		}
		after = page.Next
	}
}

// Records implements Lister.
func (s *StoreSource) Records(ctx context.Context, shard uint32, l ledger.Loader) error {
	return s.St.Load(ctx, shard, l)
}

// Docs implements Lister.
func (s *StoreSource) Docs(ctx context.Context, shard uint32, fn func(ledger.Doc) error) error {
	return s.St.ListDocs(ctx, shard, 0, math.MaxInt64, fn)
}
