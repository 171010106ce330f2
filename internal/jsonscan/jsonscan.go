// Package jsonscan reads JSON of an expected shape without reflection, for
// the few hot decoders that encoding/json's reflection makes costly: the
// closed payment mandate every payment verifies, and the payment docs a
// wallet reads on start. A reader built on it takes only the usual shape
// and gives up (returns false) on anything else, so that its caller can
// decode with encoding/json as always: every error, and every unusual
// input that is accepted, stays encoding/json's. Each reader has a fuzz
// target checking that what it accepts, encoding/json accepts with the
// same result.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"
)

// MaxMembers is the most members an object read by Object may have; one
// with more makes Object give up.
const MaxMembers = 32

// maxDepth is how deep Skip follows nested values before it gives up.
const maxDepth = 64

// Scanner reads JSON tokens from a byte slice.
type Scanner struct {
	b     []byte
	i     int
	share bool // Str's strings share b's bytes
}

// New returns a Scanner reading b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// NewShared returns a Scanner reading b whose strings (Str) share b's
// bytes instead of copying them: for a b that nothing modifies while
// anything read from it is in use, such as a decoder's own copy of its
// input. The strings keep all of b alive.
func NewShared(b []byte) *Scanner { return &Scanner{b: b, share: true} }

// space skips white space.
func (s *Scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.space()
	return s.i == len(s.b)
}

// Next consumes c (after white space) if it comes next.
func (s *Scanner) Next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek returns the next byte after white space, or 0 at the end.
func (s *Scanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Raw reads a string without escapes or control characters and returns
// its bytes (a slice of the input) as they are: a reader that decodes
// strings checks its input is valid UTF-8 first, since encoding/json
// replaces invalid bytes with U+FFFD.
func (s *Scanner) Raw() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	n, ok := plainString(s.b[start:])
	if !ok {
		return nil, false
	}
	s.i = start + n + 1
	return s.b[start : start+n], true
}

// plainString returns the length of b's leading bytes before a quote,
// and whether there is a quote with no backslash and no control
// character before it. It looks at eight bytes at a time: in a word,
// (w - ones) &^ w has the high bit set of w's lowest zero byte (exactly;
// bytes after it may be flagged too), so the lowest byte flagged as a
// quote, a backslash or below 0x20 is the first such byte.
func plainString(b []byte) (int, bool) {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, e := x^(ones*'"'), x^(ones*'\\')
		if m := ((x-ones*0x20)&^x | (q-ones)&^q | (e-ones)&^e) & high; m != 0 {
			i += bits.TrailingZeros64(m) / 8
			return i, b[i] == '"'
		}
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i, true
		case c < 0x20 || c == '\\':
			return 0, false
		}
	}
	return 0, false
}

// Str reads a string without escapes or control characters into dst.
func (s *Scanner) Str(dst *string) bool {
	v, ok := s.Raw()
	switch {
	case !ok:
	case s.share && len(v) > 0:
		*dst = unsafe.String(&v[0], len(v))
	default:
		*dst = string(v)
	}
	return ok
}

// Null consumes null if it comes next.
func (s *Scanner) Null() bool {
	if s.peek() == 'n' && bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// Bool reads true or false into dst.
func (s *Scanner) Bool(dst *bool) bool {
	switch s.peek() {
	case 't':
		if bytes.HasPrefix(s.b[s.i:], []byte("true")) {
			s.i += 4
			*dst = true
			return true
		}
	case 'f':
		if bytes.HasPrefix(s.b[s.i:], []byte("false")) {
			s.i += 5
			*dst = false
			return true
		}
	}
	return false
}

// digits reads an unsigned integer's digits without leading zeros, not
// followed by a fraction or exponent; it returns its value and whether
// it is at most limit.
func (s *Scanner) digits(limit uint64) (uint64, bool) {
	start := s.i
	var n uint64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
		s.i++
	}
	switch {
	case s.i == start, s.b[start] == '0' && s.i-start > 1:
		return 0, false
	case s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return 0, false
	}
	return n, true
}

