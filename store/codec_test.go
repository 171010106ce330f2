package store

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/google/go-cmp/cmp"
)

func fullRecord() ledger.TransferRecord {
	return ledger.TransferRecord{
		Transfer: ledger.Transfer{
			ID:              ledger.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			DebitAccountID:  ledger.IDFromUint64(17),
			CreditAccountID: ledger.IDMax,
			Amount:          math.MaxUint64,
			PendingID:       ledger.ID{0x80},
			UserData128:     ledger.ID{15: 0xff},
			UserData64:      1<<63 + 5,
			UserData32:      math.MaxUint32,
			Timeout:         3600,
			Ledger:          7,
			Code:            math.MaxUint16,
			Flags:           ledger.TransferPending | ledger.TransferLinked,
			Timestamp:       1_700_000_000_123_456_789,
		},
		Fingerprint: 0xdeadbeefcafef00d,
	}
}

func TestTransferRecordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []ledger.TransferRecord{{}, fullRecord()} {
		buf := make([]byte, TransferRecordSize+3)
		EncodeTransferRecord(buf, &r)
		got, err := DecodeTransferRecord(buf)
		if err != nil {
			t.Fatalf("DecodeTransferRecord: %v", err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		if got, want := TransferRecordTimestamp(buf), r.Timestamp; got != want {
			t.Errorf("TransferRecordTimestamp = %d, want %d", got, want)
		}
		if got, want := TransferRecordID(buf), r.ID; got != want {
			t.Errorf("TransferRecordID = %v, want %v", got, want)
		}
		if got := AppendTransferRecord([]byte{9}, &r); !bytes.Equal(got[1:], buf[:TransferRecordSize]) || got[0] != 9 {
			t.Errorf("AppendTransferRecord = %x, want 09%x", got, buf[:TransferRecordSize])
		}
	}
}

// TestTransferRecordLayout pins the byte layout: drivers share it, and a
// stored record must decode the same forever.
func TestTransferRecordLayout(t *testing.T) {
	t.Parallel()
	r := fullRecord()
	buf := make([]byte, TransferRecordSize)
	EncodeTransferRecord(buf, &r)
	const want = "0102030405060708090a0b0c0d0e0f10" + // id
		"00000000000000000000000000000011" + // debit
		"ffffffffffffffffffffffffffffffff" + // credit
		"ffffffffffffffff" + // amount
		"80000000000000000000000000000000" + // pending id
		"000000000000000000000000000000ff" + // user_data_128
		"8000000000000005" + // user_data_64
		"ffffffff" + // user_data_32
		"00000e10" + // timeout
		"00000007" + // ledger
		"ffff" + // code
		"0003" + // flags
		"17979cfe3d85cd15" + // timestamp
		"deadbeefcafef00d" // fingerprint
	if got := hexString(buf); got != want {
		t.Errorf("encoding =\n%s\nwant\n%s", got, want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestDecodeTransferRecordShort(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, TransferRecordSize - 1} {
		_, err := DecodeTransferRecord(make([]byte, n))
		if !errors.Is(err, ErrShortBuffer) {
			t.Errorf("DecodeTransferRecord(%d bytes) error = %v, want ErrShortBuffer", n, err)
		}
	}
}

func TestEncodeTransferRecordShortPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("EncodeTransferRecord into a short buffer did not panic")
		}
	}()
	EncodeTransferRecord(make([]byte, TransferRecordSize-1), &ledger.TransferRecord{})
}

func TestBalancesRoundTrip(t *testing.T) {
	t.Parallel()
	a := ledger.Account{
		DebitsPending:  ledger.Uint128{Hi: 1, Lo: 2},
		DebitsPosted:   ledger.Uint128{Hi: math.MaxUint64, Lo: math.MaxUint64},
		CreditsPending: ledger.U128(0),
		CreditsPosted:  ledger.Uint128{Hi: 1 << 63, Lo: 7},
	}
	buf := make([]byte, BalancesSize)
	EncodeBalances(buf, &a)
	var got ledger.Account
	if err := DecodeBalances(buf, &got); err != nil {
		t.Fatalf("DecodeBalances: %v", err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := DecodeBalances(buf[:BalancesSize-1], &got); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("DecodeBalances(short) error = %v, want ErrShortBuffer", err)
	}
}

func FuzzDecodeTransferRecord(f *testing.F) {
	r := fullRecord()
	buf := make([]byte, TransferRecordSize)
	EncodeTransferRecord(buf, &r)
	f.Add(buf)
	f.Add(make([]byte, TransferRecordSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeTransferRecord(in)
		if len(in) < TransferRecordSize {
			if err == nil {
				t.Fatalf("DecodeTransferRecord(%d bytes) succeeded", len(in))
			}
			return
		}
		if err != nil {
			t.Fatalf("DecodeTransferRecord(%d bytes): %v", len(in), err)
		}
		out := make([]byte, TransferRecordSize)
		EncodeTransferRecord(out, &r)
		if !bytes.Equal(out, in[:TransferRecordSize]) {
			t.Fatalf("encode(decode(x)) = %x, want %x", out, in[:TransferRecordSize])
		}
	})
}

func fullAccount() ledger.Account {
	return ledger.Account{
		ID:             ledger.ID{0xaa, 15: 0x01},
		DebitsPending:  ledger.Uint128{Hi: 1, Lo: 2},
		DebitsPosted:   ledger.Uint128{Hi: math.MaxUint64, Lo: math.MaxUint64},
		CreditsPending: ledger.U128(3),
		CreditsPosted:  ledger.Uint128{Hi: 1 << 63, Lo: 7},
		UserData128:    ledger.IDMax,
		UserData64:     math.MaxUint64,
		UserData32:     math.MaxUint32 - 1,
		Ledger:         math.MaxUint32,
		Code:           9,
		Flags:          ledger.AccountDebitsMustNotExceedCredits | ledger.AccountClosed,
		Limit:          1 << 63,
		Timestamp:      1_700_000_000_123_456_789,
	}
}

func TestAccountRoundTrip(t *testing.T) {
	t.Parallel()
	for _, a := range []ledger.Account{{}, fullAccount()} {
		buf := make([]byte, AccountRecordSize+1)
		EncodeAccount(buf, &a)
		got, err := DecodeAccount(buf)
		if err != nil {
			t.Fatalf("DecodeAccount: %v", err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		// The balances sit where EncodeBalances puts them.
		var b ledger.Account
		if err := DecodeBalances(buf[16:], &b); err != nil || b.DebitsPosted != a.DebitsPosted || b.CreditsPosted != a.CreditsPosted {
			t.Errorf("balances at offset 16 = %+v, %v; want the account's", b, err)
		}
	}
	if _, err := DecodeAccount(make([]byte, AccountRecordSize-1)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("DecodeAccount(short) error = %v, want ErrShortBuffer", err)
	}
}

func FuzzDecodeAccount(f *testing.F) {
	a := fullAccount()
	buf := make([]byte, AccountRecordSize)
	EncodeAccount(buf, &a)
	f.Add(buf)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := DecodeAccount(in)
		if len(in) < AccountRecordSize {
			if err == nil {
				t.Fatalf("DecodeAccount(%d bytes) succeeded", len(in))
			}
			return
		}
		if err != nil {
			t.Fatalf("DecodeAccount: %v", err)
		}
		out := make([]byte, AccountRecordSize)
		EncodeAccount(out, &a)
		if !bytes.Equal(out, in[:AccountRecordSize]) {
			t.Fatalf("encode(decode(x)) = %x, want %x", out, in[:AccountRecordSize])
		}
	})
}
