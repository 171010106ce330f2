package protocol

// A fast path for decoding the payload an agent signs on every payment
// (the closed payment mandate), which encoding/json's reflection made one
// of the costliest steps of a payment. It reads only the usual shape:
// known members, strings without escapes or control characters, integers
// in range, aud as a string or an array of strings. Anything else (an
// escape, a float, an unknown member, a repeated member, a value of the
// wrong type) makes it give up, and decodeStrict checks and decodes as
// always, so every error and every unusual accepted input is the strict
// path's. What the fast path accepts is of a shape checkJSONShape accepts
// (known member names, none repeated, no null, two levels deep), so it
// runs without that scan. FuzzFastDecodeMatches checks that whatever the
// fast path accepts, checkJSONShape and encoding/json accept with the
// same result.

import (
	"bytes"
	"math"
)

// fastDecoder is a payload type with a fast path. decodeFast runs on
// valid UTF-8; it returns false, leaving the value zero, when data is not
// of the shape it reads, and accepts only what checkJSONShape accepts.
type fastDecoder interface {
	decodeFast(data []byte) bool
}

// maxFastMembers is the most members an object read by the fast path has.
const maxFastMembers = 16

// jsonScan reads JSON tokens from b.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c (after white space) if it comes next.
func (s *jsonScan) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// raw reads a string without escapes or control characters and returns
// its bytes (a slice of b).
func (s *jsonScan) raw() ([]byte, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[s.i+1 : j]
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *jsonScan) str(dst *string) bool {
	v, ok := s.raw()
	if ok {
		*dst = string(v)
	}
	return ok
}

// digits reads an unsigned integer's digits without leading zeros, not
// followed by a fraction or exponent; it returns its value and whether
// it is at most limit.
func (s *jsonScan) digits(limit uint64) (uint64, bool) {
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

func (s *jsonScan) int64(dst *int64) bool {
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

func (s *jsonScan) uint8(dst *uint8) bool {
	s.space()
	n, ok := s.digits(255)
	if ok {
		*dst = uint8(n)
	}
	return ok
}

// object reads an object, calling member for each member name with the
// scanner before its value; member reads the value or returns false. A
// repeated member name, or more than maxFastMembers, is refused.
func (s *jsonScan) object(member func(name []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen [maxFastMembers][]byte
	for n := 0; ; n++ {
		name, ok := s.raw()
		if !ok || n == len(seen) {
			return false
		}
		for _, k := range seen[:n] {
			if bytes.Equal(k, name) {
				return false
			}
		}
		seen[n] = name
		if !s.next(':') || !member(name) {
			return false
		}
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// audience reads aud as encoding/json decodes it into Audience: a string
// is one entry, an array of strings is all of them (empty, not nil).
func (s *jsonScan) audience(dst *Audience) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		var v string
		if !s.str(&v) {
			return false
		}
		*dst = Audience{v}
		return true
	}
	if !s.next('[') {
		return false
	}
	out := Audience{}
	if s.next(']') {
		*dst = out
		return true
	}
	for {
		var v string
		if !s.str(&v) {
			return false
		}
		out = append(out, v)
		if s.next(',') {
			continue
		}
		if !s.next(']') {
			return false
		}
		*dst = out
		return true
	}
}

// claim reads the registered claim name into c.
func (s *jsonScan) claim(c *Claims, name []byte) bool {
	switch string(name) {
	case "vct":
		return s.str(&c.VCT)
	case "iss":
		return s.str(&c.Issuer)
	case "sub":
		return s.str(&c.Subject)
	case "aud":
		return s.audience(&c.Audience)
	case "iat":
		return s.int64(&c.IssuedAt)
	case "nbf":
		return s.int64(&c.NotBefore)
	case "exp":
		return s.int64(&c.Expiry)
	case "jti":
		return s.str(&c.ID)
	}
	return false
}

func (m *ClosedPaymentMandate) decodeFast(data []byte) bool {
	s := &jsonScan{b: data}
	ok := s.object(func(name []byte) bool {
		switch string(name) {
		case "transaction_id":
			return s.str(&m.TransactionID)
		case "payee":
			return s.object(func(name []byte) bool {
				switch string(name) {
				case "id":
					return s.str(&m.Payee.ID)
				case "name":
					return s.str(&m.Payee.Name)
				case "website":
					return s.str(&m.Payee.Website)
				}
				return false
			})
		case "payment_amount":
			return s.object(func(name []byte) bool {
				switch string(name) {
				case "amount":
					return s.int64(&m.PaymentAmount.Amount)
				case "currency":
					return s.str(&m.PaymentAmount.Currency)
				case "scale":
					return s.uint8(&m.PaymentAmount.Scale)
				}
				return false
			})
		case "payment_instrument":
			return s.object(func(name []byte) bool {
				switch string(name) {
				case "id":
					return s.str(&m.PaymentInstrument.ID)
				case "type":
					return s.str(&m.PaymentInstrument.Type)
				case "description":
					return s.str(&m.PaymentInstrument.Description)
				}
				return false
			})
		case "execution_date":
			return s.int64(&m.ExecutionDate)
		case "open_mandate_hash":
			return s.str(&m.OpenMandateHash)
		case "modality":
			var v string
			ok := s.str(&v)
			m.Modality = Modality(v)
			return ok
		}
		return s.claim(&m.Claims, name)
	})
	if s.space(); !ok || s.i != len(s.b) {
		*m = ClosedPaymentMandate{}
		return false
	}
	return true
}
