package wallet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/agentpay/agentpay/ledger"
)

// Rail moves money between the outside world (a bank, a card network) and
// the platform. The service records a top-up only after the rail's Charge
// succeeded and pays a withdrawal out only after the ledger committed it;
// the operator's funding and payout accounts mirror what the rail moved,
// for settlement. Implementations must be idempotent on Ref: a retry with
// the same Ref must not move money twice.
type Rail interface {
	// Charge takes amount (minor units of currency) from the source the
	// user named (a card token, a bank mandate) and returns the rail's
	// reference for it.
	Charge(ctx context.Context, ref, source, currency string, amount uint64) (string, error)
	// Payout sends amount to the destination the user named.
	Payout(ctx context.Context, ref, destination, currency string, amount uint64) (string, error)
}

// TestRail simulates a bank: a source or destination "ok..." succeeds,
// "decline..." is declined, anything else is refused as unknown. It
// remembers each Ref, so a retry returns the first answer.
type TestRail struct {
	mu   sync.Mutex
	done map[string]string
}

// NewTestRail returns a simulated rail.
func NewTestRail() *TestRail { return &TestRail{done: map[string]string{}} }

// ErrDeclined is returned by TestRail for a declined source.
var ErrDeclined = errors.New("wallet: declined by the funding rail")

func (t *TestRail) move(ref, party string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.done[ref]; ok {
		return r, nil
	}
	switch {
	case strings.HasPrefix(party, "decline"):
		return "", ErrDeclined
	case !strings.HasPrefix(party, "ok"):
		return "", fmt.Errorf("%w: unknown test instrument %q (use ok... or decline...)", ErrDeclined, party)
	}
	r := "test_" + ref
	t.done[ref] = r
	return r, nil
}

// Charge implements Rail.
func (t *TestRail) Charge(_ context.Context, ref, source, _ string, _ uint64) (string, error) {
	return t.move(ref, source)
}

// Payout implements Rail.
func (t *TestRail) Payout(_ context.Context, ref, destination, _ string, _ uint64) (string, error) {
	return t.move(ref, destination)
}

// Movement is a top-up or a withdrawal.
type Movement struct {
	ID       string `json:"id"` // the transfer id, as the API writes it
	Wallet   string `json:"wallet"`
	Amount   uint64 `json:"amount"`
	Rail     string `json:"rail"`
	RailRef  string `json:"rail_ref"`
	Transfer ledger.ID
}

// TopUp charges source on the rail and credits the wallet. key makes it
// idempotent: the same key moves money once.
func (s *Service) TopUp(ctx context.Context, walletID, key, rail, source string, amount uint64) (*Movement, error) {
	w, r, err := s.movement(walletID, key, rail, amount)
	if err != nil {
		return nil, err
	}
	tid := id("topup", w.ID, key)
	ref, err := r.Charge(ctx, tid.String(), source, w.Currency, amount)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRail, err)
	}
	t := []ledger.Transfer{{ID: tid, DebitAccountID: fundingAccount(w.Ledger), CreditAccountID: w.Account,
		Amount: amount, Ledger: w.Ledger, Code: TransferTopUp}}
	res, err := s.engine.CreateTransfers(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	if !res[0].Committed() {
		return nil, fmt.Errorf("%w: top-up: %v", ErrConflict, res[0])
	}
	return &Movement{ID: tid.String(), Wallet: w.ID, Amount: amount, Rail: rail, RailRef: ref, Transfer: tid}, nil
}

// Withdraw debits the wallet and pays destination out on the rail. The
// debit commits first (a wallet never pays out what it does not hold);
// a rail failure after it is retried with the same key.
func (s *Service) Withdraw(ctx context.Context, walletID, key, rail, destination string, amount uint64) (*Movement, error) {
	w, r, err := s.movement(walletID, key, rail, amount)
	if err != nil {
		return nil, err
	}
	tid := id("withdraw", w.ID, key)
	t := []ledger.Transfer{{ID: tid, DebitAccountID: w.Account, CreditAccountID: payoutAccount(w.Ledger),
		Amount: amount, Ledger: w.Ledger, Code: TransferWithdraw}}
	res, err := s.engine.CreateTransfers(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEngine, err)
	}
	if !res[0].Committed() {
		return nil, fmt.Errorf("%w: withdrawal: %v", ErrRefused, res[0])
	}
	ref, err := r.Payout(ctx, tid.String(), destination, w.Currency, amount)
	if err != nil {
		return nil, fmt.Errorf("%w: the wallet was debited; retry with the same key to pay out: %w", ErrRail, err)
	}
	return &Movement{ID: tid.String(), Wallet: w.ID, Amount: amount, Rail: rail, RailRef: ref, Transfer: tid}, nil
}

// movement checks what a top-up or a withdrawal names.
func (s *Service) movement(walletID, key, rail string, amount uint64) (*Wallet, Rail, error) {
	w, err := s.Wallet(walletID)
	if err != nil {
		return nil, nil, err
	}
	r, ok := s.rails[rail]
	if !ok {
		return nil, nil, fmt.Errorf("%w: unknown funding rail %q", ErrInvalid, rail)
	}
	if amount == 0 || key == "" {
		return nil, nil, fmt.Errorf("%w: a top-up or withdrawal needs an amount and a key", ErrInvalid)
	}
	return w, r, nil
}
