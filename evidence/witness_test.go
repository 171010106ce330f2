package evidence

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestAddCheckpointRequestRoundTrip(t *testing.T) {
	signer, _, _, _ := testKey(t, testOrigin, 1)
	signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 5, Root: HashBytes([]byte("r"))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	req := AddCheckpointRequest{OldSize: 3, Proof: []Hash{HashBytes([]byte("a")), HashBytes([]byte("b"))}, Checkpoint: signed}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("old 3\n")) {
		t.Fatalf("body starts %q", b[:10])
	}
	got, err := ParseAddCheckpointRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.OldSize != 3 || len(got.Proof) != 2 || got.Proof[1] != req.Proof[1] || !bytes.Equal(got.Checkpoint, signed) {
		t.Fatalf("round trip = %+v", got)
	}
	// No proof lines.
	b, _ = AddCheckpointRequest{Checkpoint: signed}.Marshal()
	if got, err := ParseAddCheckpointRequest(b); err != nil || got.OldSize != 0 || len(got.Proof) != 0 {
		t.Fatalf("empty proof: %+v, %v", got, err)
	}
}

func TestParseAddCheckpointRequestStrict(t *testing.T) {
	h := "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="
	tooMany := "old 1\n" + strings.Repeat(h+"\n", WitnessProofMaxHashes+1) + "\nck\n"
	for _, body := range []string{
		"",
		"old 1",
		"old 01\n\nck\n",
		"old -1\n\nck\n",
		"old  1\n\nck\n",
		"new 1\n\nck\n",
		"old 1\n" + h + "\nck\n", // no empty line
		"old 1\n\n",              // no checkpoint
		"old 1\n" + h[:len(h)-1] + "\n\nck\n",
		"old 1\n" + strings.TrimSuffix(h, "=") + "\n\nck\n",
		"old 1\nAAAA\n\nck\n",
		tooMany,
		"old 1\n\n" + strings.Repeat("x", CheckpointMaxBytes+1),
	} {
		if _, err := ParseAddCheckpointRequest([]byte(body)); !errors.Is(err, ErrWitnessRequest) {
			t.Errorf("ParseAddCheckpointRequest(%.40q) = %v; want ErrWitnessRequest", body, err)
		}
	}
	if _, err := ParseAddCheckpointRequest([]byte("old 1\n" + h + "\n\nck\n")); err != nil {
		t.Errorf("valid request: %v", err)
	}
}

// witnessFixture is a log of n leaves in a MemStore, its signer and a witness.
type witnessFixture struct {
	store      *MemStore
	log        *Log
	logSigner  note.Signer
	logV       note.Verifier
	witness    *Witness
	witnessV   note.Verifier
	srv        *httptest.Server
	proofs     ProofFunc
	witnessKey string
}

