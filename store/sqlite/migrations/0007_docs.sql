-- AgentPay SQLite schema, version 7: docs, the services' state changes
-- committed with the ledger (ledger.Doc: mandates issued and revoked, agent
-- keys, risk decisions, approvals).
--
-- One row per doc, written by the batch that committed it; a doc is never
-- changed, a key's later docs supersede its earlier ones. The evidence
-- log's batch tree commits to each doc's kind, key, timestamp and body hash
-- (evidence/ledgerlog), so rows are found by timestamp to rebuild a batch,
-- and by kind and key to read a record's history.
CREATE TABLE docs (
    shard     INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    body      BLOB,              -- NULL: an empty body
    PRIMARY KEY (shard, timestamp)
) WITHOUT ROWID;
CREATE INDEX docs_by_key ON docs (kind, key, timestamp);
