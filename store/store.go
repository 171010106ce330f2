// Package store defines AgentPay's storage contract: what the ledger engine
// commits (ledger.Store) and what the API reads (accounts, transfers, API
// keys, idempotency outcomes). Drivers live in subpackages named after the
// technology (store/sqlite, later store/postgres); every driver must pass
// the conformance suite in store/storetest, and a behaviour change in one
// driver without a change to the suite is a bug.
//
// Reads see only committed data: an acknowledged transfer is always visible,
// and nothing the engine has applied but not yet committed ever is.
package store

import (
	"context"
	"errors"

	"github.com/agentpay/agentpay/ledger"
)

// Errors returned by Store methods.
var (
	// ErrNotFound: the object does not exist (or is not committed yet).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: an object with the same unique key already exists.
	ErrConflict = errors.New("store: conflict")
)

// Limits, units last.
const (
	// PageLimitMax is the largest page a list method returns.
	PageLimitMax = 1000
)

// Role is what an API key may do.
type Role string

// Roles.
const (
	// RoleAdmin may do everything, including creating other keys.
	RoleAdmin Role = "admin"
	// RoleWriter may create and read ledger objects.
	RoleWriter Role = "writer"
	// RoleReader may only read.
	RoleReader Role = "reader"
)

// APIKey is an API credential. Only the SHA-256 hash of the secret is
// stored; the secret is shown once, when the key is created.
type APIKey struct {
	ID        ledger.ID
	Hash      [32]byte // SHA-256 of the secret
	Prefix    string   // the first characters of the secret, to recognise it
	Party     string   // the party the key acts for ("operator", a merchant id, ...)
	Role      Role
	Name      string
	CreatedAt uint64 // nanoseconds since the Unix epoch
	RevokedAt uint64 // 0 while the key is valid
}

// AccountPage is one page of accounts in ID order.
type AccountPage struct {
	Accounts []ledger.Account
	// Next is the ID to pass as after for the next page; zero when this is
	// the last page.
	Next ledger.ID
}

// TransferPage is one page of an account's transfers in timestamp order.
type TransferPage struct {
	Transfers []ledger.Transfer
	// Next is the timestamp to pass as after for the next page; 0 when this
	// is the last page.
	Next uint64
}

// StoredCheckpoint is a signed checkpoint of the evidence log as stored.
type StoredCheckpoint struct {
	Size uint64
	Note []byte
}

