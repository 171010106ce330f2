package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
)

// runCLI runs the agentpay command line and returns its stdout.
func runCLI(t *testing.T, args ...string) []byte {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("agentpay %s: %v", strings.Join(args, " "), err)
	}
	return out.Bytes()
}

func postText(t *testing.T, url string, body []byte) (int, protocol.Error) {
	t.Helper()
	res, err := http.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e protocol.Error
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &e)
	return res.StatusCode, e
}

// TestWitnessEndToEnd: a node configured with an in-process tlog-witness
// sends it every new checkpoint and serves the checkpoint with its
// cosignature; a push-only witness posts its own; unknown and tampered
// cosignatures are refused; older checkpoints are served by size; the
// export lists every checkpoint in order, from the server and from the
// data directory.
func TestWitnessEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	const origin = "witness-e2e.agentpay/log"
	// The log key exists before the node starts, so the witness knows it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, logVKey, err := ledgerlog.LoadOrCreateKey(filepath.Join(dir, logKeyFile), origin)
	if err != nil {
		t.Fatal(err)
	}
	logV, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(name string) (note.Signer, note.Verifier, string) {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := evidence.NewCosigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		v, err := evidence.NewCosignatureVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		return s, v, vkey
	}
	w1Signer, w1V, w1VKey := newKey("witness1.test/w")
	w2Signer, w2V, w2VKey := newKey("witness2.test/w")
	strangerSigner, _, _ := newKey("stranger.test/w")
	witness, err := evidence.NewWitness(w1Signer, evidence.WitnessLog{Origin: origin, Verifier: logV})
	if err != nil {
		t.Fatal(err)
	}
	ws := httptest.NewServer(witness)
	defer ws.Close()

	if newServeCommand().Flags().Lookup("witness") == nil {
		t.Fatal("serve has no --witness flag")
	}
	var witnesses []ledgerlog.Witness
	wf := &witnessFlag{ws: &witnesses}
	for _, w := range []string{"witness1.test/w=" + w1VKey + "@" + ws.URL, "witness2.test/w=" + w2VKey} {
		if err := wf.Set(w); err != nil {
			t.Fatalf("--witness %s: %v", w, err)
		}
	}
	if len(witnesses) != 2 || witnesses[0].URL != ws.URL || witnesses[1].URL != "" || witnesses[1].VKey != w2VKey {
		t.Fatalf("parsed witnesses %+v", witnesses)
	}
	for _, bad := range []string{"other.name=" + w1VKey, "witness1.test/w", "witness1.test/w=garbage", "witness1.test/w=" + w1VKey + "@http://"} {
		if err := wf.Set(bad); err == nil {
			t.Errorf("--witness %q accepted", bad)
		}
	}

	cfg := nodeConfig{DataDir: dir, Addr: "127.0.0.1:0", LogOrigin: origin, CheckpointInterval: 20 * time.Millisecond,
		Witnesses: witnesses}
	n, err := startNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { n.close(ctx) }()

	base := []string{"--url", n.URL(), "--api-key", n.AdminSecret}
	runCLI(t, append(base, "assets", "create", "--ledger", "1", "--code", "USD")...)
	var a, b protocol.Account
	json.Unmarshal(runCLI(t, append(base, "accounts", "create", "--ledger", "1", "--code", "1")...), &a)
	json.Unmarshal(runCLI(t, append(base, "accounts", "create", "--ledger", "1", "--code", "1")...), &b)
	for range 3 {
		runCLI(t, append(base, "transfers", "create", "--debit", a.ID, "--credit", b.ID, "--amount", "5", "--ledger", "1", "--code", "1")...)
	}
	size, err := n.store.EvidenceSize(ctx)
	if err != nil || size == 0 {
		t.Fatalf("evidence size %d, %v", size, err)
	}

	// Within a few intervals the checkpoint of the full log carries w1's
	// cosignature, pushed by the node.
	var latest []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		latest = getText(t, n.URL()+"/v1/log/checkpoint")
		c, _, err := evidence.VerifyCosignatures(latest, origin, logV, []note.Verifier{w1V}, 1)
		if err == nil && c.Size == size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cosigned checkpoint of size %d within 10s: %v\n%s", size, err, latest)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, ok := witness.Latest(origin); !ok || c.Size != size {
		t.Fatalf("witness holds %+v, %v", c, ok)
	}

	// The push-only witness posts its cosignature.
	text, _, err := evidence.SplitNote(latest)
	if err != nil {
		t.Fatal(err)
	}
	cosign := func(s note.Signer) []byte {
		c, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := evidence.AddCosignatures(latest, c)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if code, e := postText(t, n.URL()+"/v1/log/cosignatures", cosign(w2Signer)); code != http.StatusOK {
		t.Fatalf("posting w2's cosignature: %d %+v", code, e)
	}
	served := getText(t, n.URL()+"/v1/log/checkpoint")
	if _, names, err := evidence.VerifyCosignatures(served, origin, logV, []note.Verifier{w1V, w2V}, 2); err != nil {
		t.Fatalf("checkpoint with both cosignatures: %v %v\n%s", names, err, served)
	}
	before, err := n.store.Cosignatures(ctx, size)
	if err != nil || len(before) != 2 {
		t.Fatalf("stored cosignatures %q, %v", before, err)
	}
	// An unknown witness is refused, nothing stored.
	if code, e := postText(t, n.URL()+"/v1/log/cosignatures", cosign(strangerSigner)); code != http.StatusForbidden || e.Code != "unknown_witness" {
		t.Fatalf("unknown witness: %d %+v", code, e)
	}
	// A tampered cosignature is refused.
	good := string(cosign(w2Signer))
	i := strings.LastIndex(good, "— witness2.test/w ") + len("— witness2.test/w ") + 20
	flip := byte('A')
	if good[i] == 'A' {
		flip = 'B'
	}
	tampered := good[:i] + string(flip) + good[i+1:]
	if code, e := postText(t, n.URL()+"/v1/log/cosignatures", []byte(tampered)); code != http.StatusBadRequest || e.Code != "invalid_cosignature" {
		t.Fatalf("tampered cosignature: %d %+v", code, e)
	}
	after, _ := n.store.Cosignatures(ctx, size)
	if len(after) != 2 || !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
		t.Fatalf("stored cosignatures changed by refused posts: %q", after)
	}

	// Older checkpoints by size, verifiable; the export lists them all.
	var list protocol.LogCheckpointList
	if err := getJSON(ctx, n.URL()+"/v1/log/checkpoints", &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Data) == 0 || list.Data[len(list.Data)-1].Size != size {
		t.Fatalf("checkpoints %+v", list)
	}
	var notes []string
	for i, cp := range list.Data {
		if i > 0 && cp.Size <= list.Data[i-1].Size {
			t.Fatalf("checkpoints out of order: %+v", list)
		}
		one := getText(t, n.URL()+"/v1/log/checkpoint?size="+itoa(cp.Size))
		c, _, err := evidence.OpenCheckpoint(one, origin, logV)
		if err != nil || c.Size != cp.Size || string(one) != cp.Note {
			t.Fatalf("checkpoint at %d: %+v %v", cp.Size, c, err)
		}
		notes = append(notes, cp.Note)
	}
	want := strings.Join(notes, "\n")
	if got := string(runCLI(t, "log", "export", "--server", n.URL())); got != want {
		t.Fatalf("log export --server:\n%s\nwant:\n%s", got, want)
	}
	if got := string(runCLI(t, "--url", n.URL(), "log", "export", "--after", itoa(list.Data[0].Size))); got != strings.Join(notes[1:], "\n") {
		t.Fatalf("log export --after:\n%s", got)
	}
	if err := n.close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := string(runCLI(t, "log", "export", "--data-dir", dir)); got != want {
		t.Fatalf("log export --data-dir:\n%s\nwant:\n%s", got, want)
	}
	n, err = startNode(ctx, cfg) // for the deferred close
	if err != nil {
		t.Fatal(err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
