-- AgentPay SQLite schema, version 1.
--
-- Conventions: timestamps, sequence numbers and shards are INTEGERs below
-- 2^63 (CommitBatch checks), so they order correctly. IDs are 16-byte
-- big-endian BLOBs, so BLOB order is numeric order. Fixed binary records
-- (store/codec.go) hold what is only ever read whole. A transfer's
-- timestamp is unique within its shard. Every row of a batch is written in
-- key order, mostly appended: the page writes of a commit, not the rows,
-- are what bound throughput (see BenchmarkCommitBatch).

-- The last committed batch of each shard: the fence CommitBatch checks.
CREATE TABLE shard_positions (
    shard     INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL,
    timestamp INTEGER NOT NULL
);

-- Assets belong to the shard whose batch committed them.
CREATE TABLE assets (
    shard     INTEGER NOT NULL,
    ledger    INTEGER NOT NULL,
    code      TEXT    NOT NULL,
    scale     INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (shard, ledger)
) WITHOUT ROWID;

-- One row per account, upserted once per batch that changes it. rec is the
-- account's fixed 132-byte encoding (store.EncodeAccount: id, the four
-- 128-bit balances as 16-byte big-endian integers, then the immutable
-- fields): one value to bind and compare instead of eleven, which makes
-- the per-account upsert of a batch about 2.5 times cheaper, and read back
-- exactly. shard is the shard whose batch created the account.
CREATE TABLE accounts (
    id    BLOB    NOT NULL PRIMARY KEY,
    shard INTEGER NOT NULL,
    rec   BLOB    NOT NULL
) WITHOUT ROWID;

-- Transfers, written compactly: one row per run of up to 64 consecutive
-- transfers of a batch, records being their 128-byte encodings
-- (store.EncodeTransferRecord) in timestamp order. A rowid table because
-- the rows are large (WITHOUT ROWID suits rows under ~200 bytes).
CREATE TABLE transfer_chunks (
    shard    INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL,
    records  BLOB    NOT NULL
);
CREATE UNIQUE INDEX transfer_chunks_by_ts ON transfer_chunks (shard, first_ts);

-- Per-account history, in two levels so that a batch appends a few rows
-- instead of touching one B-tree page per account. An account's transfer
-- timestamps are stored ascending as a delta stream: the first as a
-- uvarint, then each difference to the previous one as a uvarint (2-3
-- bytes instead of 8).
--
-- Level 0: every batch appends its accounts' timestamps, packed: entries
-- is a run of records (account id 16 bytes, stream length 2 bytes, the
-- stream), sorted by account, at most ~900 bytes per row (a busy account's
-- list continues in the next row); min_account and max_account are the
-- first and last account of the row, part numbers the rows of a batch.
-- history_batches lists the level-0 batches.
CREATE TABLE history_batches (
    shard    INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL,
    PRIMARY KEY (shard, first_ts)
) WITHOUT ROWID;
CREATE TABLE account_transfers_recent (
    shard       INTEGER NOT NULL,
    batch_ts    INTEGER NOT NULL,
    max_account BLOB    NOT NULL,
    part        INTEGER NOT NULL,
    min_account BLOB    NOT NULL,
    entries     BLOB    NOT NULL,
    PRIMARY KEY (shard, batch_ts, max_account, part)
) WITHOUT ROWID;
-- Level 1: every 32 batches (the CommitBatch that finds that many level-0
-- batches) the shard's level-0 rows are merged per account into streams of
-- up to ~900 bytes keyed by their last timestamp, written here in account
-- order and deleted from level 0, in the same transaction. Level 1 holds a
-- shard's older transfers, level 0 the newer.
CREATE TABLE account_transfers (
    account_id BLOB    NOT NULL,
    last_ts    INTEGER NOT NULL,
    shard      INTEGER NOT NULL,
    timestamps BLOB    NOT NULL,
    PRIMARY KEY (account_id, last_ts)
) WITHOUT ROWID;

-- Transfer id -> timestamp. A batch's ids are sorted and cut into groups
-- of up to 48 that share their upper 48 bits (prefix: the millisecond of a
-- ULID or UUIDv7); entries holds, in id order, each id's lower 10 bytes and
-- its timestamp (8 bytes). Time-ordered ids need a few rows per
-- millisecond instead of one per transfer; random ids degrade to one row
-- per transfer. min_id and max_id bound the group's ids.
CREATE TABLE transfer_ids (
    prefix  INTEGER NOT NULL,
    min_id  BLOB    NOT NULL,
    max_id  BLOB    NOT NULL,
    shard   INTEGER NOT NULL,
    entries BLOB    NOT NULL,
    PRIMARY KEY (prefix, min_id)
) WITHOUT ROWID;

CREATE TABLE expiries (
    shard      INTEGER NOT NULL,
    timestamp  INTEGER NOT NULL,
    pending_id BLOB    NOT NULL,
    PRIMARY KEY (shard, timestamp, pending_id)
) WITHOUT ROWID;

-- Idempotency outcomes, committed with the batch they describe.
CREATE TABLE outcomes (
    key          TEXT    NOT NULL UNIQUE,
    request_hash BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX outcomes_by_created_at ON outcomes (created_at);

CREATE TABLE api_keys (
    id         BLOB    NOT NULL PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    party      TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX api_keys_by_created_at ON api_keys (created_at, id);
