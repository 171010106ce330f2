// Package evidence is AgentPay's tamper-evident record: versioned evidence
// entries, two-level batch trees, an append-only RFC 6962 Merkle log stored
// as C2SP tlog-tiles, signed C2SP checkpoints, and a client-side monitor.
//
// The package knows nothing of SQL, HTTP or the ledger engine. Storage is
// reached through the small [TileStore] interface so that a store driver can
// write the tiles and entry bundles of an append in the same transaction as
// the engine batch that produced them.
//
// # Entry format (apay-evidence/v1)
//
// The canonical bytes of an [Entry] are produced once, at write time, by
// [Entry.Marshal] and stored verbatim; verifiers hash the stored bytes and
// never re-serialise. The bytes are the 17-byte ASCII prefix
//
//	"apay-evidence/v1\n"
//
// followed by one JSON object in RFC 8785 (JCS) canonical form: no
// insignificant whitespace, object keys in ascending byte order, integers
// written in shortest decimal form. The encoder restricts every value so that
// JCS and this package's writer agree byte for byte: strings use only the
// characters A-Z a-z 0-9 and "_-.:/+=", and integers lie in
// [0, 2^53-1]. The keys, in their canonical order, are:
//
//	"batch"     optional object {"count": n, "root": hex}: root (64 lowercase hex
//	            digits) and leaf count of the RFC 6962 tree over the entries of
//	            one engine batch; present exactly for kinds "batch" and
//	            "meter_batch"
//	"hashes"    optional array of {"name": s, "sha256": hex}: SHA-256 of the
//	            exact signed bytes of each object the entry concerns, in the
//	            order given by the writer
//	"id"        the entry's unique id (dedup key), e.g. "evt_01J..."
//	"kind"      one of the Kind constants, or a later kind matching [a-z_]{1,32}
//	"prev"      optional hex entry hash (leaf hash, below) of the previous
//	            entry in the same chain (per-wallet hash chain, see [VerifyChain])
//	"seq"       the engine sequence number within the shard
//	"shard"     the engine shard
//	"subjects"  optional array of {"id": s, "type": s}: ids of the records
//	            concerned (accounts, transfers, mandates, ...)
//	"ts"        operator clock, Unix time in microseconds (UTC)
//	"v"         format version, 1
//
// Optional keys are omitted when empty. Entries carry ids and hashes only,
// never raw personal data. The whole encoding is at most [EntryMaxBytes]
// bytes, the limit of a tlog-tiles entry bundle. [ParseEntry] decodes strictly
// and then re-encodes: input that does not reproduce byte for byte is
// rejected, so every accepted entry has exactly one encoding.
//
// The entry hash of an entry is its RFC 6962 leaf hash SHA-256(0x00 ‖ bytes)
// ([LeafHash]); interior nodes are SHA-256(0x01 ‖ left ‖ right). Receipts and
// "prev" links name entries by this hash.
//
// # Batches and two-level proofs
//
// High-volume changes may be committed as one log leaf per engine batch:
// [BatchTree] builds an RFC 6962 tree over the canonical bytes of the batch's
// entries, and [NewBatchEntry] makes the "batch" entry carrying that tree's
// root and count. A [BatchProof] proves one entry is in its batch tree and the
// batch entry is in the log.
//
// # Log and tiles (c2sp.org/tlog-tiles)
//
// [Log] appends leaves and maintains the tiles incrementally. A hash tile at
// level L, index N holds the hashes of the Merkle tree nodes at tree level
// 8·L with indices 256·N … 256·N+255, concatenated (32 bytes each); a full
// tile holds [TileWidth] hashes, a partial one fewer. An entry bundle N holds
// entries 256·N … 256·N+255, each as a big-endian uint16 length followed by
// the entry bytes. Paths follow tlog-tiles ([TilePath], [EntryBundlePath]):
// the index is written in groups of three decimal digits, all but the last
// prefixed with "x", and a partial tile of width W gets the suffix ".p/W",
// e.g. "tile/0/x001/234.p/5" and "tile/entries/067".
//
// A [TileStore] keeps the latest version of each tile and bundle; since tiles
// only grow, the partial tile of width W is the first W hashes (or entries) of
// the stored one.
//
// # Checkpoints (c2sp.org/tlog-checkpoint, c2sp.org/signed-note)
//
// A checkpoint body is exactly three lines, each ending in "\n": the origin
// (printable ASCII without spaces), the tree size in decimal without leading
// zeros, and the standard-base64 root hash (32 bytes). Extension lines are
// rejected. The body is signed as a signed note (golang.org/x/mod/sumdb/note)
// with an Ed25519 key (type 0x01); witnesses add Ed25519 cosignature/v1
// (type 0x04) lines (c2sp.org/tlog-cosignature), see [AddCosignatures].
//
// # Monitor
//
// [Monitor] is the client side: it keeps the largest verified checkpoint and
// accepts a new one only with a valid consistency proof from it.
package evidence
