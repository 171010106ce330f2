package evidence

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"
)

// benchBatchCount is the number of entries per engine batch in the batch benchmarks.
const benchBatchCount = 8189

func benchEntries(b *testing.B, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = genEntry(b, i)
	}
	return out
}

// BenchmarkAppend measures appending entries one Prepare per chunk; the
// metric leaves/s counts log leaves.
func BenchmarkAppend(b *testing.B) {
	entries := benchEntries(b, 4096)
	for _, chunk := range []int{1, 256, 4096} {
		b.Run(fmt.Sprintf("chunk=%d", chunk), func(b *testing.B) {
			ctx := context.Background()
			lg, store := NewLog(), NewMemStore()
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; {
				c := min(chunk, b.N-n) // the same entries again: duplicate leaves are valid
				if _, err := lg.Append(ctx, store, entries[:c]); err != nil {
					b.Fatal(err)
				}
				n += c
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
		})
	}
}

// BenchmarkAppendBatch measures committing one engine batch of 8,189 entries
// as one batch leaf: marshal the entries, build the batch tree, marshal the
// batch entry and append it. The metric entries/s counts batch entries.
func BenchmarkAppendBatch(b *testing.B) {
	proto := make([]Entry, benchBatchCount)
	for i := range proto {
		proto[i] = Entry{Kind: KindTransferChain, ID: fmt.Sprintf("tr_%08d", i), Seq: uint64(i),
			Time:     time.UnixMicro(1_790_000_000_000_000),
			Subjects: []Subject{{Type: "account", ID: "acct_1"}, {Type: "account", ID: "acct_2"}},
			Hashes:   []ObjectHash{{Name: "transfer", SHA256: HashBytes([]byte{byte(i)})}}}
	}
	ctx := context.Background()
	lg, store := NewLog(), NewMemStore()
	batch := make([][]byte, benchBatchCount)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range proto {
			var err error
			if batch[j], err = proto[j].Marshal(); err != nil {
				b.Fatal(err)
			}
		}
		be := NewBatchEntry(BatchTree(batch))
		be.ID, be.Seq, be.Time = fmt.Sprintf("batch_%d", i), uint64(i), proto[0].Time
		leaf, err := be.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := lg.Append(ctx, store, [][]byte{leaf}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
	b.ReportMetric(float64(b.N*benchBatchCount)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendBatchEntriesAsLeaves is the alternative: every entry of the
// 8,189-entry batch becomes its own log leaf.
func BenchmarkAppendBatchEntriesAsLeaves(b *testing.B) {
	entries := benchEntries(b, benchBatchCount)
	ctx := context.Background()
	lg, store := NewLog(), NewMemStore()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := lg.Append(ctx, store, entries); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatchCount)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkEntryMarshal(b *testing.B) {
	e := sampleEntry()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEntry(b *testing.B) {
	e := sampleEntry()
	data, _ := e.Marshal()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}

const benchLogSize = 1 << 20

var (
	benchLogOnce  sync.Once
	benchLogStore *MemStore
	benchLogRoot  Hash
)

// benchLog builds a log of 1,048,576 small leaves once.
func benchLog(b *testing.B) (*MemStore, Hash) {
	benchLogOnce.Do(func() {
		ctx := context.Background()
		lg, store := NewLog(), NewMemStore()
		chunk := make([][]byte, 4096)
		for n := 0; n < benchLogSize; n += len(chunk) {
			for j := range chunk {
				chunk[j] = binary.BigEndian.AppendUint64(nil, uint64(n+j))
			}
			if _, err := lg.Append(ctx, store, chunk); err != nil {
				panic(err)
			}
		}
		benchLogStore, benchLogRoot = store, lg.Root()
	})
	return benchLogStore, benchLogRoot
}

func BenchmarkInclusionProof(b *testing.B) {
	store, _ := benchLog(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := InclusionProof(ctx, store, uint64(i*7919)%benchLogSize, benchLogSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyInclusion(b *testing.B) {
	store, root := benchLog(b)
	ctx := context.Background()
	const idx = 123457
	p, err := InclusionProof(ctx, store, idx, benchLogSize)
	if err != nil {
		b.Fatal(err)
	}
	lh := LeafHash(binary.BigEndian.AppendUint64(nil, idx))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := VerifyInclusion(idx, benchLogSize, lh, p, root); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsistencyProof(b *testing.B) {
	store, _ := benchLog(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ConsistencyProof(ctx, store, uint64(1+i*7919)%benchLogSize, benchLogSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyConsistency(b *testing.B) {
	store, root := benchLog(b)
	ctx := context.Background()
	const size1 = 700001
	p, err := ConsistencyProof(ctx, store, size1, benchLogSize)
	if err != nil {
		b.Fatal(err)
	}
	root1, err := RootAt(ctx, store, size1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := VerifyConsistency(size1, benchLogSize, p, root1, root); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBatchProofVerify(b *testing.B) {
	batch := benchEntries(b, benchBatchCount)
	tree := BatchTree(batch)
	be := NewBatchEntry(tree)
	be.ID, be.Time = "batch_1", time.UnixMicro(1)
	leaf, _ := be.Marshal()
	ctx := context.Background()
	lg, store := NewLog(), NewMemStore()
	if _, err := lg.Append(ctx, store, append(benchEntries(b, 1000), leaf)); err != nil {
		b.Fatal(err)
	}
	path, _ := tree.InclusionProof(4321)
	logPath, err := InclusionProof(ctx, store, 1000, lg.Size())
	if err != nil {
		b.Fatal(err)
	}
	p := BatchProof{EntryIndex: 4321, EntryPath: path, BatchEntry: leaf, LogIndex: 1000, LogSize: lg.Size(), LogPath: logPath}
	root := lg.Root()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Verify(batch[4321], root); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckpoint(b *testing.B) {
	signer, verifier, _, _ := testKey(b, "apay-log", 1)
	c := Checkpoint{Origin: testOrigin, Size: 1 << 20, Root: HashBytes(nil)}
	signed, _ := SignCheckpoint(c, signer)
	b.Run("sign", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := SignCheckpoint(c, signer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := OpenCheckpoint(signed, testOrigin, verifier); err != nil {
				b.Fatal(err)
			}
		}
	})
}
