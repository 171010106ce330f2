package evidence

import (
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Errors about trees and proofs; test with errors.Is.
var (
	// ErrRange: an index or size is outside the tree, or sizes are out of order.
	ErrRange = errors.New("evidence: index or size out of range")
	// ErrProof: a proof does not verify.
	ErrProof = errors.New("evidence: proof does not verify")
)

// hashChildren is the RFC 6962 interior node hash.
func hashChildren(l, r []byte) []byte { return rfc6962.DefaultHasher.HashChildren(l, r) }

// emptyRoot is the root of the empty tree, SHA-256("").
func emptyRoot() Hash {
	var h Hash
	copy(h[:], rfc6962.DefaultHasher.EmptyRoot())
	return h
}

// nodeFetcher returns the hashes of perfect-subtree nodes, in the order asked.
type nodeFetcher func(ids []compact.NodeID) ([][]byte, error)

func toHashes(b [][]byte) []Hash {
	out := make([]Hash, len(b))
	for i := range b {
		copy(out[i][:], b[i])
	}
	return out
}

// ProofBytes converts hashes to the [][]byte form the merkle verifiers take.
func ProofBytes(hs []Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

func inclusionFrom(index, size uint64, fetch nodeFetcher) ([]Hash, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: index %d, size %d", ErrRange, index, size)
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("evidence: inclusion nodes: %w", err)
	}
	return fetchProof(n, fetch)
}

// fetchProof fetches a proof's nodes and rehashes the ones that span
// several stored nodes.
func fetchProof(n proof.Nodes, fetch nodeFetcher) ([]Hash, error) {
	hs, err := fetch(n.IDs)
	if err != nil {
		return nil, err
	}
	hs, err = n.Rehash(hs, hashChildren)
	if err != nil {
		return nil, fmt.Errorf("evidence: rehash: %w", err)
	}
	return toHashes(hs), nil
}

func consistencyFrom(size1, size2 uint64, fetch nodeFetcher) ([]Hash, error) {
	if size1 > size2 {
		return nil, fmt.Errorf("%w: size %d > %d", ErrRange, size1, size2)
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("evidence: consistency nodes: %w", err)
	}
	return fetchProof(n, fetch)
}

func rootFrom(size uint64, fetch nodeFetcher) (Hash, error) {
	if size == 0 {
		return emptyRoot(), nil
	}
	hs, err := fetch(compact.RangeNodes(0, size, nil))
	if err != nil {
		return Hash{}, err
	}
	root := hs[len(hs)-1]
	for i := len(hs) - 2; i >= 0; i-- {
		root = hashChildren(hs[i], root)
	}
	var h Hash
	copy(h[:], root)
	return h, nil
}

// Tree is an in-memory RFC 6962 tree over a fixed list of leaves, used for
// the tree of one engine batch. It keeps every perfect-subtree node.
type Tree struct {
	levels [][]Hash // levels[0] = leaf hashes; levels[l][i] = node (l, i)
}

// NewTree builds the tree over the given leaf hashes.
func NewTree(leafHashes []Hash) *Tree {
	t := &Tree{levels: [][]Hash{append([]Hash(nil), leafHashes...)}}
	for prev := t.levels[0]; len(prev) > 1; prev = t.levels[len(t.levels)-1] {
		next := make([]Hash, len(prev)/2)
		for i := range next {
			copy(next[i][:], hashChildren(prev[2*i][:], prev[2*i+1][:]))
		}
		t.levels = append(t.levels, next)
	}
	return t
}

// BatchTree builds the tree over the canonical bytes of one engine batch's entries.
func BatchTree(entries [][]byte) *Tree {
	leaves := make([]Hash, len(entries))
	for i, e := range entries {
		leaves[i] = LeafHash(e)
	}
	return NewTree(leaves)
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return uint64(len(t.levels[0])) }

func (t *Tree) fetch(ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if int(id.Level) >= len(t.levels) || id.Index >= uint64(len(t.levels[id.Level])) {
			return nil, fmt.Errorf("%w: node (%d, %d) not in tree", ErrRange, id.Level, id.Index)
		}
		out[i] = t.levels[id.Level][id.Index][:]
	}
	return out, nil
}

// Root returns the tree's root hash (SHA-256("") when empty).
func (t *Tree) Root() Hash {
	h, err := rootFrom(t.Size(), t.fetch)
	if err != nil {
		panic(fmt.Sprintf("evidence: tree root: %v", err)) // all perfect nodes are present
	}
	return h
}

// InclusionProof returns the audit path of leaf index.
func (t *Tree) InclusionProof(index uint64) ([]Hash, error) {
	return inclusionFrom(index, t.Size(), t.fetch)
}

// NewBatchEntry returns the "batch" entry committing to t; the caller fills ID,
// Shard, Seq, Time and anything else, then marshals it.
func NewBatchEntry(t *Tree) Entry {
	return Entry{Kind: KindBatch, Batch: &BatchInfo{Root: t.Root(), Count: t.Size()}}
}

// VerifyInclusion checks that leafHash is leaf index of the tree of the given
// size and root. The error wraps ErrProof.
func VerifyInclusion(index, size uint64, leafHash Hash, path []Hash, root Hash) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash[:], ProofBytes(path), root[:]); err != nil {
		return fmt.Errorf("%w: inclusion of %d in %d: %w", ErrProof, index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree (size2, root2) extends (size1, root1).
// The error wraps ErrProof.
func VerifyConsistency(size1, size2 uint64, path []Hash, root1, root2 Hash) error {
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, ProofBytes(path), root1[:], root2[:]); err != nil {
		return fmt.Errorf("%w: consistency %d to %d: %w", ErrProof, size1, size2, err)
	}
	return nil
}

// BatchProof proves that one entry is in an engine batch and that the batch's
// entry is in the log: a two-level inclusion proof.
type BatchProof struct {
	EntryIndex uint64 // index of the entry in the batch tree
	EntryPath  []Hash // audit path in the batch tree
	BatchEntry []byte // canonical bytes of the batch entry (kind batch or meter_batch)
	LogIndex   uint64 // index of the batch entry in the log
	LogSize    uint64 // log size of the checkpoint the proof is for
	LogPath    []Hash // audit path in the log
}

// Verify checks that entry (canonical bytes) is proven into the log with root
// logRoot at size p.LogSize. Errors wrap ErrProof or ErrInvalidEntry.
func (p *BatchProof) Verify(entry []byte, logRoot Hash) error {
	be, err := ParseEntry(p.BatchEntry)
	if err != nil {
		return fmt.Errorf("evidence: batch proof: %w", err)
	}
	if be.Batch == nil {
		return fmt.Errorf("%w: batch proof: entry %s carries no batch root", ErrProof, be.ID)
	}
	if err := VerifyInclusion(p.EntryIndex, be.Batch.Count, LeafHash(entry), p.EntryPath, be.Batch.Root); err != nil {
		return fmt.Errorf("evidence: batch proof, batch level: %w", err)
	}
	if err := VerifyInclusion(p.LogIndex, p.LogSize, LeafHash(p.BatchEntry), p.LogPath, logRoot); err != nil {
		return fmt.Errorf("evidence: batch proof, log level: %w", err)
	}
	return nil
}
