-- AgentPay SQLite schema, version 8: docs packed into chunks.
--
-- A wallet payment commits one doc of ~2.6 KB. As one row per doc (version
-- 7) each body spilled to an overflow page of its own and each doc cost a
-- row insert plus an index entry in the batch's commit; packed, a batch's
-- docs fill whole overflow pages and cost one row per chunk plus a small
-- key row each, the way transfers are stored (transfer_chunks).
--
-- doc_chunks: the docs of a shard in runs of consecutive timestamps, each
-- run one row: first_ts and last_ts are its first and last doc's
-- timestamps, records the docs in timestamp order, each encoded as
--
--     uvarint  timestamp - first_ts (0 for the first doc)
--     uvarint  len(kind), kind
--     uvarint  len(key),  key
--     uvarint  len(body), body     (0: an empty body)
--
-- A batch's docs are cut into rows of at most 64 KiB of records (a single
-- doc larger than that is a row of its own), so a point read decodes at
-- most that much. Rows of a shard never overlap in time; a range read
-- starts at the last row whose first_ts is at or before the range's start.
-- A rowid table, like transfer_chunks: in a WITHOUT ROWID table a B-tree
-- seek reads the whole of every overflowing row it compares (the key of
-- such a row is its whole record), which made each insert read several
-- chunks.
--
-- doc_keys: one row per doc, naming the chunk that holds it (chunk_ts is
-- that row's first_ts): found by kind and key for a record's history, by
-- kind and timestamp (doc_keys_by_kind, covering) for a service's docs of
-- one kind.
--
-- The data of version 7's docs table is moved here by the migration's Go
-- step (migrationData in events.go), which then drops that table.
CREATE TABLE doc_chunks (
    shard    INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL,
    records  BLOB    NOT NULL
);
CREATE UNIQUE INDEX doc_chunks_by_ts ON doc_chunks (shard, first_ts);
CREATE TABLE doc_keys (
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    timestamp INTEGER NOT NULL,
    shard     INTEGER NOT NULL,
    chunk_ts  INTEGER NOT NULL,
    PRIMARY KEY (kind, key, timestamp, shard)
) WITHOUT ROWID;
CREATE INDEX doc_keys_by_kind ON doc_keys (kind, timestamp, shard, chunk_ts);
