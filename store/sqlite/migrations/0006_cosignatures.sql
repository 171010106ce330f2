-- AgentPay SQLite schema, version 6: witness cosignatures of the evidence
-- log's checkpoints (c2sp.org/tlog-cosignature, see evidence/witness.go).
--
-- One row per checkpoint size and witness (the witness's key name); sig is
-- the cosignature line ("— name base64", no newline), verified before it
-- is stored. A witness that cosigns a size again replaces its line (the
-- cosignature carries a timestamp, so it may differ). The served
-- checkpoint is the note in evidence_checkpoints with these lines appended
-- in witness order.
CREATE TABLE evidence_cosignatures (
    size    INTEGER NOT NULL REFERENCES evidence_checkpoints (size),
    witness TEXT    NOT NULL,
    sig     BLOB    NOT NULL,
    PRIMARY KEY (size, witness)
) WITHOUT ROWID;
