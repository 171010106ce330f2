-- AgentPay SQLite schema, version 5: accounts by creation timestamp.
--
-- The evidence log's batch tree has one leaf per account a batch created
-- (evidence/ledgerlog); rebuilding a batch's tree, to prove a transfer or
-- to audit, needs the accounts created in a timestamp range. CommitBatch
-- writes a row here for every account whose timestamp is newer than the
-- shard's previous position (an account created by the batch).
CREATE TABLE account_creations (
    shard     INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    id        BLOB    NOT NULL,
    PRIMARY KEY (shard, timestamp)
) WITHOUT ROWID;
