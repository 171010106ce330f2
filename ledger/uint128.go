package ledger

import (
	"errors"
	"math/big"
	"math/bits"
	"strconv"
)

// Uint128 is an unsigned 128-bit integer used for balances.
//
// Bound: a balance counter overflows only after 2^128-1 minor units, about
// 3.4e38. At 10^9 minor units per dollar (nano-dollars, the finest scale
// AgentPay uses for token prices) and one million transfers per second of
// $10^6 each, that is more than 10^13 years.
type Uint128 struct{ Hi, Lo uint64 }

// U128 returns n as a Uint128.
func U128(n uint64) Uint128 { return Uint128{Lo: n} }

// Add returns a+b and whether the sum overflowed.
func (a Uint128) Add(b Uint128) (Uint128, bool) {
	lo, carry := bits.Add64(a.Lo, b.Lo, 0)
	hi, carry := bits.Add64(a.Hi, b.Hi, carry)
	return Uint128{hi, lo}, carry != 0
}

// AddU64 returns a+n and whether the sum overflowed.
func (a Uint128) AddU64(n uint64) (Uint128, bool) { return a.Add(Uint128{Lo: n}) }

// Sub returns a-b and whether it borrowed (b > a).
func (a Uint128) Sub(b Uint128) (Uint128, bool) {
	lo, borrow := bits.Sub64(a.Lo, b.Lo, 0)
	hi, borrow := bits.Sub64(a.Hi, b.Hi, borrow)
	return Uint128{hi, lo}, borrow != 0
}

// SubU64 returns a-n and whether it borrowed.
func (a Uint128) SubU64(n uint64) (Uint128, bool) { return a.Sub(Uint128{Lo: n}) }

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Uint128) Cmp(b Uint128) int {
	switch {
	case a.Hi < b.Hi:
		return -1
	case a.Hi > b.Hi:
		return 1
	case a.Lo < b.Lo:
		return -1
	case a.Lo > b.Lo:
		return 1
	}
	return 0
}

// IsZero reports whether a is zero.
func (a Uint128) IsZero() bool { return a.Hi == 0 && a.Lo == 0 }

// Big returns a as a big.Int.
func (a Uint128) Big() *big.Int {
	b := new(big.Int).SetUint64(a.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(a.Lo))
}

// String returns the base-10 form of a.
func (a Uint128) String() string {
	if a.Hi == 0 {
		return strconv.FormatUint(a.Lo, 10)
	}
	return a.Big().String()
}

// ErrUint128Syntax is returned by ParseUint128 for text that is not a
// base-10 integer in [0, 2^128).
var ErrUint128Syntax = errors.New("ledger: not a base-10 integer in [0, 2^128)")

// ParseUint128 parses a base-10 unsigned integer below 2^128.
func ParseUint128(s string) (Uint128, error) {
	if len(s) == 0 || len(s) > 39 {
		return Uint128{}, ErrUint128Syntax
	}
	var v Uint128
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Uint128{}, ErrUint128Syntax
		}
		// v = v*10 + digit, checking overflow.
		hi, lo := bits.Mul64(v.Lo, 10)
		hh, hl := bits.Mul64(v.Hi, 10)
		if hh != 0 {
			return Uint128{}, ErrUint128Syntax
		}
		hi, carry := bits.Add64(hi, hl, 0)
		if carry != 0 {
			return Uint128{}, ErrUint128Syntax
		}
		lo, carry = bits.Add64(lo, uint64(c-'0'), 0)
		hi, carry = bits.Add64(hi, 0, carry)
		if carry != 0 {
			return Uint128{}, ErrUint128Syntax
		}
		v = Uint128{hi, lo}
	}
	return v, nil
}

// MarshalText implements encoding.TextMarshaler (balances travel as
// strings because JSON numbers lose precision above 2^53).
func (a Uint128) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Uint128) UnmarshalText(b []byte) error {
	v, err := ParseUint128(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
