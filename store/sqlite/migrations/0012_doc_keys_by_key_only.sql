-- AgentPay SQLite schema, version 12: doc_keys indexed by key only.
--
-- doc_keys_by_kind (version 8) ordered a kind's docs by timestamp for
-- DocsOfKind, which services call once, on start; every doc committed paid
-- for it with a second B-tree insert (about a quarter of a wallet
-- payment's doc cost in the commit). DocsOfKind now reads a kind's keys
-- by the primary key (kind first) and orders them by timestamp in memory,
-- as it already held them all before reading their chunks.
DROP INDEX IF EXISTS doc_keys_by_kind;
