-- AgentPay SQLite schema, version 3: the evidence log (package evidence,
-- C2SP tlog-tiles).
--
-- evidence_files holds the latest version of every hash tile and entry
-- bundle, keyed by the path of its full-width version (e.g.
-- "tile/0/x001/234", "tile/entries/067", never a ".p/W" partial path):
-- tiles only grow, so a batch upserts the fuller version over the partial
-- one and a partial path is served as a prefix of the stored data.
-- evidence_size is the log's size in leaves: one global row (the log is one
-- tree over every shard), written in the same transaction as the files, so
-- a reopened log never sees tiles of a batch that did not commit.
CREATE TABLE evidence_files (
    path TEXT PRIMARY KEY,
    data BLOB NOT NULL
);

CREATE TABLE evidence_size (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL
);
