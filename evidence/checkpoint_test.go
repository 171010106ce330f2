package evidence

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "agentpay.example/apay/log/v1"

type seededReader struct{ b byte }

func (r *seededReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
		r.b++
	}
	return len(p), nil
}

// testKey returns a deterministic note signer and verifier for name.
func testKey(t testing.TB, name string, seed byte) (note.Signer, note.Verifier, string, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(&seededReader{b: seed}, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, skey, vkey
}

func TestCheckpointSignOpen(t *testing.T) {
	signer, verifier, _, _ := testKey(t, "apay-log", 1)
	_, other, _, _ := testKey(t, "apay-log", 2)
	c := Checkpoint{Origin: testOrigin, Size: 1234, Root: HashBytes([]byte("root"))}
	signed, err := SignCheckpoint(c, signer)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := c.Marshal()
	if !bytes.HasPrefix(signed, body) || !bytes.Contains(signed, []byte("\n\n— apay-log ")) {
		t.Fatalf("signed note:\n%s", signed)
	}
	got, _, err := OpenCheckpoint(signed, testOrigin, verifier)
	if err != nil || got != c {
		t.Fatalf("OpenCheckpoint = %+v, %v", got, err)
	}
	if _, _, err := OpenCheckpoint(signed, "other.example/log", verifier); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("wrong origin err = %v", err)
	}
	if _, _, err := OpenCheckpoint(signed, testOrigin, other); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("wrong key err = %v", err)
	}
	tampered := bytes.Replace(signed, []byte("\n1234\n"), []byte("\n1235\n"), 1)
	if _, _, err := OpenCheckpoint(tampered, testOrigin, verifier); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("tampered size err = %v", err)
	}
	// A checkpoint signed only by an unknown key is rejected.
	unknownSigner, _, _, _ := testKey(t, "stranger", 3)
	byStranger, _ := SignCheckpoint(c, unknownSigner)
	if _, _, err := OpenCheckpoint(byStranger, testOrigin, verifier); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("stranger-signed err = %v", err)
	}
	// Extra unknown signatures are ignored.
	both, _ := SignCheckpoint(c, signer, unknownSigner)
	if got, _, err := OpenCheckpoint(both, testOrigin, verifier); err != nil || got != c {
		t.Errorf("with unknown extra signature: %+v, %v", got, err)
	}
}

func TestParseCheckpointStrict(t *testing.T) {
	good := "example.com/log\n10\n" + "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" + "\n"
	c, err := ParseCheckpoint([]byte(good))
	if err != nil || c.Size != 10 || c.Root != HashBytes(nil) {
		t.Fatalf("ParseCheckpoint(good) = %+v, %v", c, err)
	}
	bad := map[string]string{
		"empty":          "",
		"no final nl":    strings.TrimSuffix(good, "\n"),
		"extension line": good + "ext\n",
		"empty origin":   strings.Replace(good, "example.com/log", "", 1),
		"space origin":   strings.Replace(good, "example.com/log", "example.com log", 1),
		"leading zero":   strings.Replace(good, "\n10\n", "\n010\n", 1),
		"plus size":      strings.Replace(good, "\n10\n", "\n+10\n", 1),
		"negative":       strings.Replace(good, "\n10\n", "\n-10\n", 1),
		"huge size":      strings.Replace(good, "\n10\n", "\n18446744073709551616\n", 1),
		"short hash":     "example.com/log\n10\nAAAA\n",
		"bad base64":     strings.Replace(good, "47DEQ", "47D!Q", 1),
		"unpadded":       strings.Replace(good, "=\n", "\n", 1),
		"crlf":           strings.ReplaceAll(good, "\n", "\r\n"),
		"blank line":     "example.com/log\n\n10\n",
	}
	for name, in := range bad {
		if _, err := ParseCheckpoint([]byte(in)); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: ParseCheckpoint(%q) err = %v", name, in, err)
		}
	}
	if _, err := (Checkpoint{Origin: "a b"}).Marshal(); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("Marshal with bad origin err = %v", err)
	}
}

