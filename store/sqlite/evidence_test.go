package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/agentpay/agentpay/ledger"
)

// TestEvidenceFragments: a file that grows batch after batch is stored as
// fragments, folded back into one row every evFragmentsMax, and always
// reads back whole, also after a reopen, after a version that does not
// extend the stored one, and after a batch that failed; a file that stops
// growing keeps its rows.
func TestEvidenceFragments(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentpay.db")
	s := openAt(t, path)
	seq, ts := uint64(0), uint64(100)
	commit := func(files ...ledger.EvidenceFile) error {
		seq, ts = seq+1, ts+1
		return s.CommitBatch(ctx, &ledger.Batch{Seq: seq, Timestamp: ts,
			Evidence: &ledger.EvidenceWrite{Size: seq, Files: files}})
	}
	rows := func(p string) int {
		var n int
		if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM evidence_files WHERE path = ?1 OR (path >= ?1 || '#' AND path < ?1 || '$')`, p).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	check := func(p string, want []byte) {
		t.Helper()
		got, err := s.EvidenceFile(ctx, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes (%v), want %d", p, len(got), err, len(want))
		}
	}
	var bundle, tile []byte
	for i := range 40 {
		bundle = append(bundle, 0, 5)
		bundle = append(bundle, fmt.Sprintf("e%04d", i)...)
		tile = append(tile, bytes.Repeat([]byte{byte(i)}, 32)...)
		if err := commit(ledger.EvidenceFile{Path: "tile/entries/000", Data: bundle}, ledger.EvidenceFile{Path: "tile/0/000", Data: tile}); err != nil {
			t.Fatal(err)
		}
		check("tile/entries/000", bundle)
		check("tile/0/000", tile)
		if n := rows("tile/entries/000"); n > evFragmentsMax {
			t.Fatalf("after %d batches, %d rows", i+1, n)
		}
		if i == 20 {
			s.Close()
			s = openAt(t, path)
		}
	}
	// A batch that fails (its seq is taken) writes no fragment, and the
	// writer's view of the file stays right.
	seq--
	if err := commit(ledger.EvidenceFile{Path: "tile/0/000", Data: append(bytes.Clone(tile), make([]byte, 32)...)}); err == nil {
		t.Fatal("a batch with a used seq committed")
	}
	check("tile/0/000", tile)
	tile = append(tile, bytes.Repeat([]byte{9}, 32)...)
	if err := commit(ledger.EvidenceFile{Path: "tile/0/000", Data: tile}); err != nil {
		t.Fatal(err)
	}
	check("tile/0/000", tile)
	// A version that does not extend the stored one replaces it.
	other := bytes.Repeat([]byte{7}, 64)
	if err := commit(ledger.EvidenceFile{Path: "tile/0/000", Data: other}); err != nil {
		t.Fatal(err)
	}
	check("tile/0/000", other)
	if n := rows("tile/0/000"); n != 1 {
		t.Fatalf("a rewritten file has %d rows", n)
	}
	check("tile/entries/000", bundle)
}
