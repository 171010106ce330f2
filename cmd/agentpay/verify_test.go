package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

const vectorsDir = "../../protocol/testdata/vectors"

// runVerifyCommand runs agentpay verify with args and stdin, returning
// its output and error.
func runVerifyCommand(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"verify"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestVerifyVectors(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := protocol.ParseVector(data)
		if err != nil {
			t.Fatal(err)
		}
		out, err := runVerifyCommand(t, "", p)
		if v.Expected.Valid {
			if err != nil {
				t.Errorf("%s: %v\n%s", v.Name, err, out)
			}
			if !strings.Contains(out, "result: valid (as the vector expects)") || !strings.Contains(out, "  ok    ") {
				t.Errorf("%s: output lacks the checks or the result:\n%s", v.Name, out)
			}
			continue
		}
		var ve *verifyError
		if !errors.As(err, &ve) || ve.code != v.Expected.Code {
			t.Errorf("%s: err = %v, want a verify error with code %s", v.Name, err, v.Expected.Code)
			continue
		}
		if !strings.Contains(err.Error(), string(v.Expected.Code)) || !strings.Contains(out, "  FAIL  ") ||
			!strings.Contains(out, "result: "+string(v.Expected.Code)+" (as the vector expects)") {
			t.Errorf("%s: error %q, output:\n%s", v.Name, err, out)
		}
	}
}

// vectorJWS returns a vector's JWS and writes its keys as a key set file.
func vectorJWS(t *testing.T, name string) (jws, keysPath string, v *protocol.Vector) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err = protocol.ParseVector(data)
	if err != nil {
		t.Fatal(err)
	}
	keys := protocol.KeySetFile{Keys: v.Keys}
	for i := range keys.Keys {
		keys.Keys[i].TestSeed = ""
	}
	b, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	keysPath = filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return v.Input.JWS, keysPath, v
}

