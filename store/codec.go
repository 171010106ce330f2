package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/agentpay/agentpay/ledger"
)

// Sizes of the fixed binary encodings, in bytes.
const (
	// TransferRecordSize is the size of an encoded ledger.TransferRecord.
	TransferRecordSize = 128
	// BalancesSize is the size of an account's four encoded balances.
	BalancesSize = 64
	// AccountRecordSize is the size of an encoded ledger.Account.
	AccountRecordSize = 132
)

// ErrShortBuffer is wrapped by the decoders when their input is shorter
// than the encoding.
var ErrShortBuffer = errors.New("store: short buffer")

// Offsets of the fields of an encoded transfer record. Every integer is
// big-endian, so the encoding of an ID equals its ledger.ID bytes.
const (
	offID          = 0
	offDebit       = 16
	offCredit      = 32
	offAmount      = 48
	offPendingID   = 56
	offUserData128 = 72
	offUserData64  = 88
	offUserData32  = 96
	offTimeout     = 100
	offLedger      = 104
	offCode        = 108
	offFlags       = 110
	offTimestamp   = 112
	offFingerprint = 120
)

// EncodeTransferRecord writes the TransferRecordSize-byte encoding of r to
// the start of dst: id 16, debit account 16, credit account 16, amount 8,
// pending id 16, user_data_128 16, user_data_64 8, user_data_32 4, timeout
// 4, ledger 4, code 2, flags 2, timestamp 8, fingerprint 8, all big-endian.
// Drivers share this layout, so it never changes; a new layout needs a new
// function and a migration. It panics if dst is shorter than
// TransferRecordSize (a programmer error).
func EncodeTransferRecord(dst []byte, r *ledger.TransferRecord) {
	_ = dst[TransferRecordSize-1] // one bounds check for the whole record
	copy(dst[offID:], r.ID[:])
	copy(dst[offDebit:], r.DebitAccountID[:])
	copy(dst[offCredit:], r.CreditAccountID[:])
	binary.BigEndian.PutUint64(dst[offAmount:], r.Amount)
	copy(dst[offPendingID:], r.PendingID[:])
	copy(dst[offUserData128:], r.UserData128[:])
	binary.BigEndian.PutUint64(dst[offUserData64:], r.UserData64)
	binary.BigEndian.PutUint32(dst[offUserData32:], r.UserData32)
	binary.BigEndian.PutUint32(dst[offTimeout:], r.Timeout)
	binary.BigEndian.PutUint32(dst[offLedger:], r.Ledger)
	binary.BigEndian.PutUint16(dst[offCode:], r.Code)
	binary.BigEndian.PutUint16(dst[offFlags:], uint16(r.Flags))
	binary.BigEndian.PutUint64(dst[offTimestamp:], r.Timestamp)
	binary.BigEndian.PutUint64(dst[offFingerprint:], r.Fingerprint)
}

// AppendTransferRecord appends the encoding of r to dst and returns the
// extended slice.
func AppendTransferRecord(dst []byte, r *ledger.TransferRecord) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, TransferRecordSize)...)
	EncodeTransferRecord(dst[n:], r)
	return dst
}

// DecodeTransferRecord decodes the record encoded by EncodeTransferRecord
// at the start of src; bytes past TransferRecordSize are ignored. Every
// 128-byte input decodes to some record, and encoding that record gives
// back the input. It returns an error wrapping ErrShortBuffer if src is
// shorter than TransferRecordSize.
func DecodeTransferRecord(src []byte) (ledger.TransferRecord, error) {
	var r ledger.TransferRecord
	if len(src) < TransferRecordSize {
		return r, fmt.Errorf("store: decode transfer record: got %d bytes, want %d: %w",
			len(src), TransferRecordSize, ErrShortBuffer)
	}
	src = src[:TransferRecordSize]
	copy(r.ID[:], src[offID:])
	copy(r.DebitAccountID[:], src[offDebit:])
	copy(r.CreditAccountID[:], src[offCredit:])
	r.Amount = binary.BigEndian.Uint64(src[offAmount:])
	copy(r.PendingID[:], src[offPendingID:])
	copy(r.UserData128[:], src[offUserData128:])
	r.UserData64 = binary.BigEndian.Uint64(src[offUserData64:])
	r.UserData32 = binary.BigEndian.Uint32(src[offUserData32:])
	r.Timeout = binary.BigEndian.Uint32(src[offTimeout:])
	r.Ledger = binary.BigEndian.Uint32(src[offLedger:])
	r.Code = binary.BigEndian.Uint16(src[offCode:])
	r.Flags = ledger.TransferFlags(binary.BigEndian.Uint16(src[offFlags:]))
	r.Timestamp = binary.BigEndian.Uint64(src[offTimestamp:])
	r.Fingerprint = binary.BigEndian.Uint64(src[offFingerprint:])
	return r, nil
}

// TransferRecordTimestamp returns the timestamp of the record encoded at
// the start of src without decoding the rest; src must hold at least
// TransferRecordSize bytes (it panics otherwise, a programmer error).
func TransferRecordTimestamp(src []byte) uint64 {
	return binary.BigEndian.Uint64(src[offTimestamp : offTimestamp+8])
}

