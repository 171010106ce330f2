-- AgentPay SQLite schema, version 4: signed checkpoints of the evidence log
-- (C2SP signed-note checkpoints, see package evidence).
--
-- One row per signed tree size; note is the signed note exactly as served.
-- The checkpoint signer only signs sizes whose tiles are committed, and
-- writes a size once: a second signature of the same size is a conflict.
CREATE TABLE evidence_checkpoints (
    size INTEGER PRIMARY KEY CHECK (size >= 0),
    note BLOB NOT NULL
);
