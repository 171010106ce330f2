package sqlite

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/s2"

	"github.com/agentpay/agentpay/store"
)

// A transfer_chunks row's records are stored as they are or compressed
// (see migrations/0011_transfer_chunks_s2.sql). Records are 128-byte
// transfer records, so a row of them is a positive multiple of 128 bytes
// long; a compressed row is an S2 block of them followed by the byte
// transferChunkS2, and is written only when that length is not a multiple
// of 128. A batch's transfers name the same accounts, ledgers and codes
// again and again and their amounts are mostly zero bytes: a full row
// compresses about three to one.
const (
	transferChunkS2 = 0x01
	// transferChunkDecodedMax bounds the records a compressed row may
	// claim (a row holds at most chunkRecordsMax records; older rows, or
	// rows of a larger chunkRecordsMax, are allowed 16 times that).
	transferChunkDecodedMax = 16 * chunkRecordsMax * store.TransferRecordSize
)

// packTransferChunk returns the stored form of a row's records: an S2
// block and the marker byte when that is smaller and its length is not a
// multiple of the record size, else the records; dst is reused.
func packTransferChunk(dst, recs []byte) []byte {
	enc := encodeS2(dst, recs, 0, 1)
	n := len(enc) + 1
	if n >= len(recs) || n%store.TransferRecordSize == 0 {
		return recs
	}
	packed := enc[:n]
	packed[n-1] = transferChunkS2
	return packed
}

// unpackTransferChunk returns the records of a stored transfer_chunks
// row, decoded into buf when compressed (buf grows as needed, and the
// records share it). It fails for a row that is neither.
func unpackTransferChunk(buf *[]byte, stored []byte) ([]byte, error) {
	if len(stored) > 0 && len(stored)%store.TransferRecordSize == 0 {
		return stored, nil
	}
	if len(stored) < 2 || stored[len(stored)-1] != transferChunkS2 {
		return nil, fmt.Errorf("transfer chunk of %d bytes: neither records (a multiple of %d) nor compressed", len(stored), store.TransferRecordSize)
	}
	recs, err := decodeS2(buf, stored[:len(stored)-1], transferChunkDecodedMax)
	if err != nil {
		return nil, fmt.Errorf("compressed transfer chunk: %w", err)
	}
	if len(recs)%store.TransferRecordSize != 0 {
		return nil, fmt.Errorf("compressed transfer chunk of %d bytes of records, not a multiple of %d", len(recs), store.TransferRecordSize)
	}
	return recs, nil
}

// encodeS2 returns front bytes (for the caller to set), then the S2
// block of src, with room for back more bytes; dst is used when it is
// large enough.
func encodeS2(dst, src []byte, front, back int) []byte {
	need := front + s2.MaxEncodedLen(len(src)) + back
	if cap(dst) < need {
		dst = make([]byte, need)
	}
	dst = dst[:need]
	return dst[:front+len(s2.Encode(dst[front:], src))]
}

// decodeS2 decodes an S2 block of 1 to max bytes into buf (which grows as
// needed; the result shares it).
func decodeS2(buf *[]byte, block []byte, max int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > max {
		return nil, fmt.Errorf("%d bytes of records, want 1 to %d", n, max)
	}
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return s2.Decode((*buf)[:n], block)
}

// TransferChunkRecords returns the 128-byte transfer records of a stored
// transfer_chunks row (store.DecodeTransferRecord reads each), whether
// the row is compressed or not: for tools that read the database file
// itself.
func TransferChunkRecords(stored []byte) ([]byte, error) {
	var buf []byte
	recs, err := unpackTransferChunk(&buf, stored)
	if err != nil {
		return nil, err
	}
	if len(buf) == 0 {
		return bytes.Clone(recs), nil // the row's own bytes: a copy
	}
	return recs, nil
}
