package sqlite

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// Doc keys that end in a ULID are stored grouped in doc_key_groups (see
// migrations/0013_doc_key_groups.sql), other keys one doc_keys row each.
const (
	// docULIDLen is the length of a ULID's text, which a grouped key ends
	// with; docSuffixLen of its last part, after the 10 time characters.
	docULIDLen   = 26
	docSuffixLen = 16
	// docSuffixSize is a suffix's stored size: 16 characters of 5 bits.
	docSuffixSize = 10
	// docEntrySize is one entry: the suffix, the timestamp (8) and the
	// chunk's first_ts (8).
	docEntrySize = docSuffixSize + 16
	// docGroupEntriesMax is the most entries in one doc_key_groups row:
	// 24 entries (624 bytes) with the longest kind (32 bytes) and prefix
	// (112) keep the row under l0RowBytesMax, on its B-tree page.
	docGroupEntriesMax = 24
)

// ulidDigit maps the upper-case Crockford base32 alphabet to its values,
// every other byte to 0xff. Only upper-case ULIDs are grouped: a suffix
// must name one key, and with lower case accepted, keys that differ only
// in the case of their last 16 characters would share it.
var ulidDigit = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("0123456789ABCDEFGHJKMNPQRSTVWXYZ") {
		t[c] = byte(i)
	}
	return t
}()

// splitDocKey returns the doc_key_groups prefix and suffix of key, and
// false if key is not grouped: it does not end in a ULID's text (26
// characters of upper-case Crockford base32, the first at most 7, which
// holds 3 bits). A key that is a bare ULID is grouped with its 10 time
// characters as its prefix.
func splitDocKey(key string) (prefix string, suffix [docSuffixSize]byte, ok bool) {
	if len(key) < docULIDLen {
		return "", suffix, false
	}
	ulid := key[len(key)-docULIDLen:]
	if ulidDigit[ulid[0]] > 7 {
		return "", suffix, false
	}
	for i := 1; i < docULIDLen-docSuffixLen; i++ {
		if ulidDigit[ulid[i]] == 0xff {
			return "", suffix, false
		}
	}
	// 16 characters are 80 bits: hi takes the upper 16, lo the lower 64.
	var hi, lo uint64
	for i := docULIDLen - docSuffixLen; i < docULIDLen; i++ {
		v := ulidDigit[ulid[i]]
		if v == 0xff {
			return "", suffix, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint16(suffix[:2], uint16(hi))
	binary.BigEndian.PutUint64(suffix[2:], lo)
	return key[:len(key)-docSuffixLen], suffix, true
}

// docGroupEntry is one entry of a doc_key_groups row.
type docGroupEntry struct {
	suffix []byte // docSuffixSize bytes, shared with the row
	ts     uint64 // the doc's timestamp
	chunk  uint64 // the first_ts of the doc_chunks row holding it
}

// putDocGroupEntry writes an entry into e (docEntrySize bytes).
func putDocGroupEntry(e []byte, suffix *[docSuffixSize]byte, ts, chunk uint64) {
	copy(e, suffix[:])
	binary.BigEndian.PutUint64(e[docSuffixSize:], ts)
	binary.BigEndian.PutUint64(e[docSuffixSize+8:], chunk)
}

// docGroupAt returns entry i of entries, which checkDocGroup has checked.
func docGroupAt(entries []byte, i int) docGroupEntry {
	e := entries[i*docEntrySize : (i+1)*docEntrySize]
	return docGroupEntry{
		suffix: e[:docSuffixSize:docSuffixSize],
		ts:     binary.BigEndian.Uint64(e[docSuffixSize:]),
		chunk:  binary.BigEndian.Uint64(e[docSuffixSize+8:]),
	}
}

// checkDocGroup checks a doc_key_groups row and returns its number of
// entries. It fails unless entries is a positive number of whole entries
// in strictly increasing (suffix, timestamp) order, every timestamp at
// most 2^63-1 and every chunk at or before its doc, and the first and last
// suffixes are minSuffix and maxSuffix.
func checkDocGroup(minSuffix, maxSuffix, entries []byte) (int, error) {
	if len(entries) == 0 || len(entries)%docEntrySize != 0 {
		return 0, fmt.Errorf("doc key group of %d bytes, not a positive multiple of %d", len(entries), docEntrySize)
	}
	n := len(entries) / docEntrySize
	var prev docGroupEntry
	for i := range n {
		e := docGroupAt(entries, i)
		if e.ts > math.MaxInt64 {
			return 0, fmt.Errorf("doc key group entry %d: timestamp %d above 2^63-1", i, e.ts)
		}
		if e.chunk > e.ts {
			return 0, fmt.Errorf("doc key group entry %d: chunk %d after its doc at %d", i, e.chunk, e.ts)
		}
		if i > 0 {
			c := cmp.Or(bytes.Compare(prev.suffix, e.suffix), cmp.Compare(prev.ts, e.ts))
			if c >= 0 {
				return 0, fmt.Errorf("doc key group entry %d (%x at %d) not after entry %d (%x at %d)",
					i, e.suffix, e.ts, i-1, prev.suffix, prev.ts)
			}
		}
		prev = e
	}
	if first := docGroupAt(entries, 0).suffix; !bytes.Equal(first, minSuffix) {
		return 0, fmt.Errorf("doc key group: min_suffix %x, first entry %x", minSuffix, first)
	}
	if last := prev.suffix; !bytes.Equal(last, maxSuffix) {
		return 0, fmt.Errorf("doc key group: max_suffix %x, last entry %x", maxSuffix, last)
	}
	return n, nil
}

// eachDocGroup checks a doc_key_groups row (checkDocGroup) and calls fn
// with each of its entries in order.
func eachDocGroup(minSuffix, maxSuffix, entries []byte, fn func(docGroupEntry)) error {
	n, err := checkDocGroup(minSuffix, maxSuffix, entries)
	if err != nil {
		return err
	}
	for i := range n {
		fn(docGroupAt(entries, i))
	}
	return nil
}

// findDocGroup checks a doc_key_groups row (checkDocGroup) and calls fn
// with the entries of suffix, in timestamp order, found by binary search.
func findDocGroup(minSuffix, maxSuffix, entries, suffix []byte, fn func(docGroupEntry)) error {
	n, err := checkDocGroup(minSuffix, maxSuffix, entries)
	if err != nil {
		return err
	}
	i := sort.Search(n, func(i int) bool {
		return bytes.Compare(entries[i*docEntrySize:i*docEntrySize+docSuffixSize], suffix) >= 0
	})
	for ; i < n; i++ {
		e := docGroupAt(entries, i)
		if !bytes.Equal(e.suffix, suffix) {
			break
		}
		fn(e)
	}
	return nil
}
