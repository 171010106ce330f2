package protocol

// Ed25519 verification: RFC 8032 §5.1.7 as written, one signature at a
// time or many at once, with the same result either way.
//
// Every ACT signature is Ed25519 and a payment verifies at least one, so
// verification is the payment path's largest single cost. ACT's rule is
// the one RFC 8032 states and FIPS 186-5 adopts:
//
//   - A and R must be canonical encodings (y < p, and no "negative zero"),
//     and S < L;
//   - the group equation is the cofactored one, [8][S]B = [8]R + [8][k]A;
//   - in addition, a public key of small order verifies nothing (anyone
//     can make a signature that such a key "verifies", under either
//     equation).
//
// With the cofactored equation, verifying n signatures together (one
// multi-scalar multiplication with random weights) accepts exactly when
// each verified alone would, so concurrent verifications of registered
// keys are batched: about half the CPU time per signature, less again when
// a key signed several of the batch (one term for its A). The cofactorless
// equation (crypto/ed25519's) has no such batch form. The two rules differ
// only on signatures made to differ: a key with a non-canonical encoding
// or of small order, or a signature whose R carries a small-order
// component; an honest signer's signatures verify under both.
//
// curve25519-voi verifies one signature (expanded key or not); a batch's
// equation is computed here on voi's curve arithmetic (verifyEdJobs). The
// tests check all of them against an
// independent computation of the rule (filippo.io/edwards25519) on the
// published edge-case vectors (C2SP ed25519vectors, the "Taming the many
// EdDSAs" cases, Wycheproof) and, in a fuzz target, on any input.

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"hash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// actRules is ACT's Ed25519 verification rule (see the top of this file).
var actRules = &voi.Options{Verify: &voi.VerifyOptions{
	AllowSmallOrderR: true, // RFC 8032 allows it; [8]R = 0 then, and only A's owner can sign
}}

// verifyEd25519 reports whether sig is pub's signature of msg under ACT's
// rule, alone (a key seen once is not worth expanding or batching).
func verifyEd25519(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, actRules)
}

// expandAfter is how many verifications a key makes before it is
// expanded: expansion costs about two verifications' savings, so a key
// seen once (a request's one-off key) is never expanded.
const expandAfter = 2

// edQuarantine is how long a key one of whose signatures failed verifies
// alone, outside batches. A batch with a bad signature in it is verified
// again one signature at a time, so each bad signature would cost its
// batch-mates a verification each; a key (honest or not) that produced
// one can do so at most once a quarantine.
const edQuarantine = time.Minute

// edKey is an Ed25519 key shared by the copies of one PublicKey, which
// expands itself once it has verified expandAfter times.
type edKey struct {
	pub      ed25519.PublicKey
	uses     atomic.Uint32
	once     sync.Once
	ex       *voi.ExpandedPublicKey      // nil until expanded, or if it cannot be
	negA     *curve.ExpandedEdwardsPoint // -A, for batches; set with ex if the rule accepts A
	failedAt atomic.Int64                // Unix ns of its last refused signature; 0: none
}

// verify verifies sig, in a batch with other callers' when the key is
// expanded and not quarantined.
func (k *edKey) verify(msg, sig []byte) bool { return k.check(msg, sig, true) }

// verifyAlone verifies sig on its own: for signatures checked before
// anything has authenticated their sender (an agent's request), which
// are not let into batches.
func (k *edKey) verifyAlone(msg, sig []byte) bool { return k.check(msg, sig, false) }

func (k *edKey) check(msg, sig []byte, batch bool) bool {
	if len(sig) != ed25519.SignatureSize {
		k.failed()
		return false
	}
	var ex *voi.ExpandedPublicKey // read only after once.Do, which wrote it
	if k.uses.Load() >= expandAfter || k.uses.Add(1) >= expandAfter {
		k.once.Do(func() {
			// A key voi cannot expand (it is not a point) verifies
			// nothing, expanded or not.
			k.ex, _ = voi.NewExpandedPublicKey(voi.PublicKey(k.pub))
			if k.ex != nil {
				k.negA = batchKey(k.pub)
			}
		})
		ex = k.ex
	}
	var ok bool
	switch {
	case ex == nil:
		ok = verifyEd25519(k.pub, msg, sig)
	case batch && k.negA != nil && !k.quarantined():
		ok = edBatches.verify(k, msg, sig)
	default:
		edAlone.Add(1)
		ok = voi.VerifyExpandedWithOptions(ex, msg, sig, actRules)
	}
	if !ok {
		k.failed()
	}
	return ok
}

func (k *edKey) failed() { k.failedAt.Store(time.Now().UnixNano()) }

// quarantined reports whether one of k's signatures failed within the
// last edQuarantine.
func (k *edKey) quarantined() bool {
	t := k.failedAt.Load()
	return t != 0 && time.Now().UnixNano()-t < int64(edQuarantine)
}

// maxEdBatch is the most signatures verified together. The time per
// signature falls slowly past a few dozen (18 µs at 64, 16 at 128 by 8
// keys, BenchmarkEd25519Verify), and every signature waits for its whole
// batch: about 2 ms at 128. Up to 190 points voi multiplies with the
// keys' tables (Straus); a batch of 128 by as many keys is past that and
// costs no more per signature (Pippenger).
const maxEdBatch = 128

