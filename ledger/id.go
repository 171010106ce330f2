package ledger

import (
	"encoding/binary"
	"errors"
	"io"
	"time"
)

// ID is a 128-bit identifier, stored big-endian so that byte order equals
// numeric order. IDs made by NewID are time-ordered (a 48-bit millisecond
// timestamp followed by 80 random bits, the ULID layout); callers may choose
// any ID except zero and the maximum value.
type ID [16]byte

// IDMax is the largest ID; it is reserved and never valid for an object.
var IDMax = ID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Hi returns the upper 64 bits of id.
func (id ID) Hi() uint64 { return binary.BigEndian.Uint64(id[:8]) }

// Lo returns the lower 64 bits of id.
func (id ID) Lo() uint64 { return binary.BigEndian.Uint64(id[8:]) }

// IDFromUint64 returns the ID whose numeric value is n (used in tests and
// for small operator-chosen ids).
func IDFromUint64(n uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

// NewID returns a time-ordered ID: the millisecond timestamp of now in the
// upper 48 bits and 80 bits read from random. It panics if random fails,
// which for crypto/rand means the system is unusable.
func NewID(now time.Time, random io.Reader) ID {
	var id ID
	ms := uint64(now.UnixMilli())
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	if _, err := io.ReadFull(random, id[6:]); err != nil {
		panic("ledger: reading randomness for an id: " + err.Error())
	}
	return id
}

// crockford is the ULID alphabet (Crockford's base32, no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IDTextLength is the length of an ID's text form.
const IDTextLength = 26

// ErrIDSyntax is returned by ParseID for text that is not a 26-character
// Crockford base32 ID.
var ErrIDSyntax = errors.New("ledger: id must be 26 characters of Crockford base32")

var crockfordDecode = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(crockford); i++ {
		t[crockford[i]] = byte(i)
		if c := crockford[i]; c >= 'A' && c <= 'Z' {
			t[c+'a'-'A'] = byte(i)
		}
	}
	return t
}()

// String returns the 26-character Crockford base32 form of id (the ULID
// text encoding). Text order equals numeric order.
func (id ID) String() string {
	var out [IDTextLength]byte
	hi, lo := id.Hi(), id.Lo()
	// 128 bits = 2 bits + 25 groups of 5 bits.
	for i := IDTextLength - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ParseID parses the text form produced by ID.String. Lower-case letters
// are accepted.
func ParseID(s string) (ID, error) {
	if len(s) != IDTextLength {
		return ID{}, ErrIDSyntax
	}
	if crockfordDecode[s[0]] > 7 {
		return ID{}, ErrIDSyntax // the first character holds only 3 bits
	}
	var hi, lo uint64
	for i := 0; i < IDTextLength; i++ {
		v := crockfordDecode[s[i]]
		if v == 0xff {
			return ID{}, ErrIDSyntax
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	var id ID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
