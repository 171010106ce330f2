package protocol

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"time"
)

// A time-ordered jti starts with its time: 30 base64url characters
// encoding 22 bytes, 6 of Unix milliseconds (big-endian) then 16 random
// (128 bits). It is an ordinary jti to every verifier; the platform reads
// its time (JTITime) to store the records of a payment made with it next
// to those made at the same time, instead of at a place the jti's hash
// picks. AgentPay's SDK makes its jtis this way.
const (
	jtiTimedChars = 30
	jtiTimedBytes = 22
)

// NewJTI returns a fresh time-ordered jti for now, its random part read
// from r (crypto/rand when nil).
func NewJTI(now time.Time, r io.Reader) string {
	if r == nil {
		r = rand.Reader
	}
	var b [jtiTimedBytes]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(max(now.UnixMilli(), 0)))
	copy(b[:6], ms[2:])
	if _, err := io.ReadFull(r, b[6:]); err != nil {
		panic("protocol: NewJTI: reading randomness: " + err.Error())
	}
	return jwsB64.EncodeToString(b[:])
}

// JTITime returns the millisecond time a time-ordered jti starts with
// (the first 6 of its 22 bytes) and whether jti has that form: exactly 30
// characters of canonical base64url. Any jti of that form has a time (a
// signer may put any there); every other jti has none.
func JTITime(jti string) (ms uint64, ok bool) {
	if len(jti) != jtiTimedChars {
		return 0, false
	}
	var b [jtiTimedBytes + 2]byte
	n, err := jwsB64.Decode(b[:], []byte(jti))
	if err != nil || n != jtiTimedBytes {
		return 0, false
	}
	var ms8 [8]byte
	copy(ms8[2:], b[:6])
	return binary.BigEndian.Uint64(ms8[:]), true
}