// edJob is one verification waiting in a batch.
type edJob struct {
	key      *edKey // expanded
	msg, sig []byte
	ok       bool
	wake     chan bool // true: verified, ok is set; false: lead a batch
}

// edBatcher combines concurrent verifications. Callers verify batches:
// the first job their own, the rest whatever was waiting. A caller
// verifies when nobody else is verifying (after yielding once to the
// goroutines ready to run, so that those about to verify join its batch),
// or at once when a full batch is waiting and fewer than GOMAXPROCS
// batches are being verified; otherwise it waits. (Were a caller to
// verify whenever a P is free, no job would ever wait: a caller only
// reaches the batcher while running on a P, and would find one free.) So
// a lone caller never waits and a busy server's batches grow with its
// load. When a batch is done and jobs are waiting, the oldest one's
// caller leads the next batch. Keys whose signatures fail are kept out
// of batches for a while (edQuarantine).
type edBatcher struct {
	mu      sync.Mutex
	leaders int // batches being verified, or handed to a caller that will
	pending []*edJob
}

var (
	edBatches   edBatcher
	edJobs      = sync.Pool{New: func() any { return &edJob{wake: make(chan bool, 1)} }}
	edBatchWork = sync.Pool{New: func() any { return &edBatchScratch{h: sha512.New()} }}

	// edBatched counts the signatures verified in batches of two or more,
	// edBatchCount those batches, edAlone the signatures verified alone.
	edBatched, edBatchCount, edAlone atomic.Int64
)

// Ed25519Stats counts the Ed25519 verifications of registered (expanded)
// keys the process made so far.
type Ed25519Stats struct {
	Alone   int64 // verified alone: nobody else was verifying, a request's signature, or a quarantined key
	Batched int64 // verified in batches of two or more
	Batches int64 // those batches
}

// Ed25519Counts returns the process's Ed25519Stats.
func Ed25519Counts() Ed25519Stats {
	return Ed25519Stats{Alone: edAlone.Load(), Batched: edBatched.Load(), Batches: edBatchCount.Load()}
}

func (b *edBatcher) verify(key *edKey, msg, sig []byte) bool {
	j := edJobs.Get().(*edJob)
	j.key, j.msg, j.sig, j.ok = key, msg, sig, false
	b.mu.Lock()
	if b.leaders == 0 || len(b.pending) >= maxEdBatch-1 && b.leaders < runtime.GOMAXPROCS(0) {
		first := b.leaders == 0
		b.leaders++
		b.mu.Unlock()
		if first {
			// Let the goroutines ready to run go first: those about to
			// verify join this batch instead of each leading one of
			// their own (a signature alone costs twice the CPU). On an
			// idle server nothing else is ready and this returns at once.
			runtime.Gosched()
		}
		b.lead(j)
	} else {
		b.pending = append(b.pending, j)
		b.mu.Unlock()
		if done := <-j.wake; !done {
			b.lead(j)
		}
	}
	ok := j.ok
	*j = edJob{wake: j.wake}
	edJobs.Put(j)
	return ok
}

// lead verifies first and up to maxEdBatch-1 waiting jobs, then hands
// the lead to the oldest job still waiting, if any.
func (b *edBatcher) lead(first *edJob) {
	var buf [maxEdBatch]*edJob
	batch := append(buf[:0], first)
	b.mu.Lock()
	n := min(len(b.pending), maxEdBatch-1)
	batch = append(batch, b.pending[:n]...)
	m := copy(b.pending, b.pending[n:])
	clear(b.pending[m:])
	b.pending = b.pending[:m]
	b.mu.Unlock()

	verifyEdJobs(batch)
	for _, j := range batch[1:] {
		j.wake <- true
	}

	b.handOff()
}

// handOff ends a batch: the oldest waiting job's caller leads the next,
// or there is one verifier fewer.
func (b *edBatcher) handOff() {
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.leaders--
		b.mu.Unlock()
		return
	}
	next := b.pending[0]
	m := copy(b.pending, b.pending[1:])
	b.pending[m] = nil
	b.pending = b.pending[:m]
	b.mu.Unlock()
	next.wake <- false
}

// batchKey returns -A for batches, or nil if the rule refuses A (it is
// not a canonical encoding of a point, or the point is of small order):
// such a key's signatures are verified alone, and refused.
func batchKey(pub ed25519.PublicKey) *curve.ExpandedEdwardsPoint {
	var c curve.CompressedEdwardsY
	var A curve.EdwardsPoint
	if _, err := c.SetBytes(pub); err != nil || !c.IsCanonicalVartime() {
		return nil
	}
	if _, err := A.SetCompressedY(&c); err != nil || A.IsSmallOrder() {
		return nil
	}
	return curve.NewExpandedEdwardsPoint(A.Neg(&A))
}