// Store is the full storage contract. A driver is safe for concurrent use;
// CommitBatch is called by one goroutine per shard.
type Store interface {
	ledger.Store

	// Migrate applies every schema migration not yet applied, in version
	// order, each in its own transaction. It is safe to call on every start.
	Migrate(ctx context.Context) error
	// SchemaVersion returns the latest applied migration version.
	SchemaVersion(ctx context.Context) (int, error)

	// ListAssets returns every asset in ledger order.
	ListAssets(ctx context.Context) ([]ledger.Asset, error)
	// GetAccount returns a committed account or ErrNotFound.
	GetAccount(ctx context.Context, id ledger.ID) (ledger.Account, error)
	// ListAccounts returns up to limit (1..PageLimitMax) accounts with an ID
	// greater than after, in ID order.
	ListAccounts(ctx context.Context, after ledger.ID, limit int) (AccountPage, error)
	// GetTransfer returns a committed transfer or ErrNotFound.
	GetTransfer(ctx context.Context, id ledger.ID) (ledger.TransferRecord, error)
	// ListAccountTransfers returns up to limit (1..PageLimitMax) committed
	// transfers that debit or credit account with a timestamp greater than
	// after, in timestamp order. An unknown account yields an empty page.
	ListAccountTransfers(ctx context.Context, account ledger.ID, after uint64, limit int) (TransferPage, error)

	// Events calls l with every asset, account, transfer and expiry of
	// shard with a timestamp in [from, to]: assets, then accounts (in their
	// current state), then transfers, then expiries, each in timestamp
	// order; Position is not called. The evidence log rebuilds a batch's
	// tree from them (evidence/ledgerlog).
	Events(ctx context.Context, shard uint32, from, to uint64, l ledger.Loader) error
	// ListDocs calls fn with every doc (ledger.Doc) of shard with a
	// timestamp in [from, to], in timestamp order, and stops at fn's first
	// error, which it returns.
	ListDocs(ctx context.Context, shard uint32, from, to uint64, fn func(ledger.Doc) error) error
	// DocHistory returns every doc with kind and key, oldest first.
	DocHistory(ctx context.Context, kind, key string) ([]ledger.Doc, error)
	// DocsOfKind calls fn with every doc of kind with a timestamp above
	// after, in timestamp order, and stops at fn's first error.
	DocsOfKind(ctx context.Context, kind string, after uint64, fn func(ledger.Doc) error) error

	// GetOutcome returns the outcome stored for an idempotency key, or
	// ErrNotFound.
	GetOutcome(ctx context.Context, key string) (ledger.Outcome, error)
	// OutcomeKeys calls fn with the key of every stored outcome, in no
	// particular order, and stops at fn's first error, which it returns.
	// It sees the outcomes committed before it started; the API uses it to
	// build its in-memory filter of keys that have outcomes.
	OutcomeKeys(ctx context.Context, fn func(key string) error) error
	// DeleteOutcomesBefore deletes outcomes created before the timestamp
	// (nanoseconds) and returns how many it deleted.
	DeleteOutcomesBefore(ctx context.Context, before uint64) (int, error)

	// CreateAPIKey stores k; ErrConflict if its ID or hash exists.
	CreateAPIKey(ctx context.Context, k APIKey) error
	// GetAPIKeyByHash returns the key with that secret hash, revoked or
	// not, or ErrNotFound.
	GetAPIKeyByHash(ctx context.Context, hash [32]byte) (APIKey, error)
	// ListAPIKeys returns every key in creation order.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey sets RevokedAt; ErrNotFound for an unknown id. Revoking
	// a revoked key keeps the first RevokedAt.
	RevokeAPIKey(ctx context.Context, id ledger.ID, at uint64) error

	// EvidenceFile returns the committed content of the evidence log file
	// (tile or entry bundle) stored under path by a batch's
	// ledger.EvidenceWrite, or ErrNotFound. A later batch writing the same
	// path replaces it (tiles only grow: the writer keys a tile by its
	// full-width path and the stored data may be a partial tile).
	EvidenceFile(ctx context.Context, path string) ([]byte, error)
	// EvidenceSize returns the evidence log's size (leaves) as of the last
	// committed batch that carried a ledger.EvidenceWrite; 0 if none did.
	EvidenceSize(ctx context.Context) (uint64, error)

	// PutCheckpoint stores the signed checkpoint note of the evidence log
	// at size. A size is stored once: ErrConflict if one exists already.
	// The caller signs only sizes whose tiles are committed.
	PutCheckpoint(ctx context.Context, size uint64, note []byte) error
	// LatestCheckpoint returns the stored checkpoint with the largest size
	// and its note, or ErrNotFound when none is stored.
	LatestCheckpoint(ctx context.Context) (size uint64, note []byte, err error)
	// CheckpointAt returns the note of the checkpoint stored at size, or
	// ErrNotFound.
	CheckpointAt(ctx context.Context, size uint64) ([]byte, error)
	// ListCheckpoints returns up to limit (1..PageLimitMax) stored
	// checkpoints with a size greater than after, in size order (for
	// export; a checkpoint at size 0 is never listed).
	ListCheckpoints(ctx context.Context, after uint64, limit int) ([]StoredCheckpoint, error)

	// PutCosignature stores a witness's cosignature line ("— name
	// base64", no newline) on the checkpoint stored at size; the caller
	// has verified it. A witness has one cosignature per size: a later
	// one replaces it. ErrNotFound if no checkpoint is stored at size.
	PutCosignature(ctx context.Context, size uint64, witness string, sigLine []byte) error
	// Cosignatures returns the cosignature lines stored for size, ordered
	// by witness name; none is not an error.
	Cosignatures(ctx context.Context, size uint64) ([][]byte, error)

	// Close releases the store's resources.
	Close() error
}