// TransferRecordID returns the id of the record encoded at the start of
// src; src must hold at least TransferRecordSize bytes.
func TransferRecordID(src []byte) ledger.ID {
	return ledger.ID(src[offID : offID+16])
}

// EncodeBalances writes a's four balances to the start of dst as four
// 16-byte big-endian integers: debits pending, debits posted, credits
// pending, credits posted (BalancesSize bytes). It panics if dst is
// shorter than BalancesSize (a programmer error).
func EncodeBalances(dst []byte, a *ledger.Account) {
	_ = dst[BalancesSize-1]
	putU128(dst[0:], a.DebitsPending)
	putU128(dst[16:], a.DebitsPosted)
	putU128(dst[32:], a.CreditsPending)
	putU128(dst[48:], a.CreditsPosted)
}

// DecodeBalances sets a's four balances from the encoding made by
// EncodeBalances at the start of src. It returns an error wrapping
// ErrShortBuffer if src is shorter than BalancesSize.
func DecodeBalances(src []byte, a *ledger.Account) error {
	if len(src) < BalancesSize {
		return fmt.Errorf("store: decode balances: got %d bytes, want %d: %w",
			len(src), BalancesSize, ErrShortBuffer)
	}
	a.DebitsPending = getU128(src[0:])
	a.DebitsPosted = getU128(src[16:])
	a.CreditsPending = getU128(src[32:])
	a.CreditsPosted = getU128(src[48:])
	return nil
}

func putU128(dst []byte, v ledger.Uint128) {
	binary.BigEndian.PutUint64(dst[0:8], v.Hi)
	binary.BigEndian.PutUint64(dst[8:16], v.Lo)
}

func getU128(src []byte) ledger.Uint128 {
	return ledger.Uint128{Hi: binary.BigEndian.Uint64(src[0:8]), Lo: binary.BigEndian.Uint64(src[8:16])}
}

// Offsets of the fields of an encoded account record after its balances.
const (
	offAccountBalances    = 16
	offAccountUserData128 = 80
	offAccountUserData64  = 96
	offAccountUserData32  = 104
	offAccountLedger      = 108
	offAccountCode        = 112
	offAccountFlags       = 114
	offAccountLimit       = 116
	offAccountTimestamp   = 124
)

// EncodeAccount writes the AccountRecordSize-byte encoding of a to the
// start of dst: id 16, the four balances as EncodeBalances writes them 64,
// user_data_128 16, user_data_64 8, user_data_32 4, ledger 4, code 2,
// flags 2, limit 8, timestamp 8, all big-endian. The layout never changes.
// It panics if dst is shorter than AccountRecordSize (a programmer error).
func EncodeAccount(dst []byte, a *ledger.Account) {
	_ = dst[AccountRecordSize-1]
	copy(dst[0:], a.ID[:])
	EncodeBalances(dst[offAccountBalances:], a)
	copy(dst[offAccountUserData128:], a.UserData128[:])
	binary.BigEndian.PutUint64(dst[offAccountUserData64:], a.UserData64)
	binary.BigEndian.PutUint32(dst[offAccountUserData32:], a.UserData32)
	binary.BigEndian.PutUint32(dst[offAccountLedger:], a.Ledger)
	binary.BigEndian.PutUint16(dst[offAccountCode:], a.Code)
	binary.BigEndian.PutUint16(dst[offAccountFlags:], uint16(a.Flags))
	binary.BigEndian.PutUint64(dst[offAccountLimit:], a.Limit)
	binary.BigEndian.PutUint64(dst[offAccountTimestamp:], a.Timestamp)
}

// DecodeAccount decodes the account encoded by EncodeAccount at the start
// of src; bytes past AccountRecordSize are ignored. It returns an error
// wrapping ErrShortBuffer if src is shorter than AccountRecordSize.
func DecodeAccount(src []byte) (ledger.Account, error) {
	var a ledger.Account
	if len(src) < AccountRecordSize {
		return a, fmt.Errorf("store: decode account: got %d bytes, want %d: %w",
			len(src), AccountRecordSize, ErrShortBuffer)
	}
	src = src[:AccountRecordSize]
	copy(a.ID[:], src[0:])
	if err := DecodeBalances(src[offAccountBalances:], &a); err != nil {
		return a, err // unreachable: the length was checked
	}
	copy(a.UserData128[:], src[offAccountUserData128:])
	a.UserData64 = binary.BigEndian.Uint64(src[offAccountUserData64:])
	a.UserData32 = binary.BigEndian.Uint32(src[offAccountUserData32:])
	a.Ledger = binary.BigEndian.Uint32(src[offAccountLedger:])
	a.Code = binary.BigEndian.Uint16(src[offAccountCode:])
	a.Flags = ledger.AccountFlags(binary.BigEndian.Uint16(src[offAccountFlags:]))
	a.Limit = binary.BigEndian.Uint64(src[offAccountLimit:])
	a.Timestamp = binary.BigEndian.Uint64(src[offAccountTimestamp:])
	return a, nil
}
