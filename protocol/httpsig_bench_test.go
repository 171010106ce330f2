package protocol

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of agent request signing, reporting µs/op and, for
// verification, verifies/s. The single-goroutine figures are per core;
// BenchmarkVerifyRequestParallel uses every GOMAXPROCS core.
//
//	go test ./protocol -run '^$' -bench 'SignRequest|VerifyRequest|Ed25519Verify' -benchmem

func reportSigMicros(b *testing.B) float64 {
	us := float64(b.Elapsed().Microseconds()) / float64(b.N)
	b.ReportMetric(us, "µs/op")
	return us
}

func BenchmarkSignRequest(b *testing.B) {
	a := newSigAgent(b)
	r := sigClientRequest(b, sigTestBody)
	opts := SignOptions{Created: sigTestNow}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := SignRequest(r, sigTestBody, a.priv, opts); err != nil {
			b.Fatal(err)
		}
	}
	reportSigMicros(b)
}

// sigSignedBatch returns n signed, received requests (each with its own nonce)
// and their bodies.
func sigSignedBatch(b *testing.B, a sigAgent, n int) ([]*http.Request, [][]byte) {
	rs, bodies := make([]*http.Request, n), make([][]byte, n)
	for i := range n {
		rs[i], bodies[i] = sigSignedReceived(b, a, sigTestBody, SignOptions{Created: sigTestNow})
	}
	return rs, bodies
}

// BenchmarkVerifyRequest verifies a signed POST with a 72-byte JSON body:
// field parsing, key resolution (a map), Content-Digest, signature base,
// Ed25519 verification and a MemoryNonceCache insert.
func BenchmarkVerifyRequest(b *testing.B) {
	a := newSigAgent(b)
	rs, bodies := sigSignedBatch(b, a, b.N)
	opts := sigVerifyOpts(newSigKeys(a))
	opts.Nonces = NewMemoryNonceCache(b.N+1, func() time.Time { return sigTestNow })
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := VerifyRequest(rs[i], bodies[i], opts); err != nil {
			b.Fatal(err)
		}
	}
	us := reportSigMicros(b)
	b.ReportMetric(1e6/us, "verifies/s")
}

func BenchmarkVerifyRequestParallel(b *testing.B) {
	a := newSigAgent(b)
	rs, bodies := sigSignedBatch(b, a, b.N)
	opts := sigVerifyOpts(newSigKeys(a))
	opts.Nonces = NewMemoryNonceCache(b.N+1, func() time.Time { return sigTestNow })
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := VerifyRequest(rs[i], bodies[i], opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
	us := reportSigMicros(b)
	b.ReportMetric(1e6/us, "verifies/s")
}

// BenchmarkEd25519Verify is the floor: the bare signature check over a
// signature base of the size VerifyRequest builds, with crypto/ed25519
// (the baseline) and with ACT's verification (the same rules), unexpanded
// and with a registered key's expanded form.
func BenchmarkEd25519Verify(b *testing.B) {
	a := newSigAgent(b)
	msg := bytes.Repeat([]byte("x"), 420)
	sig := ed25519.Sign(a.priv, msg)
	key := &edKey{pub: a.pub}
	for _, c := range []struct {
		name   string
		verify func() bool
	}{
		{"crypto-ed25519", func() bool { return ed25519.Verify(a.pub, msg, sig) }},
		{"act", func() bool { return verifyEd25519(a.pub, msg, sig) }},
		{"act-expanded", func() bool { return key.verify(msg, sig) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !c.verify() {
					b.Fatal("verify failed")
				}
			}
			us := reportSigMicros(b)
			b.ReportMetric(1e6/us, "verifies/s")
		})
	}
	// Batches of concurrent verifications (verifyEdJobs, as the batcher
	// runs them): the time per signature, with the batch's signatures made
	// by one key, by 8, or each by its own.
	key.uses.Store(expandAfter)
	if !key.verify(msg, sig) || key.ex == nil {
		b.Fatal("the key did not verify expanded")
	}
	type signed struct {
		key *edKey
		sig []byte
	}
	signers := []signed{{key, sig}}
	for range 127 {
		o := newSigAgent(b)
		k := &edKey{pub: o.pub}
		k.uses.Store(expandAfter)
		s := ed25519.Sign(o.priv, msg)
		if !k.verify(msg, s) || k.negA == nil {
			b.Fatal("a key did not verify expanded")
		}
		signers = append(signers, signed{k, s})
	}
	for _, n := range []int{2, 8, 32, 64, 128} {
		for _, keys := range []int{1, 8, n} {
			if keys > n || keys == 8 && n == 8 {
				continue
			}
			jobs := make([]*edJob, n)
			for i := range jobs {
				s := signers[i%keys]
				jobs[i] = &edJob{key: s.key, msg: msg, sig: s.sig}
			}
			b.Run(fmt.Sprintf("act-batch-%d/keys=%d", n, keys), func(b *testing.B) {
				for b.Loop() {
					verifyEdJobs(jobs)
					for _, j := range jobs {
						if !j.ok {
							b.Fatal("verify failed")
						}
					}
				}
				us := float64(b.Elapsed().Nanoseconds()) / float64(b.N*n) / 1e3
				b.ReportMetric(us, "µs/sig")
				b.ReportMetric(1e6/us, "verifies/s")
			})
		}
	}
}

// BenchmarkSFParseSignatureInput parses a typical Signature-Input field.
func BenchmarkSFParseSignatureInput(b *testing.B) {
	in := `sig1=("@method" "@target-uri" "content-type" "content-digest" "idempotency-key");created=1772366400;expires=1772366700;nonce="AbCdEfGhIjKlMnOpQrStUv";keyid="kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";alg="ed25519";tag="agentpay"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sfParseDictionary(in); err != nil {
			b.Fatal(err)
		}
	}
}
