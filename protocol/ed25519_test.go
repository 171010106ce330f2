package protocol

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// edCase is one verification: a key, a message and a signature.
type edCase struct {
	name          string
	pub, msg, sig []byte
	want          string // "valid", "invalid" or "" (no stated result)
}

func readGzipJSON(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ed25519", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(z).Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edVectors loads the published edge-case vectors: C2SP ed25519vectors
// (every combination of small-order and non-canonical A and R), the 12
// cases of "Taming the many EdDSAs" and Wycheproof's EdDSA tests.
func edVectors(t testing.TB) []edCase {
	var out []edCase
	var c2sp []struct{ A, R, S, M string }
	readGzipJSON(t, "ed25519vectors.json.gz", &c2sp)
	for _, v := range c2sp {
		out = append(out, edCase{name: "c2sp", pub: unhex(t, v.A),
			msg: []byte(v.M), sig: append(unhex(t, v.R), unhex(t, v.S)...)})
	}
	var taming []struct {
		Message string `json:"message"`
		Pub     string `json:"pub_key"`
		Sig     string `json:"signature"`
	}
	readGzipJSON(t, "speccheck_cases.json.gz", &taming)
	for _, v := range taming {
		out = append(out, edCase{name: "taming", pub: unhex(t, v.Pub), msg: unhex(t, v.Message), sig: unhex(t, v.Sig)})
	}
	var wp struct {
		TestGroups []struct {
			Key   struct{ PK string } `json:"key"`
			Tests []struct {
				ID     int    `json:"tcId"`
				Msg    string `json:"msg"`
				Sig    string `json:"sig"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readGzipJSON(t, "eddsa_test.json.gz", &wp)
	for _, g := range wp.TestGroups {
		for _, v := range g.Tests {
			out = append(out, edCase{name: "wycheproof", pub: unhex(t, g.Key.PK), msg: unhex(t, v.Msg), sig: unhex(t, v.Sig), want: v.Result})
		}
	}
	return out
}

// refEd25519 is ACT's Ed25519 rule computed independently of the
// verifier (with filippo.io/edwards25519): RFC 8032 §5.1.7's decoding
// (canonical A and R, S < L), its cofactored group equation, and no key
// of small order.
func refEd25519(pub, msg, sig []byte) bool {
	if len(pub) != 32 || len(sig) != 64 {
		return false
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil || !bytes.Equal(A.Bytes(), pub) {
		return false
	}
	R, err := new(edwards25519.Point).SetBytes(sig[:32])
	if err != nil || !bytes.Equal(R.Bytes(), sig[:32]) {
		return false
	}
	S, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	id := edwards25519.NewIdentityPoint()
	if new(edwards25519.Point).MultByCofactor(A).Equal(id) == 1 {
		return false // small order
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	h.Write(msg)
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	// [S]B - [k]A - R, times the cofactor, must be the identity.
	d := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(new(edwards25519.Scalar).Negate(k), A, S)
	d.Subtract(d, R)
	return d.MultByCofactor(d).Equal(id) == 1
}

// TestEd25519Rule checks that ACT verification accepts exactly what the
// rule accepts on every published edge case: alone, with an expanded key,
// and in batches with other signatures; that the vectors exercise both
// results; that Wycheproof's verdicts agree (its cases are all canonical
// and free of small-order components); and that the rule parts from
// crypto/ed25519 only on the vectors made to (small-order or
// non-canonical keys, non-canonical R, small-order components of R).
func TestEd25519Rule(t *testing.T) {
	cases := edVectors(t)
	if len(cases) < 700 {
		t.Fatalf("%d vectors, want the published sets", len(cases))
	}
	var accepted, refused, differ int
	var expanded []*edJob
	for i, c := range cases {
		want := refEd25519(c.pub, c.msg, c.sig)
		if got := verifyEd25519(c.pub, c.msg, c.sig); got != want {
			t.Errorf("%s #%d: verifyEd25519 = %v, the rule says %v", c.name, i, got, want)
		}
		if len(c.pub) == ed25519.PublicKeySize {
			k := &edKey{pub: c.pub}
			for n := range expandAfter + 2 { // unexpanded, then expanded
				if got := k.verify(c.msg, c.sig); got != want {
					t.Errorf("%s #%d: key verification %d = %v, the rule says %v", c.name, i, n, got, want)
				}
			}
			if k.ex != nil && len(c.sig) == ed25519.SignatureSize {
				expanded = append(expanded, &edJob{key: k, msg: c.msg, sig: c.sig, ok: want})
			}
		}
		if c.want == "valid" && !want || c.want == "invalid" && want {
			t.Errorf("%s #%d: the rule says %v, the vector says %s", c.name, i, want, c.want)
		}
		std := len(c.pub) == ed25519.PublicKeySize && ed25519.Verify(ed25519.PublicKey(c.pub), c.msg, c.sig)
		if std != want {
			differ++
			if c.name == "wycheproof" {
				t.Errorf("%s #%d: crypto/ed25519 = %v, the rule %v", c.name, i, std, want)
			}
		}
		if want {
			accepted++
		} else {
			refused++
		}
	}
	if accepted < 100 || refused < 100 {
		t.Fatalf("accepted %d, refused %d: the vectors should exercise both", accepted, refused)
	}
	// Batches of every size up to the largest, each a run of the
	// vectors with expandable keys: valid ones alone, then mixed.
	var valid []*edJob
	for _, j := range expanded {
		if j.ok {
			valid = append(valid, j)
		}
	}
	for _, set := range [][]*edJob{valid, expanded} {
		for size := 1; size <= maxEdBatch; size += 7 {
			for at := 0; at+size <= len(set); at += size * 3 {
				jobs := make([]*edJob, size)
				for i, j := range set[at : at+size] {
					jobs[i] = &edJob{key: j.key, msg: j.msg, sig: j.sig}
				}
				verifyEdJobs(jobs)
				for i, j := range jobs {
					if j.ok != set[at+i].ok {
						t.Fatalf("batch of %d at %d, job %d: %v, the rule says %v", size, at, i, j.ok, set[at+i].ok)
					}
				}
			}
		}
	}
	t.Logf("%d vectors: %d accepted, %d refused; %d judged otherwise by crypto/ed25519; %d with expandable keys, %d valid",
		len(cases), accepted, refused, differ, len(expanded), len(valid))
}

// TestEd25519Batched verifies from many goroutines at once: first with
// every verifier busy until all have queued (so they are verified in
// batches, whose leads are handed on), then freely. Each verification gets
// its own result: honest signatures accepted (as crypto/ed25519 accepts
// them), altered ones and other keys' refused.
func TestEd25519Batched(t *testing.T) {
	var keys []PublicKey
	var privs []*Ed25519PrivateKey
	for i := range 4 {
		k, err := NewEd25519PrivateKey(bytes.Repeat([]byte{byte(i + 1)}, 32))
		if err != nil {
			t.Fatal(err)
		}
		privs, keys = append(privs, k), append(keys, k.PublicKey())
	}
	const goroutines, each = 150, 20
	type check struct {
		key      PublicKey
		msg, sig []byte
		want     bool
	}
	checks := make([][]check, goroutines)
	for g := range checks {
		for i := range each {
			k := (g + i) % len(keys)
			msg := fmt.Appendf(nil, "payment %d/%d", g, i)
			sig, _ := privs[k].SignMessage(msg)
			if !ed25519.Verify(keys[k].CryptoPublicKey().(ed25519.PublicKey), msg, sig) {
				t.Fatal("crypto/ed25519 refused an honest signature")
			}
			c := check{keys[k], msg, sig, true}
			switch i % 4 {
			case 1:
				c.sig = bytes.Clone(sig)
				c.sig[(g+i)%64] ^= 1 << (g % 8)
				c.want = false
			case 2:
				c.key, c.want = keys[(k+1)%len(keys)], false
			}
			checks[g] = append(checks[g], c)
		}
	}
	for i, k := range keys { // expanded, so that they batch
		sig, _ := privs[i].SignMessage([]byte("x"))
		for range expandAfter {
			if !k.ed.verify([]byte("x"), sig) {
				t.Fatal("own signature refused")
			}
		}
	}
	var bad atomic.Int64
	run := func(i int) {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				c := checks[g][i]
				if c.key.Verify(AlgEdDSA, c.msg, c.sig) != c.want {
					bad.Add(1)
				}
			})
		}
		wg.Wait()
	}

	// Every verifier busy: all the first verifications queue, then the
	// busy verifiers hand their leads on.
	batched := edBatched.Load()
	procs := runtime.GOMAXPROCS(0)
	edBatches.mu.Lock()
	edBatches.leaders += procs
	edBatches.mu.Unlock()
	done := make(chan struct{})
	go func() { run(0); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		edBatches.mu.Lock()
		n := len(edBatches.pending)
		edBatches.mu.Unlock()
		if n == goroutines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d verifications queued", n, goroutines)
		}
		time.Sleep(time.Millisecond)
	}
	for range procs {
		edBatches.handOff()
	}
	<-done
	// A lead handed to a job whose batch-mates another leader took
	// verifies it alone: at most one such job per verifier.
	if got := edBatched.Load() - batched; got < int64(goroutines-procs) {
		t.Errorf("%d of %d queued signatures verified in batches", got, goroutines)
	}

	for i := 1; i < each; i++ {
		run(i)
	}
	if bad.Load() != 0 {
		t.Fatalf("%d verifications gave the wrong result", bad.Load())
	}
	edBatches.mu.Lock()
	defer edBatches.mu.Unlock()
	if edBatches.leaders != 0 || len(edBatches.pending) != 0 {
		t.Fatalf("after the last verification: %d leaders, %d waiting", edBatches.leaders, len(edBatches.pending))
	}
}

// TestEd25519BatchSharedKeys checks batches whose signatures share keys
// (one A term per key) against the rule: every signature valid; one bad
// signature of each kind among good ones; two bad signatures by one key
// whose errors cancel out when summed unweighted (S+δ and S−δ), which only
// the random weights catch; and a key the rule refuses in the same batch.
func TestEd25519BatchSharedKeys(t *testing.T) {
	type signer struct {
		priv ed25519.PrivateKey
		key  *edKey
	}
	var signers []signer
	for range 3 {
		a := newSigAgent(t)
		k := &edKey{pub: a.pub}
		k.uses.Store(expandAfter)
		if !k.verify([]byte("x"), ed25519.Sign(a.priv, []byte("x"))) || k.negA == nil {
			t.Fatal("the key did not expand for batches")
		}
		signers = append(signers, signer{a.priv, k})
	}
	// The identity point: canonical, of small order, refused as a key.
	weak := &edKey{pub: append([]byte{1}, make([]byte, 31)...)}
	weak.uses.Store(expandAfter)
	weak.verify([]byte("x"), make([]byte, 64))
	if weak.ex == nil || weak.negA != nil {
		t.Fatalf("small-order key: expanded %v, batch key %v", weak.ex != nil, weak.negA != nil)
	}

	good := func(n int) []*edJob {
		jobs := make([]*edJob, n)
		for i := range jobs {
			s := signers[i%len(signers)]
			msg := fmt.Appendf(nil, "payment %d", i)
			jobs[i] = &edJob{key: s.key, msg: msg, sig: ed25519.Sign(s.priv, msg)}
		}
		return jobs
	}
	shift := func(sig []byte, d *edwards25519.Scalar) []byte {
		S, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(sig[:32]), S.Add(S, d).Bytes()...)
	}
	delta, _ := new(edwards25519.Scalar).SetCanonicalBytes(append([]byte{7}, make([]byte, 31)...))
	minus := new(edwards25519.Scalar).Negate(delta)

	type batch struct {
		name string
		edit func([]*edJob)
	}
	batches := []batch{
		{"all valid", func([]*edJob) {}},
		{"a flipped bit", func(j []*edJob) { j[5].sig = bytes.Clone(j[5].sig); j[5].sig[40] ^= 4 }},
		{"another message", func(j []*edJob) { j[9].msg = []byte("other") }},
		{"another key's signature", func(j []*edJob) { j[3].key = j[4].key }},
		{"S not below L", func(j []*edJob) {
			S := new(big.Int).SetBytes(reverse(j[7].sig[32:]))
			S.Add(S, edOrder)
			j[7].sig = append(bytes.Clone(j[7].sig[:32]), reverse(S.FillBytes(make([]byte, 32)))...)
		}},
		{"R not canonical", func(j []*edJob) {
			// y = p+1 encodes the same point as y = 1, non-canonically.
			j[2].sig = append(bytes.Clone(j[2].sig), 0)[:64]
			copy(j[2].sig, reverse(new(big.Int).Add(edP, big.NewInt(1)).FillBytes(make([]byte, 32))))
		}},
		{"errors that cancel unweighted", func(j []*edJob) {
			// Same key (0 and 3), so their A terms share one weight sum.
			j[0].sig, j[3].sig = shift(j[0].sig, delta), shift(j[3].sig, minus)
		}},
		{"a refused key", func(j []*edJob) { j[11].key = weak }},
	}
	for _, n := range []int{12, 33, maxEdBatch} {
		for _, b := range batches {
			jobs := good(n)
			b.edit(jobs)
			verifyEdJobs(jobs)
			refused := 0
			for i, j := range jobs {
				want := refEd25519(j.key.pub, j.msg, j.sig)
				if j.ok != want {
					t.Errorf("%d signatures, %s: job %d = %v, the rule says %v", n, b.name, i, j.ok, want)
				}
				if !want {
					refused++
				}
			}
			if (refused == 0) != (b.name == "all valid") {
				t.Errorf("%d signatures, %s: %d refused", n, b.name, refused)
			}
		}
	}
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

var (
	edOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	edP        = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
)

// TestEd25519FirstUse: goroutines verifying with a key none has used,
// all at once, while it expands: every answer right (and, under the race
// detector, no race on the expansion).
func TestEd25519FirstUse(t *testing.T) {
	priv, err := NewEd25519PrivateKey(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("first use")
	sig, _ := priv.SignMessage(msg)
	for round := range 3 {
		k := &edKey{pub: priv.PublicKey().ed.pub}
		var wg sync.WaitGroup
		var wrong atomic.Int64
		for g := range 32 {
			wg.Go(func() {
				bad := g%4 == 3
				s := sig
				if bad {
					s = bytes.Clone(sig)
					s[g%32] ^= 1
				}
				if k.verify(msg, s) == bad {
					wrong.Add(1)
				}
			})
		}
		wg.Wait()
		if wrong.Load() != 0 || k.ex == nil {
			t.Fatalf("round %d: %d wrong answers, expanded %v", round, wrong.Load(), k.ex != nil)
		}
	}
}

// TestEd25519Quarantine: a key with a refused signature verifies alone
// for a while: with every verifier busy, its next verification does not
// wait to be batched, while another key's does (until a verifier hands
// on); an agent's request signature is never batched.
func TestEd25519Quarantine(t *testing.T) {
	keys := make([]*edKey, 2)
	sigs := make([][]byte, 2)
	msg := []byte("payment")
	for i := range keys {
		priv, err := NewEd25519PrivateKey(bytes.Repeat([]byte{byte(9 + i)}, 32))
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = priv.PublicKey().ed
		sigs[i], _ = priv.SignMessage(msg)
		for range expandAfter {
			if !keys[i].verify(msg, sigs[i]) {
				t.Fatal("own signature refused")
			}
		}
	}
	bad, good := keys[0], keys[1]
	if bad.verify(msg, sigs[1]) || !bad.quarantined() || good.quarantined() {
		t.Fatalf("after a refused signature: quarantined %v, the other key %v", bad.quarantined(), good.quarantined())
	}
	procs := runtime.GOMAXPROCS(0)
	edBatches.mu.Lock()
	edBatches.leaders += procs
	edBatches.mu.Unlock()
	released := false
	release := func() {
		if !released {
			released = true
			for range procs {
				edBatches.handOff()
			}
		}
	}
	defer release()
	if !bad.verify(msg, sigs[0]) {
		t.Fatal("the quarantined key's own signature refused")
	}
	if !good.verifyAlone(msg, sigs[1]) {
		t.Fatal("a request signature refused")
	}
	queued := make(chan bool)
	go func() { queued <- good.verify(msg, sigs[1]) }()
	select {
	case <-queued:
		t.Fatal("a key in good standing did not wait for the busy verifiers")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if !<-queued {
		t.Fatal("the batched signature refused")
	}
	bad.failedAt.Store(time.Now().Add(-edQuarantine).UnixNano())
	if bad.quarantined() {
		t.Fatal("still quarantined after edQuarantine")
	}
}

// TestPublicKeyVerifiesAfterExpansion checks a long-lived key keeps
// verifying its own signatures and refusing others' once expanded.
func TestPublicKeyVerifiesAfterExpansion(t *testing.T) {
	k, err := NewEd25519PrivateKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewEd25519PrivateKey(append(make([]byte, 31), 1))
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey()
	copyOfPub := pub // copies share the expansion
	for i := range 5 {
		msg := []byte{byte(i)}
		sig, err := k.SignMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		osig, _ := other.SignMessage(msg)
		if !pub.Verify(AlgEdDSA, msg, sig) || !copyOfPub.Verify(AlgEdDSA, msg, sig) {
			t.Fatalf("use %d: own signature refused", i)
		}
		if pub.Verify(AlgEdDSA, msg, osig) || pub.Verify(AlgEdDSA, append(msg, 0), sig) {
			t.Fatalf("use %d: another key's signature or another message accepted", i)
		}
	}
	if pub.ed.ex == nil {
		t.Fatal("a key used five times was not expanded")
	}
}

// FuzzEd25519Rule compares ACT verification with the rule computed
// independently (refEd25519) on any key, message and signature, alone,
// expanded and in a batch with an honest signature.
func FuzzEd25519Rule(f *testing.F) {
	for _, c := range edVectors(f) {
		if len(c.pub) == 32 && len(c.sig) == 64 && len(c.msg) < 256 {
			f.Add(c.pub, c.msg, c.sig)
		}
	}
	honest, err := NewEd25519PrivateKey(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	hmsg := []byte("honest")
	hsig, _ := honest.SignMessage(hmsg)
	hkey := honest.PublicKey().ed
	hkey.uses.Store(expandAfter)
	if !hkey.verify(hmsg, hsig) {
		f.Fatal("honest signature refused")
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		want := refEd25519(pub, msg, sig)
		if got := verifyEd25519(pub, msg, sig); got != want {
			t.Fatalf("verifyEd25519 = %v, the rule says %v", got, want)
		}
		if len(pub) != ed25519.PublicKeySize {
			return
		}
		k := &edKey{pub: pub}
		k.uses.Store(expandAfter)
		if got := k.verify(msg, sig); got != want {
			t.Fatalf("expanded key = %v, the rule says %v", got, want)
		}
		if k.ex == nil || len(sig) != ed25519.SignatureSize {
			return
		}
		jobs := []*edJob{{key: hkey, msg: hmsg, sig: hsig}, {key: k, msg: msg, sig: sig}}
		verifyEdJobs(jobs)
		if !jobs[0].ok || jobs[1].ok != want {
			t.Fatalf("batch = %v, %v; want true, %v", jobs[0].ok, jobs[1].ok, want)
		}
		// Twice by the same key, the honest one between: one A term each.
		jobs = []*edJob{{key: k, msg: msg, sig: sig}, {key: hkey, msg: hmsg, sig: hsig}, {key: k, msg: msg, sig: sig}, {key: hkey, msg: hmsg, sig: hsig}}
		verifyEdJobs(jobs)
		for i, j := range jobs {
			if j.ok != (want || j.key == hkey) {
				t.Fatalf("shared-key batch, job %d = %v; the rule says %v", i, j.ok, want || j.key == hkey)
			}
		}
	})
}
