package ledger

import "context"

// TransferRecord is a committed transfer as the store keeps it: the
// transfer with every engine-assigned field filled in (timestamp; for
// post and void, the accounts, ledger, code and the amount actually
// moved; for balancing transfers, the amount actually moved) and the
// fingerprint of the fields as the client submitted them, which decides
// between ResultExists and ResultExistsWithDifferentFields on a retry.
type TransferRecord struct {
	Transfer
	Fingerprint uint64
}

// Expiry records that a pending transfer expired at Timestamp.
type Expiry struct {
	PendingID ID
	Timestamp uint64
}

// Outcome is a response stored for an idempotency key in the same store
// transaction as the side effect it describes. Key is already scoped to the
// caller and endpoint by the caller of the engine.
type Outcome struct {
	Key         string
	RequestHash [32]byte
	Status      int    // the response status the API replays
	Body        []byte // the response body the API replays
	CreatedAt   uint64 // nanoseconds since the Unix epoch
}

// EvidenceFile is one file of the evidence log's C2SP tlog-tiles layout
// (a hash tile or an entry bundle, named by its path such as
// "tile/0/x001/234.p/5" or "tile/entries/000"), full or partial.
type EvidenceFile struct {
	Path string
	Data []byte
}

// EvidenceWrite is what a batch adds to the evidence log: the log's new
// size and every tile and bundle file that changed. The store writes it
// in the batch's transaction, so a batch and its evidence commit as one.
type EvidenceWrite struct {
	Size  uint64 // the log's size (leaves) after this batch
	Files []EvidenceFile
}

// Batch is everything one engine batch changed. A Store commits a Batch in
// exactly one transaction: all of it or none of it.
type Batch struct {
	Shard     uint32
	Seq       uint64 // 1 for a shard's first batch, then +1 per batch
	Timestamp uint64 // the largest timestamp assigned in the batch
	Assets    []Asset
	// Accounts holds the final state of every account created or changed
	// in the batch, each once.
	Accounts  []Account
	Transfers []TransferRecord // in timestamp order
	Expiries  []Expiry         // in timestamp order
	Docs      []Doc            // in timestamp order
	// DocHashes holds the SHA-256 of each doc's body (DocHashes[i] is
	// Docs[i]'s), computed by Submit in its caller's goroutine, so the
	// evidence log's commit path need not hash bodies. It may be shorter
	// than Docs, and a zero hash was not computed.
	DocHashes [][32]byte
	Outcomes  []Outcome
	// Evidence, when not nil, is committed in the same transaction.
	Evidence *EvidenceWrite
}

// Events returns the number of ledger events in the batch.
func (b *Batch) Events() int {
	return len(b.Assets) + len(b.Accounts) + len(b.Transfers) + len(b.Expiries) + len(b.Docs)
}

// Loader receives a shard's committed state from Store.Load.
type Loader interface {
	// Position is called first with the last committed batch's sequence
	// number and timestamp (both 0 for an empty shard).
	Position(seq, timestamp uint64)
	Asset(a Asset)
	Account(a Account)
	// Transfer is called for every committed transfer in timestamp order,
	// and Expiry for every expiry in timestamp order, after all accounts.
	Transfer(t TransferRecord)
	Expiry(e Expiry)
}

// Store is what the engine needs from durable storage. Implementations live
// in store/ and its subpackages and pass the conformance suite in
// store/storetest.
type Store interface {
	// Load streams shard's committed state into l.
	Load(ctx context.Context, shard uint32, l Loader) error
	// CommitBatch durably commits b in one transaction. It returns only
	// after the data is durable (fsynced). It must not keep b or its
	// slices after it returns: the engine reuses their memory. An error means the batch may or
	// may not be durable; the engine treats it as fatal and stops.
	CommitBatch(ctx context.Context, b *Batch) error
}