func newWitnessFixture(t *testing.T) *witnessFixture {
	t.Helper()
	logSigner, logV, _, _ := testKey(t, testOrigin, 1)
	_, _, wskey, wvkey := testKey(t, "witness.example/w1", 7)
	cosigner, err := NewCosigner(wskey)
	if err != nil {
		t.Fatal(err)
	}
	wv, err := NewCosignatureVerifier(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWitness(cosigner, WitnessLog{Origin: testOrigin, Verifier: logV})
	if err != nil {
		t.Fatal(err)
	}
	f := &witnessFixture{store: NewMemStore(), log: NewLog(), logSigner: logSigner, logV: logV, witness: w, witnessV: wv, witnessKey: wvkey}
	f.srv = httptest.NewServer(w)
	t.Cleanup(f.srv.Close)
	f.proofs = func(ctx context.Context, old, new uint64) ([]Hash, error) {
		return ConsistencyProof(ctx, f.store, old, new)
	}
	return f
}

// grow appends n entries and returns the signed checkpoint.
func (f *witnessFixture) grow(t *testing.T, n int) []byte {
	t.Helper()
	if n > 0 {
		if _, err := f.log.Append(context.Background(), f.store, genEntries(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: f.log.Size(), Root: f.log.Root()}, f.logSigner)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestWitnessClientAndServer(t *testing.T) {
	ctx := context.Background()
	f := newWitnessFixture(t)
	wc := &WitnessClient{URL: f.srv.URL, Verifier: f.witnessV}

	cp1 := f.grow(t, 3)
	lines, size, err := wc.AddCheckpoint(ctx, cp1, 0, f.proofs)
	if err != nil || size != 3 || len(lines) != 1 {
		t.Fatalf("first AddCheckpoint = %q, %d, %v", lines, size, err)
	}
	cosigned, err := AddCosignatures(cp1, []byte(strings.SplitAfter(string(cp1), "\n\n")[0]+lines[0]+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, names, err := VerifyCosignatures(cosigned, testOrigin, f.logV, []note.Verifier{f.witnessV}, 1); err != nil || len(names) != 1 {
		t.Fatalf("VerifyCosignatures = %v, %v", names, err)
	}

	// The client claims a stale size (0): the witness answers 409 with 3
	// and the client retries once with the proof from 3.
	cp2 := f.grow(t, 300)
	lines, size, err = wc.AddCheckpoint(ctx, cp2, 0, f.proofs)
	if err != nil || size != 303 || len(lines) != 1 {
		t.Fatalf("AddCheckpoint after 409 = %q, %d, %v", lines, size, err)
	}
	if c, _ := f.witness.Latest(testOrigin); c.Size != 303 {
		t.Fatalf("witness holds %d", c.Size)
	}
	// The same checkpoint again is cosigned again.
	if _, _, err := wc.AddCheckpoint(ctx, cp2, 303, f.proofs); err != nil {
		t.Fatalf("re-adding: %v", err)
	}

	// A bad proof is refused with 422.
	cp3 := f.grow(t, 2)
	badProofs := func(context.Context, uint64, uint64) ([]Hash, error) { return []Hash{{1}}, nil }
	if _, _, err := wc.AddCheckpoint(ctx, cp3, 303, badProofs); !errors.Is(err, ErrWitness) || !strings.Contains(err.Error(), "422") {
		t.Fatalf("bad proof: %v", err)
	}
	// A checkpoint signed by another key is refused with 403.
	other, _, _, _ := testKey(t, testOrigin, 9)
	forged, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 305, Root: f.log.Root()}, other)
	if _, _, err := wc.AddCheckpoint(ctx, forged, 303, f.proofs); !errors.Is(err, ErrWitness) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("forged: %v", err)
	}
	// An unknown log is 404.
	unknownSigner, _, _, _ := testKey(t, "other.example/log", 3)
	unknown, _ := SignCheckpoint(Checkpoint{Origin: "other.example/log", Size: 1, Root: Hash{2}}, unknownSigner)
	if _, _, err := wc.AddCheckpoint(ctx, unknown, 0, f.proofs); !errors.Is(err, ErrWitness) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown log: %v", err)
	}
	// A different root at the known size is a conflict.
	fork, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 303, Root: Hash{3}}, f.logSigner)
	if _, _, err := wc.AddCheckpoint(ctx, fork, 303, f.proofs); !errors.Is(err, ErrWitness) {
		t.Fatalf("fork: %v", err)
	}
	if c, _ := f.witness.Latest(testOrigin); c.Size != 303 || c.Root == (Hash{3}) {
		t.Fatalf("witness state changed by refused requests: %+v", c)
	}
	// A witness answering with a signature by another key is refused.
	_, _, _, otherW := testKey(t, "witness.example/w1", 8)
	ov, _ := NewCosignatureVerifier(otherW)
	if _, _, err := (&WitnessClient{URL: f.srv.URL, Verifier: ov}).AddCheckpoint(ctx, cp3, 303, f.proofs); !errors.Is(err, ErrWitness) {
		t.Fatalf("wrong witness key: %v", err)
	}
}

func TestWitnessHTTPErrors(t *testing.T) {
	f := newWitnessFixture(t)
	cp := f.grow(t, 2)
	post := func(path, body string) (int, string) {
		resp, err := http.Post(f.srv.URL+path, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type") + " " + b.String()
	}
	if code, _ := post("/add-checkpoint", "garbage"); code != http.StatusBadRequest {
		t.Errorf("garbage: %d", code)
	}
	if code, _ := post("/other", "x"); code != http.StatusNotFound {
		t.Errorf("other path: %d", code)
	}
	if code, body := post("/add-checkpoint", "old 1\n\n"+string(cp)); code != http.StatusConflict || body != ContentTypeTlogSize+" 0\n" {
		t.Errorf("wrong old size: %d %q", code, body)
	}
	if code, _ := post("/add-checkpoint", "old 3\n\n"+string(cp)); code != http.StatusBadRequest {
		t.Errorf("old size above the checkpoint: %d", code)
	}
	if code, _ := post("/add-checkpoint", "old 0\n\n"+string(cp)); code != http.StatusOK {
		t.Errorf("valid: %d", code)
	}
}
