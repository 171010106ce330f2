package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/agentpay/agentpay/ledger"
)

// docChunkBytesMax bounds the records of one doc_chunks row: a batch's
// docs are cut into rows of at most this many bytes (a doc larger than
// that alone is a row of its own), so a point read decodes at most ~64 KiB.
// Changing it needs no migration: readers take rows as they find them.
const docChunkBytesMax = 64 << 10

// A doc_chunks row's records are stored as they are or compressed (see
// migrations/0010_doc_chunks_s2.sql): records begin with the first doc's
// timestamp delta, 0, so a first byte of docChunkS2 marks an S2 block of
// them instead. Payment docs are JSON with much in common, and a chunk of
// them compresses about five to one at about a microsecond per doc, which
// takes most of their bytes out of the WAL, the database file and the
// system calls that write both.
const (
	docChunkS2 = 0x01
	// docCompressMin is the least records worth compressing.
	docCompressMin = 256
	// docChunkDecodedMax bounds the records a compressed row may claim
	// (a chunk holds at most docChunkBytesMax bytes of records, or a single
	// larger doc, whose body is at most ledger.DocBodyMax).
	docChunkDecodedMax = 1 << 20
)

// packDocChunk returns the stored form of a chunk's records: an S2 block
// after docChunkS2 when that is smaller, else the records; dst is reused.
func packDocChunk(dst, recs []byte) []byte {
	if len(recs) < docCompressMin {
		return recs
	}
	packed := encodeS2(dst, recs, 1, 0)
	if len(packed) >= len(recs) {
		return recs
	}
	packed[0] = docChunkS2
	return packed
}

// unpackDocChunk returns the records of a stored doc_chunks row, decoded
// into buf when compressed (buf grows as needed, and the records share it).
func unpackDocChunk(buf *[]byte, stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != docChunkS2 {
		return stored, nil
	}
	recs, err := decodeS2(buf, stored[1:], docChunkDecodedMax)
	if err != nil {
		return nil, fmt.Errorf("compressed doc chunk: %w", err)
	}
	return recs, nil
}

// docRecordSize returns the size of a doc's record in a chunk whose first
// timestamp is ts - delta (see migrations/0008_doc_chunks.sql).
func docRecordSize(delta uint64, kind, key string, body []byte) int {
	return uvarintLen(delta) + uvarintLen(uint64(len(kind))) + len(kind) +
		uvarintLen(uint64(len(key))) + len(key) + uvarintLen(uint64(len(body))) + len(body)
}

