-- AgentPay SQLite schema, version 13: doc keys grouped by their ULID's
-- millisecond.
--
-- A doc_keys row (version 8) was a B-tree insert for every doc committed,
-- about 4 µs of the commit's CPU for each wallet payment. Most keys end in
-- a ULID (pay_01M8MVEB20H67Y3XBWBAN6PAW3: a prefix, 10 characters of
-- millisecond time, 16 of randomness), so, as transfer ids are grouped in
-- transfer_ids, a batch's docs with such keys are sorted and cut into
-- groups that share their kind and their key's time prefix, one row each.
--
-- doc_key_groups: kind, and prefix: the key without its last 16
-- characters (so it ends with the ULID's 10 time characters; a key that
-- is a bare ULID has those alone). min_suffix and max_suffix are the
-- group's least and greatest suffix: the key's last 16 characters as the
-- 80 bits they encode, 10 bytes big-endian (text order is numeric order).
-- first_ts is the timestamp of the group's first entry, which makes the
-- primary key unique (a doc is in one group; a key's later docs may start
-- groups with the same min_suffix). entries holds, in (suffix, timestamp)
-- order, 26 bytes per doc:
--
--     10 bytes  suffix
--      8 bytes  timestamp               big-endian
--      8 bytes  chunk_ts                big-endian: the doc_chunks row's
--                                       first_ts that holds the doc
--
-- A row holds at most 24 entries (624 bytes), so with the longest kind (32)
-- and prefix (112) it stays on its B-tree page. A lookup reads the rows of
-- its kind and prefix whose [min_suffix, max_suffix] covers its suffix and
-- binary-searches their entries.
--
-- Only keys whose last 26 characters are a ULID's text (upper-case
-- Crockford base32, the first character at most 7) are grouped; other keys
-- keep a doc_keys row each. doc_keys rows written before this version stay
-- where they are: readers look a key up in both tables.
CREATE TABLE doc_key_groups (
    kind       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    min_suffix BLOB    NOT NULL,
    max_suffix BLOB    NOT NULL,
    shard      INTEGER NOT NULL,
    first_ts   INTEGER NOT NULL,
    entries    BLOB    NOT NULL,
    PRIMARY KEY (kind, prefix, min_suffix, shard, first_ts)
) WITHOUT ROWID;
