package ledgerlog_test

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
)

// TestWitnessPusher: the pusher sends the latest checkpoint to the
// witness and stores its cosignature; a failing witness costs nothing but
// a log line, and the next checkpoint reaches it (with a consistency proof
// from the size it holds).
func TestWitnessPusher(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "db"))
	defer st.Close()
	logSigner, logVKey, err := ledgerlog.LoadOrCreateKey(filepath.Join(dir, "key"), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	logV, _ := note.NewVerifier(logVKey)
	skey, wvkey, err := note.GenerateKey(rand.Reader, "witness.test/w")
	if err != nil {
		t.Fatal(err)
	}
	cosigner, _ := evidence.NewCosigner(skey)
	wv, _ := evidence.NewCosignatureVerifier(wvkey)
	w, err := evidence.NewWitness(cosigner, evidence.WitnessLog{Origin: testOrigin, Verifier: logV})
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(rw, "down", http.StatusServiceUnavailable)
			return
		}
		w.ServeHTTP(rw, r)
	}))
	defer srv.Close()
	if _, err := ledgerlog.NewWitnessPusher(st, []ledgerlog.Witness{{VKey: "garbage", URL: srv.URL}}, ledgerlog.PusherOptions{}); err == nil {
		t.Fatal("NewWitnessPusher accepted a bad vkey")
	}
	p, err := ledgerlog.NewWitnessPusher(st, []ledgerlog.Witness{{VKey: wvkey, URL: srv.URL}, {VKey: wvkey}}, ledgerlog.PusherOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var notified atomic.Int32
	s, err := ledgerlog.NewSigner(st, logSigner, ledgerlog.SignerOptions{Origin: testOrigin, Interval: time.Hour,
		OnCheckpoint: func(size uint64, n []byte) { notified.Add(1); p.Notify(size, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if n := p.PushNow(bg); n != 0 {
		t.Fatalf("PushNow with no checkpoint = %d", n)
	}

	ev, err := ledgerlog.Open(bg, st, ledgerlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := ledger.Open(bg, ledger.Config{Store: st, Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start()
	defer eng.Stop(bg)
	grow := func(ledgerNum uint32) uint64 {
		t.Helper()
		if _, err := eng.CreateAssets(bg, []ledger.Asset{{Ledger: ledgerNum, Code: "USD", Scale: 2}}, nil); err != nil {
			t.Fatal(err)
		}
		size, did, err := s.SignNow(bg)
		if err != nil || !did {
			t.Fatalf("SignNow = %d, %v, %v", size, did, err)
		}
		return size
	}
	cosigned := func(size uint64) int {
		t.Helper()
		sigs, err := st.Cosignatures(bg, size)
		if err != nil {
			t.Fatal(err)
		}
		return len(sigs)
	}

	size1 := grow(1)
	if notified.Load() != 1 {
		t.Fatalf("OnCheckpoint called %d times", notified.Load())
	}
	down.Store(true)
	if n := p.PushNow(bg); n != 0 || cosigned(size1) != 0 {
		t.Fatalf("PushNow to a down witness = %d", n)
	}
	down.Store(false)
	if n := p.PushNow(bg); n != 1 || cosigned(size1) != 1 {
		t.Fatalf("PushNow = %d, stored %d", n, cosigned(size1))
	}
	// The next checkpoint goes through the running loop, with a proof from size1.
	p.Start(bg)
	defer p.Stop()
	size2 := grow(2)
	deadline := time.Now().Add(5 * time.Second)
	for cosigned(size2) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no cosignature of the second checkpoint within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, signed, _ := st.LatestCheckpoint(bg)
	sigs, _ := st.Cosignatures(bg, size2)
	full, err := evidence.AttachCosignatures(signed, sigs)
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := evidence.VerifyCosignatures(full, testOrigin, logV, []note.Verifier{wv}, 1); err != nil || c.Size != size2 {
		t.Fatalf("cosigned checkpoint %+v: %v", c, err)
	}
	if c, _ := w.Latest(testOrigin); c.Size != size2 {
		t.Fatalf("witness holds %d, want %d", c.Size, size2)
	}
	p.Stop()
	p.Stop()
}
