package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestGeneratedFilesAreFresh fails when protocol/errors_codes.go or
// docs/protocol/errors.md differs from what errors.json generates: run
// `go generate ./protocol/` after editing the registry.
func TestGeneratedFilesAreFresh(t *testing.T) {
	t.Parallel()
	goSrc, md, err := generate("../../errors.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		want []byte
	}{
		{"../../errors_codes.go", goSrc},
		{"../../../docs/protocol/errors.md", md},
	} {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatalf("%v (run go generate ./protocol/)", err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s is stale: run go generate ./protocol/", f.path)
		}
	}
}

func TestParseRejectsBadRegistries(t *testing.T) {
	t.Parallel()
	ok := `{"code":"x_y","status":400,"type":"invalid_request","ap2":"","returned_by":["platform"],"meaning":"m"}`
	cases := map[string]string{
		"empty":          `{"codes":[]}`,
		"duplicate":      `{"codes":[` + ok + `,` + ok + `]}`,
		"status vs type": `{"codes":[{"code":"a","status":401,"type":"invalid_request","ap2":"","returned_by":["platform"],"meaning":"m"}]}`,
		"unknown type":   `{"codes":[{"code":"a","status":400,"type":"nope","ap2":"","returned_by":["platform"],"meaning":"m"}]}`,
		"unknown party":  `{"codes":[{"code":"a","status":400,"type":"invalid_request","ap2":"","returned_by":["bank"],"meaning":"m"}]}`,
		"unknown ap2":    `{"codes":[{"code":"a","status":400,"type":"invalid_request","ap2":"nope","returned_by":["user"],"meaning":"m"}]}`,
		"bad code":       `{"codes":[{"code":"A-b","status":400,"type":"invalid_request","ap2":"","returned_by":["user"],"meaning":"m"}]}`,
		"no meaning":     `{"codes":[{"code":"a","status":400,"type":"invalid_request","ap2":"","returned_by":["user"],"meaning":""}]}`,
		"unknown field":  `{"codes":[` + strings.TrimSuffix(ok, "}") + `,"x":1}]}`,
	}
	for name, in := range cases {
		if _, err := parse([]byte(in)); err == nil {
			t.Errorf("%s: parse accepted %s", name, in)
		}
	}
	if _, err := parse([]byte(`{"codes":[` + ok + `]}`)); err != nil {
		t.Errorf("parse refused a good registry: %v", err)
	}
}

func TestGoName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"jws_malformed":       "CodeJWSMalformed",
		"expired":             "CodeExpired",
		"key_unknown":         "CodeKeyUnknown",
		"request_signature_x": "CodeRequestSignatureX",
	} {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
}