func TestVerifyJWS(t *testing.T) {
	t.Parallel()
	jws, keys, v := vectorJWS(t, "receipt_valid")
	// From a file, with flags.
	file := filepath.Join(t.TempDir(), "receipt.jws")
	if err := os.WriteFile(file, []byte(jws+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runVerifyCommand(t, "", file, "--keys", keys, "--now", v.Context.Now, "--audience", v.Context.Audience)
	if err != nil || !strings.Contains(out, "ok    signature") || !strings.Contains(out, "result: valid") {
		t.Fatalf("valid receipt: %v\n%s", err, out)
	}
	// From stdin, for the wrong audience.
	out, err = runVerifyCommand(t, jws, "-", "--keys", keys, "--now", v.Context.Now, "--audience", "mch_shoes")
	var ve *verifyError
	if !errors.As(err, &ve) || ve.code != protocol.CodeAudienceMismatch || !strings.Contains(out, "result: invalid: audience_mismatch") {
		t.Fatalf("wrong audience: %v\n%s", err, out)
	}
	// Later than its vector's clock: an expired checkout.
	jws, keys, v = vectorJWS(t, "checkout_valid")
	_, err = runVerifyCommand(t, jws, "-", "--keys", keys, "--now", "2027-01-01T00:00:00Z", "--audience", v.Context.Audience)
	if !errors.As(err, &ve) || ve.code != protocol.CodeExpired {
		t.Fatalf("expired checkout: %v", err)
	}
	// A vector's clock overridden by --now.
	_, err = runVerifyCommand(t, "", filepath.Join(vectorsDir, "checkout_valid.json"), "--now", "2027-01-01T00:00:00Z")
	if !errors.As(err, &ve) || ve.code != protocol.CodeExpired {
		t.Fatalf("vector with --now: %v", err)
	}
	// Usage errors are not verification failures.
	for _, args := range [][]string{
		{"-"},                 // a JWS without --keys
		{"-", "--keys", keys}, // without --audience
		{"-", "--keys", keys, "--audience", "a", "--now", "yesterday"},
		{filepath.Join(t.TempDir(), "missing.jws")},
	} {
		_, err := runVerifyCommand(t, jws, args...)
		if err == nil || errors.As(err, &ve) {
			t.Errorf("verify %v: err = %v, want a usage error", args, err)
		}
	}
	if _, err := runVerifyCommand(t, "not a jws", "-"); err == nil {
		t.Error("garbage input accepted")
	}
}

func TestVerifySniff(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" {\"name\":1}\n":    inputVector,
		"aGVhZA.cGF5.c2ln\n": inputJWS,
		"a.b":                "",
		"a.b.c.d":            "",
		"a.b.c d":            "",
		"":                   "",
	} {
		got, _, err := sniffInput([]byte(in))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("sniffInput(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzVerifySniff: input sniffing never panics, and what it calls a JWS
// is three base64url parts.
func FuzzVerifySniff(f *testing.F) {
	f.Add([]byte("aGVhZA.cGF5.c2ln"))
	f.Add([]byte(`{"name":"x"}`))
	f.Add([]byte(" \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, in, err := sniffInput(data)
		if err != nil {
			return
		}
		if kind == inputJWS && bytes.Count(in, []byte{'.'}) != 2 {
			t.Fatalf("sniffed %q as a JWS", in)
		}
		if kind == inputVector {
			_, _ = protocol.ParseVector(in)
		}
	})
}

// receiptFiles is a committed transfer of a server with the evidence log:
// its JSON, receipt and proof written to files.
type receiptFiles struct {
	env                               *apitest.Env
	tr                                *protocol.Transfer
	proof                             *protocol.TransferProof
	trFile, receiptFile, proofFile    string
	otherProofFile, batchResponseFile string
}

func newReceiptFiles(t *testing.T) *receiptFiles {
	t.Helper()
	env := apitest.New(t, apitest.Options{Evidence: true})
	ctx := t.Context()
	c := sdk.New(env.URL, env.AdminSecret)
	if _, err := c.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	a, err := c.CreateAccount(ctx, "", protocol.Account{Ledger: 1, Code: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateAccount(ctx, "", protocol.Account{Ledger: 1, Code: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.CreateTransfer(ctx, "", protocol.Transfer{DebitAccountID: a.ID, CreditAccountID: b.ID, Amount: u64(250), Ledger: 1, Code: 1})
	if err != nil || tr.Receipt == "" {
		t.Fatalf("CreateTransfer = %+v, %v", tr, err)
	}
	br, err := c.CreateTransfers(ctx, "", []protocol.Transfer{
		{DebitAccountID: a.ID, CreditAccountID: b.ID, Amount: u64(1), Ledger: 1, Code: 1},
		{DebitAccountID: b.ID, CreditAccountID: a.ID, Amount: u64(2), Ledger: 1, Code: 1},
	})
	if err != nil || br.Accepted != 2 {
		t.Fatalf("CreateTransfers = %+v, %v", br, err)
	}
	if _, _, err := env.LogSigner.SignNow(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := c.TransferProof(ctx, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.TransferProof(ctx, br.Results[1].Transfer.ID)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rf := &receiptFiles{env: env, tr: tr, proof: p}
	write := func(name string, v any) string {
		t.Helper()
		var b []byte
		if s, ok := v.(string); ok {
			b = []byte(s)
		} else if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rf.trFile = write("transfer.json", tr)
	rf.receiptFile = write("receipt.txt", tr.Receipt)
	rf.proofFile = write("proof.json", p)
	rf.otherProofFile = write("other-proof.json", other)
	rf.batchResponseFile = write("batch.json", br)
	return rf
}

func u64(n uint64) *uint64 { return &n }

// TestVerifyReceiptCommand: agentpay verify receipt accepts a real
// receipt and proof offline, in each form, and fails on any tampering.
func TestVerifyReceiptCommand(t *testing.T) {
	t.Parallel()
	rf := newReceiptFiles(t)
	key := rf.env.LogKey
	valid := func(args ...string) string {
		t.Helper()
		out, err := runVerifyCommand(t, "", append([]string{"receipt", "--url", "http://127.0.0.1:1"}, args...)...)
		if err != nil || !strings.Contains(out, "result: valid: transfer "+rf.tr.ID) {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	out := valid("--log-key", key, "--receipt", rf.receiptFile, "--proof", rf.proofFile, "--transfer", rf.trFile)
	for _, want := range []string{"ok    receipt", "ok    transfer", "ok    checkpoint", "ok    proof", apitest.LogOrigin} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The receipt from the transfer's JSON; the key from a file; the
	// origin given; the proof on standard input.
	keyFile := filepath.Join(t.TempDir(), "log.vkey")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid("--log-key", keyFile, "--origin", apitest.LogOrigin, "--transfer", rf.trFile, "--proof", rf.proofFile)
	proofJSON, err := os.ReadFile(rf.proofFile)
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCommand()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetErr(&buf)
	root.SetIn(bytes.NewReader(proofJSON))
	root.SetArgs([]string{"verify", "receipt", "--log-key", key, "--receipt", rf.receiptFile, "--proof", "-"})
	if err := root.Execute(); err != nil || !strings.Contains(buf.String(), "result: valid") {
		t.Fatalf("proof on stdin: %v\n%s", err, buf.String())
	}

	invalid := func(what, wantMsg string, args ...string) {
		t.Helper()
		out, err := runVerifyCommand(t, "", append([]string{"receipt", "--api-key", ""}, args...)...)
		if err == nil || !strings.Contains(err.Error(), wantMsg) {
			t.Fatalf("%s: err = %v, want one saying %q\n%s", what, err, wantMsg, out)
		}
		if strings.Contains(out, "result: valid") {
			t.Fatalf("%s: output says valid:\n%s", what, out)
		}
	}
	tampered := func(name string, f func(p *protocol.TransferProof)) string {
		p := *rf.proof
		f(&p)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name+".json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	invalid("changed amount", "does not verify", "--log-key", key, "--receipt", rf.receiptFile,
		"--proof", tampered("amount", func(p *protocol.TransferProof) { p.Leaf = bytes.Clone(p.Leaf); p.Leaf[1+48+7]++ }))
	invalid("changed batch path", "does not verify", "--log-key", key, "--receipt", rf.receiptFile,
		"--proof", tampered("path", func(p *protocol.TransferProof) {
			p.BatchPath = append([][]byte{make([]byte, 32)}, p.BatchPath...)
		}))
	invalid("changed checkpoint", "checkpoint does not verify", "--log-key", key, "--receipt", rf.receiptFile,
		"--proof", tampered("checkpoint", func(p *protocol.TransferProof) {
			p.Checkpoint = strings.Replace(p.Checkpoint, "\n", "\n1", 1)
		}))
	invalid("another transfer's proof", "is for", "--log-key", key, "--transfer", rf.trFile, "--proof", rf.otherProofFile)
	invalid("another transfer's proof under its id", "transfer proof does not verify", "--log-key", key, "--receipt", rf.receiptFile,
		"--proof", tampered("relabelled", func(p *protocol.TransferProof) {
			other := readProof(t, rf.otherProofFile)
			other.TransferID = p.TransferID
			*p = *other
		}))
	invalid("the batch's receipt", "does not name the transfer", "--log-key", key, "--receipt", rf.batchResponseFile, "--proof", rf.proofFile)
	b := []byte(rf.tr.Receipt)
	b[len(evidence.ReceiptHeader)+4] ^= 1
	forged := filepath.Join(t.TempDir(), "forged.txt")
	if err := os.WriteFile(forged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	invalid("forged receipt", "receipt does not verify", "--log-key", key, "--receipt", forged, "--proof", rf.proofFile)
	moved := *rf.tr
	moved.Timestamp++
	movedFile := filepath.Join(t.TempDir(), "moved.json")
	mb, _ := json.Marshal(moved)
	if err := os.WriteFile(movedFile, mb, 0o600); err != nil {
		t.Fatal(err)
	}
	invalid("another timestamp", "does not name the transfer", "--log-key", key, "--transfer", movedFile, "--proof", rf.proofFile)
	_, otherKey, err := note.GenerateKey(rand.Reader, apitest.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	invalid("another log key", "receipt does not verify", "--log-key", otherKey, "--receipt", rf.receiptFile, "--proof", rf.proofFile)
	invalid("another origin", "receipt does not verify", "--log-key", key, "--origin", "elsewhere.example/log", "--receipt", rf.receiptFile, "--proof", rf.proofFile)
	invalid("no key", "--log-key is required", "--receipt", rf.receiptFile, "--proof", rf.proofFile)
	invalid("bad key", "invalid log key", "--log-key", "nonsense", "--receipt", rf.receiptFile, "--proof", rf.proofFile)
	invalid("no proof, no API key", "no --proof", "--log-key", key, "--receipt", rf.receiptFile)
}

func readProof(t *testing.T, path string) *protocol.TransferProof {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p protocol.TransferProof
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestVerifyReceiptFetch: without --proof, agentpay verify receipt fetches
// the proof from the server and verifies it the same way.
func TestVerifyReceiptFetch(t *testing.T) {
	t.Parallel()
	rf := newReceiptFiles(t)
	out, err := runVerifyCommand(t, "", "receipt", "--url", rf.env.URL, "--api-key", rf.env.AdminSecret,
		"--log-key", rf.env.LogKey, "--receipt", rf.receiptFile, "--id", rf.tr.ID)
	if err != nil || !strings.Contains(out, "fetched the proof of "+rf.tr.ID) || !strings.Contains(out, "result: valid: transfer "+rf.tr.ID) {
		t.Fatalf("fetch: %v\n%s", err, out)
	}
	// An id the receipt does not name.
	other := readProof(t, rf.otherProofFile).TransferID
	out, err = runVerifyCommand(t, "", "receipt", "--url", rf.env.URL, "--api-key", rf.env.AdminSecret,
		"--log-key", rf.env.LogKey, "--receipt", rf.receiptFile, "--id", other)
	if err == nil || !strings.Contains(err.Error(), "does not name the transfer") {
		t.Fatalf("fetch for another id: %v\n%s", err, out)
	}
}
