package ledgerlog

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agentpay/agentpay/ledger"
)

func sampleLeaves() [][]byte {
	a := ledger.Account{ID: ledger.IDFromUint64(7), Ledger: 1, Code: 3, Flags: ledger.AccountHistory, Timestamp: 11, Limit: 5}
	a.CreditsPosted, _ = a.CreditsPosted.AddU64(99) // leaves hold the account as created
	tr := ledger.TransferRecord{Transfer: ledger.Transfer{ID: ledger.IDFromUint64(8), DebitAccountID: a.ID,
		CreditAccountID: ledger.IDFromUint64(9), Amount: 31, Ledger: 1, Code: 1, Timestamp: 12}, Fingerprint: 4}
	return [][]byte{
		AssetLeaf(nil, &ledger.Asset{Ledger: 1, Code: "USD", Scale: 2, Timestamp: 10}),
		AccountLeaf(nil, &a),
		TransferLeaf(nil, &tr),
		ExpiryLeaf(nil, &ledger.Expiry{PendingID: tr.ID, Timestamp: 13}),
		DocLeaf(nil, &ledger.Doc{Kind: "mandate_issued", Key: "mdt_01JDX", Body: []byte(`{"signed":"bytes"}`), Timestamp: 14}),
	}
}

func TestDecodeLeaf(t *testing.T) {
	for i, b := range sampleLeaves() {
		l, err := DecodeLeaf(b)
		if err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		if l.Tag != b[0] || l.Timestamp() != uint64(10+i) {
			t.Fatalf("leaf %d: tag %q timestamp %d", i, l.Tag, l.Timestamp())
		}
		if l.Tag == TagAccount && (l.Account.CreditsPosted != ledger.Uint128{} || l.Account.Limit != 5) {
			t.Fatalf("account leaf decodes to %+v", l.Account)
		}
		for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0), append([]byte{'Q'}, b[1:]...)} {
			if (l.Tag == TagAsset || l.Tag == TagDoc) && len(bad) != len(b) && bad[0] == l.Tag {
				continue // a longer or shorter code is another valid asset leaf
			}
			if _, err := DecodeLeaf(bad); !errors.Is(err, ErrLeaf) {
				t.Fatalf("leaf %d: DecodeLeaf(%x) = %v, want ErrLeaf", i, bad, err)
			}
		}
	}
	if _, err := DecodeLeaf(nil); !errors.Is(err, ErrLeaf) {
		t.Fatal("empty leaf decoded")
	}
}

// FuzzDecodeLeaf: DecodeLeaf never panics and what it accepts encodes
// back to the same bytes.
func FuzzDecodeLeaf(f *testing.F) {
	for _, b := range sampleLeaves() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLeaf(b)
		if err != nil {
			if !errors.Is(err, ErrLeaf) {
				t.Fatalf("error %v does not wrap ErrLeaf", err)
			}
			return
		}
		var again []byte
		switch l.Tag {
		case TagTransfer:
			again = TransferLeaf(nil, &l.Transfer)
		case TagAccount:
			again = AccountLeaf(nil, &l.Account)
		case TagExpiry:
			again = ExpiryLeaf(nil, &l.Expiry)
		case TagAsset:
			again = AssetLeaf(nil, &l.Asset)
		case TagDoc:
			again = appendDocLeaf(nil, &l.Doc, l.DocHash)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, encodes to %x", b, again)
		}
	})
}