// appendDocRecord appends a doc's record, its timestamp being delta after
// its chunk's first_ts.
func appendDocRecord(buf []byte, delta uint64, kind, key string, body []byte) []byte {
	buf = binary.AppendUvarint(buf, delta)
	buf = binary.AppendUvarint(buf, uint64(len(kind)))
	buf = append(buf, kind...)
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	return append(buf, body...)
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// docRecord is one doc of a chunk as it lies in the chunk's bytes.
type docRecord struct {
	ts              uint64
	kind, key, body []byte
}

// doc returns r as a ledger.Doc that shares no memory with the chunk. An
// empty body is nil.
func (r *docRecord) doc() ledger.Doc {
	d := ledger.Doc{Kind: string(r.kind), Key: string(r.key), Timestamp: r.ts}
	if len(r.body) > 0 {
		d.Body = append([]byte(nil), r.body...)
	}
	return d
}

// docCursor reads the records of one chunk in order.
type docCursor struct {
	first uint64 // the chunk's first_ts
	recs  []byte // the records not read yet
	n     int    // records read
	prev  uint64 // the timestamp of the last record read
}

var errDocChunkEnd = errors.New("end of doc chunk")

// next decodes the next record. It returns errDocChunkEnd after the last
// one, and an error for bytes that are not a chunk's records: a record cut
// short, a first record not at first_ts, timestamps not increasing or
// above 2^63-1.
func (c *docCursor) next() (docRecord, error) {
	if len(c.recs) == 0 {
		if c.n == 0 {
			return docRecord{}, errors.New("doc chunk is empty")
		}
		return docRecord{}, errDocChunkEnd
	}
	var r docRecord
	delta, n := binary.Uvarint(c.recs)
	if n <= 0 {
		return r, fmt.Errorf("doc %d of chunk %d: bad timestamp delta", c.n, c.first)
	}
	c.recs = c.recs[n:]
	if c.first > math.MaxInt64 || delta > math.MaxInt64-c.first {
		return r, fmt.Errorf("doc %d of chunk %d: timestamp above 2^63-1", c.n, c.first)
	}
	r.ts = c.first + delta
	if c.n == 0 && delta != 0 {
		return r, fmt.Errorf("doc 0 of chunk %d: timestamp %d, want the chunk's first", c.first, r.ts)
	}
	if c.n > 0 && r.ts <= c.prev {
		return r, fmt.Errorf("doc %d of chunk %d: timestamp %d not after %d", c.n, c.first, r.ts, c.prev)
	}
	for _, f := range []*[]byte{&r.kind, &r.key, &r.body} {
		l, n := binary.Uvarint(c.recs)
		if n <= 0 || l > uint64(len(c.recs)-n) {
			return r, fmt.Errorf("doc %d of chunk %d: field cut short", c.n, c.first)
		}
		*f = c.recs[n : n+int(l) : n+int(l)]
		c.recs = c.recs[n+int(l):]
	}
	c.prev = r.ts
	c.n++
	return r, nil
}

// find reads on to the record at ts.
func (c *docCursor) find(ts uint64) (docRecord, error) {
	for {
		r, err := c.next()
		if err == errDocChunkEnd || err == nil && r.ts > ts {
			return r, fmt.Errorf("not in chunk %d, which its key names", c.first)
		}
		if err != nil {
			return r, err
		}
		if r.ts == ts {
			return r, nil
		}
	}
}

// decodeDocChunk calls fn with the docs of a stored chunk (compressed or
// not) whose first_ts is first and stops at fn's first error, which it
// returns.
func decodeDocChunk(first uint64, stored []byte, fn func(ledger.Doc) error) error {
	var buf []byte
	recs, err := unpackDocChunk(&buf, stored)
	if err != nil {
		return err
	}
	c := docCursor{first: first, recs: recs}
	for {
		r, err := c.next()
		if err == errDocChunkEnd {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(r.doc()); err != nil {
			return err
		}
	}
}

// docChunker cuts docs of one shard, in timestamp order, into chunks of at
// most docChunkBytesMax bytes of records.
type docChunker struct {
	buf    []byte
	chunks []docChunk
}

// docChunk is one chunk: its records are buf[start:end], and docs its
// docs' indexes in the order added (from, to).
type docChunk struct {
	first, last uint64
	start, end  int
	from, to    int
}

func (c *docChunker) reset() {
	c.buf, c.chunks = c.buf[:0], c.chunks[:0]
}

// add appends the i-th doc to the last chunk, or to a new one if it would
// make the last one exceed docChunkBytesMax.
func (c *docChunker) add(i int, ts uint64, kind, key string, body []byte) {
	if k := len(c.chunks); k > 0 {
		ch := &c.chunks[k-1]
		if len(c.buf)-ch.start+docRecordSize(ts-ch.first, kind, key, body) <= docChunkBytesMax {
			c.buf = appendDocRecord(c.buf, ts-ch.first, kind, key, body)
			ch.last, ch.end, ch.to = ts, len(c.buf), i+1
			return
		}
	}
	start := len(c.buf)
	c.buf = appendDocRecord(c.buf, 0, kind, key, body)
	c.chunks = append(c.chunks, docChunk{first: ts, last: ts, start: start, end: len(c.buf), from: i, to: i + 1})
}

// records returns the bytes of ch.
func (c *docChunker) records(ch *docChunk) []byte { return c.buf[ch.start:ch.end:ch.end] }

// ListDocs calls fn with every doc of shard with a timestamp in [from, to],
// in timestamp order, and stops at fn's first error, which it returns.
func (s *Store) ListDocs(ctx context.Context, shard uint32, from, to uint64, fn func(ledger.Doc) error) error {
	if from > to || to > math.MaxInt64 {
		return fmt.Errorf("sqlite: list docs: timestamp range [%d, %d] is empty or above 2^63-1", from, to)
	}
	// The chunks that can hold the range: from the last one starting at or
	// before from, up to the last one starting at or before to.
	rows, err := s.rdb.QueryContext(ctx, `SELECT first_ts, records FROM doc_chunks
		WHERE shard = ?1 AND first_ts <= ?3 AND first_ts >= coalesce(
			(SELECT max(first_ts) FROM doc_chunks WHERE shard = ?1 AND first_ts <= ?2), ?2)
		ORDER BY first_ts`, shard, int64(from), int64(to))
	if err != nil {
		return fmt.Errorf("sqlite: docs: %w", err)
	}
	defer rows.Close()
	var buf []byte
	for rows.Next() {
		var first int64
		var stored sql.RawBytes
		if err := rows.Scan(&first, &stored); err != nil {
			return fmt.Errorf("sqlite: docs: %w", err)
		}
		recs, err := unpackDocChunk(&buf, stored)
		if err != nil {
			return fmt.Errorf("sqlite: docs of shard %d: chunk %d: %w", shard, first, err)
		}
		c := docCursor{first: uint64(first), recs: recs}
		for {
			r, err := c.next()
			if err == errDocChunkEnd {
				break
			}
			if err != nil {
				return fmt.Errorf("sqlite: docs of shard %d: %w", shard, err)
			}
			if r.ts < from {
				continue
			}
			if r.ts > to {
				break
			}
			if err := fn(r.doc()); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: docs: %w", err)
	}
	return nil
}

// DocHistory returns every doc with kind and key, oldest first (none: a
// nil slice). It reads only the chunks its keys name: from doc_keys, and,
// when the key ends in a ULID, from the doc_key_groups rows whose suffix
// range covers it (docs committed before schema version 13 have doc_keys
// rows whatever their key). One statement reads both tables, and the
// chunks of doc_keys rows with them; grouped docs' chunks are read after
// it, which sees what it named: chunks are never changed once written.
func (s *Store) DocHistory(ctx context.Context, kind, key string) ([]ledger.Doc, error) {
	st, err := s.rstmt(ctx, docHistoryQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: docs: %w", err)
	}
	var prefixArg, suffixArg any // NULL: no group holds the key
	prefix, suffix, grouped := splitDocKey(key)
	if grouped {
		prefixArg, suffixArg = prefix, suffix[:]
	}
	rows, err := st.QueryContext(ctx, kind, key, prefixArg, suffixArg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: docs: %w", err)
	}
	defer rows.Close()
	var (
		found []shardDoc
		keys  []docKey // grouped docs, to read after the statement
		buf   []byte
	)
	for rows.Next() {
		var ts, chunk sql.NullInt64
		var shard int64
		var stored, minSuffix, maxSuffix sql.RawBytes
		if err := rows.Scan(&ts, &shard, &chunk, &stored, &minSuffix, &maxSuffix); err != nil {
			return nil, fmt.Errorf("sqlite: docs: %w", err)
		}
		if shard < 0 || shard > math.MaxUint32 {
			return nil, fmt.Errorf("sqlite: docs of %s/%s: shard %d out of range", kind, key, shard)
		}
		if !ts.Valid { // a doc_key_groups row
			err := findDocGroup(minSuffix, maxSuffix, stored, suffix[:], func(e docGroupEntry) {
				keys = append(keys, docKey{ts: e.ts, chunk: e.chunk, shard: uint32(shard)})
			})
			if err != nil {
				return nil, fmt.Errorf("sqlite: docs of %s/%s: shard %d, suffixes %x to %x: %w",
					kind, key, shard, []byte(minSuffix), []byte(maxSuffix), err)
			}
			continue
		}
		if stored == nil {
			return nil, fmt.Errorf("sqlite: doc at %d of shard %d: its chunk %d is missing", ts.Int64, shard, chunk.Int64)
		}
		if ts.Int64 < 0 || chunk.Int64 < 0 {
			return nil, fmt.Errorf("sqlite: doc of %s/%s: timestamp %d, chunk %d out of range", kind, key, ts.Int64, chunk.Int64)
		}
		recs, err := unpackDocChunk(&buf, stored)
		if err != nil {
			return nil, fmt.Errorf("sqlite: doc at %d of shard %d: chunk %d: %w", ts.Int64, shard, chunk.Int64, err)
		}
		c := docCursor{first: uint64(chunk.Int64), recs: recs}
		r, err := c.find(uint64(ts.Int64))
		if err != nil {
			return nil, fmt.Errorf("sqlite: doc at %d of shard %d: %w", ts.Int64, shard, err)
		}
		if err := checkDocFound(&r, shard, kind, key, false); err != nil {
			return nil, err
		}
		found = append(found, shardDoc{uint32(shard), r.doc()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: docs: %w", err)
	}
	rows.Close()
	if len(keys) > 0 {
		chunkSt, err := s.rstmt(ctx, docChunkQuery)
		if err != nil {
			return nil, fmt.Errorf("sqlite: docs: %w", err)
		}
		sortDocKeys(keys)
		kr := keyedReader{st: chunkSt}
		for _, k := range keys {
			r, err := kr.find(ctx, k)
			if err != nil {
				return nil, err
			}
			if err := checkDocFound(&r, int64(k.shard), kind, key, false); err != nil {
				return nil, err
			}
			found = append(found, shardDoc{k.shard, r.doc()})
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	// Docs of both tables, or doc_keys rows in whatever order the
	// statement gave them: oldest first.
	byAge := func(x, y shardDoc) int {
		return cmp.Or(cmp.Compare(x.d.Timestamp, y.d.Timestamp), cmp.Compare(x.shard, y.shard))
	}
	if !slices.IsSortedFunc(found, byAge) {
		slices.SortFunc(found, byAge)
	}
	out := make([]ledger.Doc, len(found))
	for i := range found {
		out[i] = found[i].d
	}
	return out, nil
}

// shardDoc is a doc and its shard.
type shardDoc struct {
	shard uint32
	d     ledger.Doc
}

// docHistoryQuery reads a key's doc_keys rows, each with its chunk
// (timestamp, shard, chunk_ts, records, NULL, NULL), and the
// doc_key_groups rows whose suffix range covers it (docGroupsOfKey):
// ?1 is the kind, ?2 the key, ?3 and ?4 its prefix and suffix (NULL for a
// key that is not grouped).
const docHistoryQuery = `SELECT k.timestamp, k.shard, k.chunk_ts, c.records, NULL, NULL FROM doc_keys k
		LEFT JOIN doc_chunks c ON c.shard = k.shard AND c.first_ts = k.chunk_ts
		WHERE k.kind = ?1 AND k.key = ?2
	UNION ALL ` + docGroupsOfKey

// docGroupsOfKey selects the doc_key_groups rows of kind ?1 and prefix ?3
// whose suffix range covers suffix ?4 (NULL, shard, NULL, entries,
// min_suffix, max_suffix), by the primary key: the rows of the prefix up
// to the suffix, of which only those reaching it are returned.
const docGroupsOfKey = `SELECT NULL, shard, NULL, entries, min_suffix, max_suffix FROM doc_key_groups
		WHERE kind = ?1 AND prefix = ?3 AND min_suffix <= ?4 AND max_suffix >= ?4`

// docChunkQuery reads one doc chunk.
const docChunkQuery = "SELECT records FROM doc_chunks WHERE shard = ? AND first_ts = ?"

// checkDocFound fails unless r, found where a key of shard points, is of
// kind (and, unless ofKind, of key): anything else is a corrupt index.
func checkDocFound(r *docRecord, shard int64, kind, key string, ofKind bool) error {
	if string(r.kind) != kind || !ofKind && string(r.key) != key {
		return fmt.Errorf("sqlite: doc at %d of shard %d is %s/%s, not of the %s/%s its key names",
			r.ts, shard, r.kind, r.key, kind, key)
	}
	return nil
}

// DocsOfKind calls fn with every doc of kind with a timestamp above after,
// in timestamp order (services rebuild their state from it on start).
// The keys come from doc_keys by its primary key (kind, key, ...) and from
// every doc_key_groups row of the kind, and are put in timestamp order in
// memory: no index orders them by time (version 12).
func (s *Store) DocsOfKind(ctx context.Context, kind string, after uint64, fn func(ledger.Doc) error) error {
	if after > math.MaxInt64 {
		return nil
	}
	chunkSt, err := s.rstmt(ctx, docChunkQuery)
	if err != nil {
		return fmt.Errorf("sqlite: docs: %w", err)
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: docs: %w", err)
	}
	defer tx.Rollback()
	keys, err := s.docKeysOfKind(ctx, tx, kind, after)
	if err != nil {
		return fmt.Errorf("sqlite: docs: %w", err)
	}
	sortDocKeys(keys)
	kr := keyedReader{st: tx.StmtContext(ctx, chunkSt)}
	for _, k := range keys {
		r, err := kr.find(ctx, k)
		if err != nil {
			return err
		}
		if err := checkDocFound(&r, int64(k.shard), kind, "", true); err != nil {
			return err
		}
		if err := fn(r.doc()); err != nil {
			return err
		}
	}
	return nil
}

// docKey is a doc's place: its timestamp, shard and chunk.
type docKey struct {
	ts, chunk uint64
	shard     uint32
}

// sortDocKeys puts keys in timestamp, then shard order.
func sortDocKeys(keys []docKey) {
	slices.SortFunc(keys, func(a, b docKey) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.shard, b.shard))
	})
}

// The queries of a kind's doc places: doc_keys rows (timestamp, shard,
// chunk_ts) after a timestamp, and doc_key_groups rows (shard,
// min_suffix, max_suffix, entries).
const (
	docKeysOfKind   = "SELECT timestamp, shard, chunk_ts FROM doc_keys WHERE kind = ? AND timestamp > ?"
	docGroupsOfKind = "SELECT shard, min_suffix, max_suffix, entries FROM doc_key_groups WHERE kind = ?"
)

// docKeysOfKind returns the places of the docs of kind with a timestamp
// above after, from doc_keys and doc_key_groups, in no order.
func (s *Store) docKeysOfKind(ctx context.Context, tx *sql.Tx, kind string, after uint64) ([]docKey, error) {
	var keys []docKey
	err := s.eachDocRow(ctx, tx, docKeysOfKind, []any{kind, int64(after)}, func(rows *sql.Rows) error {
		var ts, shard, chunk int64
		if err := rows.Scan(&ts, &shard, &chunk); err != nil {
			return err
		}
		if ts < 0 || chunk < 0 || shard < 0 || shard > math.MaxUint32 {
			return fmt.Errorf("doc key of kind %s: timestamp %d, shard %d, chunk %d out of range", kind, ts, shard, chunk)
		}
		keys = append(keys, docKey{ts: uint64(ts), chunk: uint64(chunk), shard: uint32(shard)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("doc keys: %w", err)
	}
	err = s.eachDocRow(ctx, tx, docGroupsOfKind, []any{kind}, func(rows *sql.Rows) error {
		var shard int64
		var minSuffix, maxSuffix, entries sql.RawBytes
		if err := rows.Scan(&shard, &minSuffix, &maxSuffix, &entries); err != nil {
			return err
		}
		if shard < 0 || shard > math.MaxUint32 {
			return fmt.Errorf("doc key group of kind %s: shard %d out of range", kind, shard)
		}
		err := eachDocGroup(minSuffix, maxSuffix, entries, func(e docGroupEntry) {
			if e.ts > after {
				keys = append(keys, docKey{ts: e.ts, chunk: e.chunk, shard: uint32(shard)})
			}
		})
		if err != nil {
			return fmt.Errorf("kind %s, shard %d, suffixes %x to %x: %w", kind, shard, []byte(minSuffix), []byte(maxSuffix), err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("doc key groups: %w", err)
	}
	return keys, nil
}

// eachDocRow runs the reader statement of query in tx with args and calls
// fn for every row.
func (s *Store) eachDocRow(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(*sql.Rows) error) error {
	st, err := s.rstmt(ctx, query)
	if err != nil {
		return err
	}
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// keyedReader reads docs by their places (docChunkQuery in st), in
// timestamp (then shard) order. Each chunk is read once per run of its
// docs: a shard's docs come in timestamp order, so each shard's current
// chunk is kept and read on from where its last doc was found.
type keyedReader struct {
	st      *sql.Stmt
	cursors map[uint32]*docCursor // by shard: its current chunk
}

// find returns the doc at k.
func (kr *keyedReader) find(ctx context.Context, k docKey) (docRecord, error) {
	if kr.cursors == nil {
		kr.cursors = map[uint32]*docCursor{}
	}
	c := kr.cursors[k.shard]
	if c == nil || c.first != k.chunk {
		var stored []byte
		err := kr.st.QueryRowContext(ctx, int64(k.shard), int64(k.chunk)).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return docRecord{}, fmt.Errorf("sqlite: doc at %d of shard %d: its chunk %d is missing", k.ts, k.shard, k.chunk)
		}
		if err != nil {
			return docRecord{}, fmt.Errorf("sqlite: docs: chunk %d of shard %d: %w", k.chunk, k.shard, err)
		}
		var buf []byte // each shard's cursor keeps its own records
		recs, err := unpackDocChunk(&buf, stored)
		if err != nil {
			return docRecord{}, fmt.Errorf("sqlite: docs: chunk %d of shard %d: %w", k.chunk, k.shard, err)
		}
		c = &docCursor{first: k.chunk, recs: recs}
		kr.cursors[k.shard] = c
	}
	r, err := c.find(k.ts)
	if err != nil {
		return docRecord{}, fmt.Errorf("sqlite: doc at %d of shard %d: %w", k.ts, k.shard, err)
	}
	return r, nil
}

// fillDocChunks moves the docs of version 7's docs table into doc_chunks
// and doc_keys, each shard's docs in timestamp order cut into chunks of at
// most docChunkBytesMax bytes, then drops the table. It reads the table a
// page of rows at a time, so memory stays bounded by a page and a chunk.
func fillDocChunks(ctx context.Context, tx *sql.Tx) error {
	const page = 1024
	type row struct {
		shard     int64
		ts        uint64
		kind, key string
		body      []byte
	}
	var (
		pending []row // the docs of the chunks being built
		ch      docChunker
		shard   int64 = -1
	)
	// flush writes the chunks of pending but the last (still filling),
	// or all of them with all set.
	flush := func(all bool) error {
		n := len(ch.chunks)
		if !all {
			n--
		}
		for i := range n {
			c := &ch.chunks[i]
			if _, err := tx.ExecContext(ctx, "INSERT INTO doc_chunks (shard, first_ts, last_ts, records) VALUES (?, ?, ?, ?)",
				shard, int64(c.first), int64(c.last), ch.records(c)); err != nil {
				return err
			}
			for _, d := range pending[c.from:c.to] {
				if _, err := tx.ExecContext(ctx, "INSERT INTO doc_keys (kind, key, timestamp, shard, chunk_ts) VALUES (?, ?, ?, ?, ?)",
					d.kind, d.key, int64(d.ts), shard, int64(c.first)); err != nil {
					return err
				}
			}
		}
		if n <= 0 {
			return nil
		}
		// Keep the last chunk's docs and bytes, renumbered from 0.
		if all {
			pending = pending[:0]
			ch.reset()
			return nil
		}
		last := ch.chunks[len(ch.chunks)-1]
		pending = append(pending[:0], pending[last.from:last.to]...)
		ch.buf = append(ch.buf[:0], ch.buf[last.start:last.end]...)
		ch.chunks = append(ch.chunks[:0], docChunk{first: last.first, last: last.last,
			start: 0, end: last.end - last.start, from: 0, to: last.to - last.from})
		return nil
	}
	afterShard, afterTS := int64(-1), int64(-1)
	var rows []row
	for {
		rows = rows[:0]
		err := eachRow(ctx, tx, "docs", func(r *sql.Rows) error {
			var d row
			var ts int64
			if err := r.Scan(&d.shard, &ts, &d.kind, &d.key, &d.body); err != nil {
				return err
			}
			if ts < 0 {
				return fmt.Errorf("doc of shard %d at negative timestamp %d", d.shard, ts)
			}
			d.ts = uint64(ts)
			rows = append(rows, d)
			return nil
		}, `SELECT shard, timestamp, kind, key, body FROM docs
			WHERE (shard, timestamp) > (?, ?) ORDER BY shard, timestamp LIMIT ?`, afterShard, afterTS, page)
		if err != nil {
			return err
		}
		for _, d := range rows {
			if d.shard != shard {
				if err := flush(true); err != nil {
					return err
				}
				shard = d.shard
			}
			pending = append(pending, d)
			ch.add(len(pending)-1, d.ts, d.kind, d.key, d.body)
			if len(ch.chunks) > 1 {
				if err := flush(false); err != nil {
					return err
				}
			}
		}
		if len(rows) < page {
			break
		}
		afterShard, afterTS = rows[len(rows)-1].shard, int64(rows[len(rows)-1].ts)
	}
	if err := flush(true); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "DROP TABLE docs")
	return err
}
