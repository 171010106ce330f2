package ledgerlog_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
)

const testOrigin = "signer.test/log"

func TestSignerSignsCommittedSizesOnly(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "db"))
	defer st.Close()
	signer, vkey, err := ledgerlog.LoadOrCreateKey(filepath.Join(dir, "key"), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	again, vkey2, err := ledgerlog.LoadOrCreateKey(filepath.Join(dir, "key"), testOrigin)
	if err != nil || vkey2 != vkey || again.KeyHash() != signer.KeyHash() {
		t.Fatalf("reloaded key differs: %v", err)
	}
	if _, _, err := ledgerlog.LoadOrCreateKey(filepath.Join(dir, "key"), "other/log"); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("key for another origin: %v", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledgerlog.NewSigner(st, signer, ledgerlog.SignerOptions{Origin: "other/log"}); err == nil {
		t.Fatal("NewSigner accepted a key named for another origin")
	}
	s, err := ledgerlog.NewSigner(st, signer, ledgerlog.SignerOptions{Origin: testOrigin, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Empty log: size 0 is signed once.
	if size, did, err := s.SignNow(bg); err != nil || !did || size != 0 {
		t.Fatalf("SignNow on empty log = %d, %v, %v", size, did, err)
	}
	if _, did, err := s.SignNow(bg); err != nil || did {
		t.Fatalf("second SignNow = %v, %v; want nothing to sign", did, err)
	}
	// Grow the log through a ledger engine on the store.
	ev, err := ledgerlog.Open(bg, st, ledgerlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := ledger.Open(bg, ledger.Config{Store: st, Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start()
	for i := range 5 {
		if _, err := eng.CreateAssets(bg, []ledger.Asset{{Ledger: uint32(i + 1), Code: "USD", Scale: 2}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.Stop(bg); err != nil {
		t.Fatal(err)
	}
	committed, err := st.EvidenceSize(bg)
	if err != nil || committed == 0 {
		t.Fatalf("evidence size %d, %v", committed, err)
	}
	s.Start(bg)
	s.Start(bg) // idempotent
	s.Stop()
	s.Stop()
	size, signed, err := st.LatestCheckpoint(bg)
	if err != nil || size != committed {
		t.Fatalf("latest checkpoint %d, %v; want the committed size %d", size, err, committed)
	}
	c, _, err := evidence.OpenCheckpoint(signed, testOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != committed || c.Root != ev.Evidence().Root() {
		t.Fatalf("checkpoint %d %v; log %d %v", c.Size, c.Root, committed, ev.Evidence().Root())
	}
	s.Start(bg) // after Stop: nothing
	if _, did, err := s.SignNow(bg); err != nil || did {
		t.Fatalf("SignNow with nothing new = %v, %v", did, err)
	}
}

// TestLoadedKeySignsAsNote: the loaded log key signs notes byte for byte
// as golang.org/x/mod/sumdb/note's own signer of the same key does, and
// its signatures verify with the key's verifier.
func TestLoadedKeySignsAsNote(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	signer, vkey, err := ledgerlog.LoadOrCreateKey(path, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	skey, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		n := &note.Note{Text: fmt.Sprintf("agentpay.dev/receipt/v1\n%s\n%d\n%s\n", testOrigin, i, strings.Repeat("x", i*7))}
		got, err := note.Sign(n, signer)
		if err != nil {
			t.Fatal(err)
		}
		want, err := note.Sign(n, plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("note %d:\n%s\nnote's own signer:\n%s", i, got, want)
		}
		if _, err := note.Open(got, note.VerifierList(v)); err != nil {
			t.Fatalf("note %d does not verify: %v", i, err)
		}
	}
}