// edBatchScratch is one batch's working space.
type edBatchScratch struct {
	h      hash.Hash
	rnd    [16 * maxEdBatch]byte
	bCo    scalar.Scalar // B's weight
	R      [maxEdBatch]curve.EdwardsPoint
	zs     [maxEdBatch]scalar.Scalar
	keyCo  [maxEdBatch]scalar.Scalar
	keys   [maxEdBatch]*edKey
	dynS   [maxEdBatch + 1]*scalar.Scalar
	dynP   [maxEdBatch + 1]*curve.EdwardsPoint
	statS  [maxEdBatch]*scalar.Scalar
	statP  [maxEdBatch]*curve.ExpandedEdwardsPoint
	inside [maxEdBatch]*edJob
}

// verifyEdJobs sets each job's ok to what verifying it alone would give.
//
// A batch checks the cofactored equation for all its signatures at once,
// each weighted by a random 128-bit z_i:
//
//	[8]( [-Σ z_i·S_i]B + Σ [z_i]R_i + Σ_A [Σ_{i signed by A} z_i·k_i]A ) = 0
//
// which holds, except with probability about 2^-128, exactly when each
// signature's own equation does. Signatures by the same key share one
// term for A: an agent making many payments at once costs one A term per
// batch, not one per payment. A signature whose R or S cannot be decoded
// under the rule is refused without entering the batch; a batch that
// fails is verified one signature at a time (by voi), to find which.
func verifyEdJobs(jobs []*edJob) {
	for len(jobs) > maxEdBatch { // the batcher makes none this large
		verifyEdJobs(jobs[:maxEdBatch])
		jobs = jobs[maxEdBatch:]
	}
	switch len(jobs) {
	case 0:
		return
	case 1:
		edAlone.Add(1)
		j := jobs[0]
		j.ok = voi.VerifyExpandedWithOptions(j.key.ex, j.msg, j.sig, actRules)
		return
	}
	edBatched.Add(int64(len(jobs)))
	edBatchCount.Add(1)
	w := edBatchWork.Get().(*edBatchScratch)
	defer edBatchWork.Put(w)
	rand.Read(w.rnd[:16*len(jobs)])

	var t, S, k scalar.Scalar
	var digest [sha512.Size]byte
	bCo := w.bCo.Zero()
	in, keys := w.inside[:0], w.keys[:0]
	dynS, dynP := append(w.dynS[:0], bCo), append(w.dynP[:0], curve.ED25519_BASEPOINT_POINT)
	for _, j := range jobs {
		if j.key.negA == nil {
			j.ok = voi.VerifyExpandedWithOptions(j.key.ex, j.msg, j.sig, actRules)
			continue
		}
		n := len(in)
		R := &w.R[n]
		if !unpackEdSignature(j.sig, R, &S) {
			j.ok = false
			continue
		}
		// k = SHA-512(R || A || M) mod L
		w.h.Reset()
		w.h.Write(j.sig[:32])
		w.h.Write(j.key.pub)
		w.h.Write(j.msg)
		k.SetBytesModOrderWide(w.h.Sum(digest[:0]))
		z := &w.zs[n]
		var zb [scalar.ScalarSize]byte
		copy(zb[:16], w.rnd[16*n:])
		z.SetBytesModOrder(zb[:])

		bCo.Add(bCo, t.Mul(z, &S))
		a := 0
		for a < len(keys) && keys[a] != j.key {
			a++
		}
		if a == len(keys) {
			keys = append(keys, j.key)
			w.keyCo[a].Zero()
		}
		w.keyCo[a].Add(&w.keyCo[a], t.Mul(z, &k))
		dynS, dynP = append(dynS, z), append(dynP, R)
		in = append(in, j)
	}
	if len(in) == 0 {
		return
	}
	bCo.Neg(bCo)
	statS, statP := w.statS[:len(keys)], w.statP[:len(keys)]
	for a, key := range keys {
		// The tables are -A's, so the weight is negated too.
		statS[a], statP[a] = w.keyCo[a].Neg(&w.keyCo[a]), key.negA
	}
	var sum curve.EdwardsPoint
	ok := sum.ExpandedMultiscalarMulVartime(statS, statP, dynS, dynP).IsSmallOrder()
	for _, j := range in {
		if ok {
			j.ok = true
		} else {
			j.ok = voi.VerifyExpandedWithOptions(j.key.ex, j.msg, j.sig, actRules)
		}
	}
	clear(w.keys[:len(keys)])
	clear(w.statP[:len(keys)])
	clear(w.inside[:len(in)])
}

// unpackEdSignature decodes sig's R and S as the rule requires: S < L,
// R a canonical encoding of a point (of any order).
func unpackEdSignature(sig []byte, R *curve.EdwardsPoint, S *scalar.Scalar) bool {
	if len(sig) != ed25519.SignatureSize || !scalar.ScMinimalVartime(sig[32:]) {
		return false
	}
	var c curve.CompressedEdwardsY
	if _, err := c.SetBytes(sig[:32]); err != nil || !c.IsCanonicalVartime() {
		return false
	}
	if _, err := R.SetCompressedY(&c); err != nil {
		return false
	}
	_, err := S.SetBytesModOrder(sig[32:])
	return err == nil
}
