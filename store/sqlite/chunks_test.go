package sqlite

import (
	"bytes"
	"context"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store"
)

// loadedTransfers is a ledger.Loader that keeps the transfers.
type loadedTransfers struct{ ts []ledger.TransferRecord }

func (*loadedTransfers) Position(uint64, uint64)            {}
func (*loadedTransfers) Asset(ledger.Asset)                 {}
func (*loadedTransfers) Account(ledger.Account)             {}
func (l *loadedTransfers) Transfer(t ledger.TransferRecord) { l.ts = append(l.ts, t) }
func (*loadedTransfers) Expiry(ledger.Expiry)               {}

// TestTransferChunksCompressed: full rows of transfers are stored as S2
// blocks, a fraction of their records, and every transfer reads back
// from them (by id, and in a load); a row stored as records (as every row
// before schema version 11) reads as before; a compressed row that is
// corrupt fails the reads that meet it.
func TestTransferChunksCompressed(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	l := newBenchLoadSize(20, false, 50)
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	var all []ledger.TransferRecord
	for range 3 {
		b := l.nextBatch()
		if err := s.CommitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		all = append(all, b.Transfers...)
	}
	check := func(when string) {
		t.Helper()
		for _, r := range all {
			got, err := s.GetTransfer(ctx, r.ID)
			if err != nil || got != r {
				t.Fatalf("%s: GetTransfer(%v) = %+v, %v; want %+v", when, r.ID, got, err, r)
			}
		}
		var ld loadedTransfers
		if err := s.Load(ctx, 0, &ld); err != nil {
			t.Fatalf("%s: load: %v", when, err)
		}
		if len(ld.ts) != len(all) {
			t.Fatalf("%s: loaded %d transfers, want %d", when, len(ld.ts), len(all))
		}
		for i := range all {
			if ld.ts[i] != all[i] {
				t.Fatalf("%s: loaded transfer %d = %+v, want %+v", when, i, ld.ts[i], all[i])
			}
		}
	}
	check("as committed")

	rows := storedRows(t, s, "SELECT rowid, records FROM transfer_chunks ORDER BY first_ts")
	compressed, raw, stored := 0, 0, 0
	for _, r := range rows {
		recs, err := TransferChunkRecords(r.stored)
		if err != nil {
			t.Fatal(err)
		}
		raw += len(recs)
		stored += len(r.stored)
		if len(r.stored)%store.TransferRecordSize != 0 {
			compressed++
		}
	}
	if compressed == 0 || stored*2 > raw {
		t.Fatalf("%d of %d rows compressed, %d bytes stored for %d of records; want most compressed, to half or less", compressed, len(rows), stored, raw)
	}

	// A row rewritten as its records reads as before.
	var c storedRow
	for _, r := range rows {
		if len(r.stored)%store.TransferRecordSize != 0 {
			c = r
			break
		}
	}
	recs, err := TransferChunkRecords(c.stored)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wconn.ExecContext(ctx, "UPDATE transfer_chunks SET records = ? WHERE rowid = ?", bytes.Clone(recs), c.key); err != nil {
		t.Fatal(err)
	}
	check("a row as records")

	// Corrupt rows fail the reads.
	first, _ := store.DecodeTransferRecord(recs)
	for _, bad := range [][]byte{
		append(bytes.Clone(c.stored[:len(c.stored)/2]), transferChunkS2), // cut short
		{0xff, 0xff, 0xff, 0x7f, transferChunkS2},                        // claims 256 MiB
		{0x05, 0x10, 1, 2, 3, 4, 5, transferChunkS2},                     // 5 bytes of records
		{1, 2, 3}, // no marker
	} {
		if _, err := s.wconn.ExecContext(ctx, "UPDATE transfer_chunks SET records = ? WHERE rowid = ?", bad, c.key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetTransfer(ctx, first.ID); err == nil {
			t.Errorf("GetTransfer from a corrupt row % x succeeded", bad[:min(len(bad), 6)])
		}
		if err := s.Load(ctx, 0, &loadedTransfers{}); err == nil {
			t.Errorf("load over a corrupt row % x succeeded", bad[:min(len(bad), 6)])
		}
	}
}

// FuzzTransferChunk: any stored bytes unpack to records or fail, never
// panic; records of any content pack to a form that unpacks to them, and
// that is either the records or a block whose length is not a multiple
// of the record size.
func FuzzTransferChunk(f *testing.F) {
	recs := make([]byte, 4*store.TransferRecordSize)
	for i := range recs {
		recs[i] = byte(i % 7)
	}
	f.Add(recs)
	f.Add(packTransferChunk(nil, recs))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, transferChunkS2})
	f.Add(bytes.Repeat([]byte{0}, store.TransferRecordSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf []byte
		if out, err := unpackTransferChunk(&buf, data); err == nil {
			if len(out) == 0 || len(out)%store.TransferRecordSize != 0 {
				t.Fatalf("unpacked %d bytes, not a positive multiple of %d", len(out), store.TransferRecordSize)
			}
		}
		// data as records (cut or padded to whole records).
		n := max(1, (len(data)+store.TransferRecordSize-1)/store.TransferRecordSize) * store.TransferRecordSize
		recs := make([]byte, n)
		copy(recs, data)
		packed := packTransferChunk(nil, recs)
		if len(packed)%store.TransferRecordSize == 0 && !bytes.Equal(packed, recs) {
			t.Fatal("packed to a multiple of the record size but not the records")
		}
		got, err := unpackTransferChunk(&buf, packed)
		if err != nil || !bytes.Equal(got, recs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// storedRow is a chunk row as stored: its key (the query's first column)
// and its records column.
type storedRow struct {
	key    int64
	stored []byte
}

// storedRows reads the chunk rows query selects (a key, then the stored
// records).
func storedRows(t *testing.T, s *Store, query string) []storedRow {
	t.Helper()
	rs, err := s.rdb.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var rows []storedRow
	for rs.Next() {
		var r storedRow
		if err := rs.Scan(&r.key, &r.stored); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}
