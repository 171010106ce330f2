package evidence_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agentpay/agentpay/evidence"
	"golang.org/x/mod/sumdb/note"
)

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Example shows the whole flow: write entries, append a batch, sign a
// checkpoint, follow it with a monitor and verify a two-level proof.
func Example() {
	ctx := context.Background()
	const origin = "agentpay.example/apay/log/v1"
	skey, vkey, _ := note.GenerateKey(zeroReader{}, "agentpay.example")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)

	store := evidence.NewMemStore() // a store driver's transaction in production
	log := evidence.NewLog()
	monitor := evidence.NewMonitor(origin, verifier)
	ts := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

	// One account change as its own leaf.
	e := evidence.Entry{Kind: evidence.KindAccountChange, ID: "evt_1", Seq: 1, Time: ts,
		Subjects: []evidence.Subject{{Type: "account", ID: "acct_1"}}}
	b, _ := e.Marshal()
	p, _ := log.Prepare([][]byte{b})
	_ = p.Write(ctx, store) // inside the batch's transaction
	_ = log.Commit(p)       // after the transaction commits

	cp := evidence.Checkpoint{Origin: origin, Size: log.Size(), Root: log.Root()}
	signed, _ := evidence.SignCheckpoint(cp, signer)
	_, err := monitor.Update(signed, nil)
	fmt.Println("first checkpoint:", cp.Size, err)

	// An engine batch of three transfers as one batch leaf.
	var batch [][]byte
	for i := range 3 {
		t := evidence.Entry{Kind: evidence.KindTransferChain, ID: fmt.Sprintf("tr_%d", i), Seq: uint64(2 + i), Time: ts,
			Hashes: []evidence.ObjectHash{{Name: "transfer", SHA256: evidence.HashBytes([]byte{byte(i)})}}}
		tb, _ := t.Marshal()
		batch = append(batch, tb)
	}
	tree := evidence.BatchTree(batch)
	be := evidence.NewBatchEntry(tree)
	be.ID, be.Seq, be.Time = "batch_1", 5, ts
	leaf, _ := be.Marshal()
	p, _ = log.Append(ctx, store, [][]byte{leaf})

	cp2 := evidence.Checkpoint{Origin: origin, Size: log.Size(), Root: log.Root()}
	signed2, _ := evidence.SignCheckpoint(cp2, signer)
	cons, _ := evidence.ConsistencyProof(ctx, store, cp.Size, cp2.Size)
	_, err = monitor.Update(signed2, cons)
	fmt.Println("second checkpoint:", cp2.Size, err)

	// Prove transfer tr_1 against the monitor's checkpoint.
	latest, _, _ := monitor.Latest()
	entryPath, _ := tree.InclusionProof(1)
	logPath, _ := evidence.InclusionProof(ctx, store, p.FirstIndex(), latest.Size)
	proof := evidence.BatchProof{EntryIndex: 1, EntryPath: entryPath, BatchEntry: leaf,
		LogIndex: p.FirstIndex(), LogSize: latest.Size, LogPath: logPath}
	fmt.Println("tr_1 proven:", proof.Verify(batch[1], latest.Root) == nil)
	fmt.Println("tr_2 as tr_1:", proof.Verify(batch[2], latest.Root) == nil)
	// Output:
	// first checkpoint: 1 <nil>
	// second checkpoint: 2 <nil>
	// tr_1 proven: true
	// tr_2 as tr_1: false
}
