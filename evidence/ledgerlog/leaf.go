package ledgerlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// ErrLeaf: bytes are not a batch-tree leaf of a known layout.
var ErrLeaf = errors.New("ledgerlog: invalid batch-tree leaf")

// Leaf is a decoded batch-tree leaf: Tag says which one field is set.
type Leaf struct {
	Tag      byte
	Asset    ledger.Asset
	Account  ledger.Account // as created
	Transfer ledger.TransferRecord
	Expiry   ledger.Expiry
	Doc      ledger.Doc    // without its body
	DocHash  evidence.Hash // SHA-256 of the doc's body
}

// Timestamp returns the timestamp of the leaf's record.
func (l *Leaf) Timestamp() uint64 {
	switch l.Tag {
	case TagAsset:
		return l.Asset.Timestamp
	case TagAccount:
		return l.Account.Timestamp
	case TagTransfer:
		return l.Transfer.Timestamp
	case TagDoc:
		return l.Doc.Timestamp
	}
	return l.Expiry.Timestamp
}

// DecodeLeaf decodes leaf bytes; it accepts exactly the bytes the leaf
// functions (TransferLeaf, AccountLeaf, ExpiryLeaf, AssetLeaf) write.
// Errors wrap ErrLeaf.
func DecodeLeaf(b []byte) (Leaf, error) {
	if len(b) == 0 {
		return Leaf{}, fmt.Errorf("%w: empty", ErrLeaf)
	}
	l := Leaf{Tag: b[0]}
	body := b[1:]
	var err error
	var again []byte
	switch l.Tag {
	case TagTransfer:
		if len(body) != store.TransferRecordSize {
			return Leaf{}, fmt.Errorf("%w: transfer leaf of %d bytes", ErrLeaf, len(b))
		}
		if l.Transfer, err = store.DecodeTransferRecord(body); err != nil {
			return Leaf{}, fmt.Errorf("%w: %w", ErrLeaf, err)
		}
		again = TransferLeaf(nil, &l.Transfer)
	case TagAccount:
		if len(body) != store.AccountRecordSize {
			return Leaf{}, fmt.Errorf("%w: account leaf of %d bytes", ErrLeaf, len(b))
		}
		if l.Account, err = store.DecodeAccount(body); err != nil {
			return Leaf{}, fmt.Errorf("%w: %w", ErrLeaf, err)
		}
		again = AccountLeaf(nil, &l.Account)
	case TagExpiry:
		if len(body) != 24 {
			return Leaf{}, fmt.Errorf("%w: expiry leaf of %d bytes", ErrLeaf, len(b))
		}
		copy(l.Expiry.PendingID[:], body[:16])
		l.Expiry.Timestamp = binary.BigEndian.Uint64(body[16:])
		again = ExpiryLeaf(nil, &l.Expiry)
	case TagAsset:
		if len(body) < 14 || len(body) > 13+16 {
			return Leaf{}, fmt.Errorf("%w: asset leaf of %d bytes", ErrLeaf, len(b))
		}
		l.Asset.Ledger = binary.BigEndian.Uint32(body)
		l.Asset.Scale = body[4]
		l.Asset.Timestamp = binary.BigEndian.Uint64(body[5:])
		l.Asset.Code = string(body[13:])
		again = AssetLeaf(nil, &l.Asset)
	case TagDoc:
		if len(body) < 1 {
			return Leaf{}, fmt.Errorf("%w: doc leaf of %d bytes", ErrLeaf, len(b))
		}
		kl := int(body[0])
		if len(body) < 1+kl+1 {
			return Leaf{}, fmt.Errorf("%w: doc leaf of %d bytes", ErrLeaf, len(b))
		}
		l.Doc.Kind = string(body[1 : 1+kl])
		rest := body[1+kl:]
		keyLen := int(rest[0])
		if len(rest) != 1+keyLen+8+32 {
			return Leaf{}, fmt.Errorf("%w: doc leaf of %d bytes", ErrLeaf, len(b))
		}
		l.Doc.Key = string(rest[1 : 1+keyLen])
		l.Doc.Timestamp = binary.BigEndian.Uint64(rest[1+keyLen:])
		copy(l.DocHash[:], rest[1+keyLen+8:])
		if err := l.Doc.Validate(); err != nil {
			return Leaf{}, fmt.Errorf("%w: %w", ErrLeaf, err)
		}
		again = appendDocLeaf(nil, &l.Doc, l.DocHash)
	default:
		return Leaf{}, fmt.Errorf("%w: unknown tag 0x%02x", ErrLeaf, l.Tag)
	}
	if !bytes.Equal(again, b) {
		return Leaf{}, fmt.Errorf("%w: not in canonical form (tag %q)", ErrLeaf, l.Tag)
	}
	return l, nil
}