func TestCosignatures(t *testing.T) {
	logSigner, logVerifier, _, _ := testKey(t, "apay-log", 1)
	c := Checkpoint{Origin: testOrigin, Size: 7, Root: HashBytes([]byte("r"))}
	signed, err := SignCheckpoint(c, logSigner)
	if err != nil {
		t.Fatal(err)
	}
	var witnesses []note.Verifier
	var cosigned [][]byte
	for i, name := range []string{"witness-a", "witness-b", "witness-c"} {
		_, v, skey, vkey := testKey(t, name, byte(10+i))
		cs, err := NewCosigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		wv, err := NewCosignatureVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		if wv.KeyHash() == v.KeyHash() {
			t.Fatal("cosignature key hash must differ from the plain Ed25519 one")
		}
		witnesses = append(witnesses, wv)
		body, _ := c.Marshal()
		w, err := note.Sign(&note.Note{Text: string(body)}, cs)
		if err != nil {
			t.Fatal(err)
		}
		cosigned = append(cosigned, w)
	}
	merged, err := AddCosignatures(signed, cosigned[0], cosigned[1], cosigned[1])
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(merged, []byte("\n— ")); n != 3 {
		t.Fatalf("merged note has %d signatures, want 3:\n%s", n, merged)
	}
	got, names, err := VerifyCosignatures(merged, testOrigin, logVerifier, witnesses, 2)
	if err != nil || got != c || len(names) != 2 {
		t.Fatalf("VerifyCosignatures = %+v, %v, %v", got, names, err)
	}
	if _, _, err := VerifyCosignatures(merged, testOrigin, logVerifier, witnesses, 3); !errors.Is(err, ErrCosignature) {
		t.Fatalf("quorum 3 err = %v", err)
	}
	// The log key must still have signed: witnesses alone are not enough.
	onlyWitness := cosigned[0]
	if _, _, err := VerifyCosignatures(onlyWitness, testOrigin, logVerifier, witnesses, 1); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("witness-only note err = %v", err)
	}
	other, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 8, Root: c.Root}, logSigner)
	if _, err := AddCosignatures(signed, other); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("merging a different body err = %v", err)
	}
}

func TestMonitor(t *testing.T) {
	ctx := context.Background()
	signer, verifier, _, _ := testKey(t, "apay-log", 1)
	store := NewMemStore()
	lg := NewLog()
	entries := genEntries(t, 600)
	sign := func(size uint64) []byte {
		t.Helper()
		root, err := RootAt(ctx, store, size)
		if err != nil {
			t.Fatal(err)
		}
		b, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: size, Root: root}, signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m := NewMonitor(testOrigin, verifier)
	if _, _, ok := m.Latest(); ok {
		t.Fatal("new monitor has a checkpoint")
	}
	if _, err := lg.Append(ctx, store, entries[:100]); err != nil {
		t.Fatal(err)
	}
	cp100 := sign(100)
	if _, err := m.Update(cp100, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Append(ctx, store, entries[100:]); err != nil {
		t.Fatal(err)
	}
	proof, err := ConsistencyProof(ctx, store, 100, 600)
	if err != nil {
		t.Fatal(err)
	}
	// A bad proof is a fork.
	if _, err := m.Update(sign(600), proof[1:]); !errors.Is(err, ErrFork) {
		t.Fatalf("bad proof err = %v", err)
	}
	if got, err := m.Update(sign(600), proof); err != nil || got.Size != 600 {
		t.Fatalf("Update(600) = %+v, %v", got, err)
	}
	if c, _, _ := m.Latest(); c.Size != 600 {
		t.Fatalf("latest size %d", c.Size)
	}
	// Smaller checkpoint: stale.
	if _, err := m.Update(cp100, nil); !errors.Is(err, ErrStale) {
		t.Fatalf("older err = %v", err)
	}
	// Same size, same root: accepted, no change.
	if _, err := m.Update(sign(600), nil); err != nil {
		t.Fatalf("same checkpoint err = %v", err)
	}
	// Same size, other root: fork.
	forked, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 600, Root: HashBytes([]byte("x"))}, signer)
	if _, err := m.Update(forked, nil); !errors.Is(err, ErrFork) {
		t.Fatalf("same-size fork err = %v", err)
	}
	// Bigger, validly signed, but a rewritten history: fork.
	other := NewMemStore()
	rewritten := append([][]byte{genEntry(t, 9999)}, entries[1:]...)
	if _, err := NewLog().Append(ctx, other, append(rewritten, entries[:10]...)); err != nil {
		t.Fatal(err)
	}
	root, _ := RootAt(ctx, other, 610)
	p, _ := ConsistencyProof(ctx, other, 600, 610)
	bad, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 610, Root: root}, signer)
	if _, err := m.Update(bad, p); !errors.Is(err, ErrFork) {
		t.Fatalf("rewritten history err = %v", err)
	}
	// Unsigned garbage.
	if _, err := m.Update([]byte("nope"), nil); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("garbage err = %v", err)
	}
	if c, _, _ := m.Latest(); c.Size != 600 {
		t.Fatalf("rejected updates changed the monitor: size %d", c.Size)
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("example.com/log\n10\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Add([]byte("o\n1\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCheckpoint(in)
		if err != nil {
			if !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCheckpoint", err)
			}
			return
		}
		out, err := c.Marshal()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("accepted %q but re-marshals to %q (%v)", in, out, err)
		}
	})
}
