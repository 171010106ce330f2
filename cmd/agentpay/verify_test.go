package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/protocol"
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
