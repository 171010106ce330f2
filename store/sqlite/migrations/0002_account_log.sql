-- AgentPay SQLite schema, version 2: the account log.
--
-- Upserting every account a batch changed costs a B-tree page write per
-- account (its page, anywhere in the accounts table), which dominated small
-- batches. A batch instead appends one row here: the final state of each
-- account it changed, as 132-byte records (store.EncodeAccount) in id
-- order. Every so often a commit folds the log into accounts (the final
-- state of every account the log holds, upserted in id order) and empties
-- it, in the same transaction. An account's committed state is its row in
-- accounts overridden by its last record here (the largest seq); an account
-- created since the last fold is only here. seq orders the rows of all
-- shards; batch is the batch's seq within its shard.
CREATE TABLE account_log (
    seq     INTEGER PRIMARY KEY,
    shard   INTEGER NOT NULL,
    batch   INTEGER NOT NULL,
    records BLOB    NOT NULL
);

-- Not a schema change, recorded here: when a shard's level-0 history
-- reaches 32 batches but holds less than 256 KiB, CommitBatch now merges
-- it into one level-0 batch (its history_batches row spans the batches it
-- replaced) instead of moving it to level 1, so small batches do not give
-- every account a short level-1 row every 32 batches.