// Int64 reads an integer in int64's range into dst.
func (s *Scanner) Int64(dst *int64) bool {
	s.space()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	n, ok := s.digits(limit)
	if !ok {
		return false
	}
	switch {
	case !neg:
		*dst = int64(n)
	case n == 1<<63:
		*dst = math.MinInt64
	default:
		*dst = -int64(n)
	}
	return true
}

// Uint8 reads an integer in 0..255 into dst.
func (s *Scanner) Uint8(dst *uint8) bool {
	s.space()
	n, ok := s.digits(math.MaxUint8)
	if ok {
		*dst = uint8(n)
	}
	return ok
}

// Object reads an object, calling member for each member name with the
// scanner before its value; member reads the value or returns false. A
// repeated member name, or more than MaxMembers, makes it give up.
func (s *Scanner) Object(member func(name []byte) bool) bool {
	if !s.Next('{') {
		return false
	}
	if s.Next('}') {
		return true
	}
	// The names read so far, and a bit per name of (length, last byte):
	// a name whose bit is not set yet repeats none.
	var seen [MaxMembers][]byte
	var bloom uint64
	for n := 0; ; n++ {
		name, ok := s.Raw()
		if !ok || n == len(seen) {
			return false
		}
		h := uint(len(name)) * 7
		if len(name) > 0 {
			h += uint(name[len(name)-1])
		}
		bit := uint64(1) << (h & 63)
		if bloom&bit != 0 {
			for _, k := range seen[:n] {
				if bytes.Equal(k, name) {
					return false
				}
			}
		}
		bloom |= bit
		seen[n] = name
		if !s.Next(':') || !member(name) {
			return false
		}
		if s.Next(',') {
			continue
		}
		return s.Next('}')
	}
}

// Array reads an array, calling elem with the scanner before each
// element; elem reads it or returns false.
func (s *Scanner) Array(elem func() bool) bool {
	if !s.Next('[') {
		return false
	}
	if s.Next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.Next(',') {
			continue
		}
		return s.Next(']')
	}
}

// Skip reads any one JSON value, checking its grammar as encoding/json
// does (a string's escapes and control characters, a number's form, the
// literals, the nesting), and gives up past 64 levels of nesting.
func (s *Scanner) Skip() bool { return s.skip(0) }

func (s *Scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		return s.skipString()
	case c == '{':
		s.i++
		if s.Next('}') {
			return true
		}
		for {
			if s.peek() != '"' || !s.skipString() || !s.Next(':') || !s.skip(depth+1) {
				return false
			}
			if s.Next(',') {
				continue
			}
			return s.Next('}')
		}
	case c == '[':
		s.i++
		if s.Next(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.Next(',') {
				continue
			}
			return s.Next(']')
		}
	case c == '-' || '0' <= c && c <= '9':
		return s.skipNumber()
	case c == 't':
		var b bool
		return s.Bool(&b)
	case c == 'f':
		var b bool
		return s.Bool(&b)
	case c == 'n':
		return s.Null()
	}
	return false
}

// skipString reads a string at s.i: escapes \" \\ \/ \b \f \n \r \t and
// \u with four hex digits, no control characters.
func (s *Scanner) skipString() bool {
	if _, ok := s.Raw(); ok { // the usual string, without escapes
		return true
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s.i.
func (s *Scanner) skipNumber() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	var ok bool
	if i < len(b) && b[i] == '.' {
		if i, ok = someDigits(b, i+1); !ok {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, ok = someDigits(b, i); !ok {
			return false
		}
	}
	s.i = i
	return true
}

// someDigits returns the index past the digits at b[i:], and whether
// there is at least one.
func someDigits(b []byte, i int) (int, bool) {
	start := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i, i > start
}
