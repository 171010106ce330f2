package protocol_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/protocol/internal/actvectors"
)

const vectorDir = "testdata/vectors"

// Every checked-in vector verifies to its expected outcome.
func TestVectors(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 40 {
		t.Fatalf("%d vectors in %s, want at least 40", len(paths), vectorDir)
	}
	valid, invalid := 0, 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := protocol.ParseVector(data)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if v.Name+".json" != filepath.Base(p) {
			t.Errorf("%s: name %q is not the file name", p, v.Name)
		}
		if v.Expected.Valid {
			valid++
		} else {
			invalid++
		}
		t.Run(v.Name, func(t *testing.T) {
			if err := v.Check(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("%d valid and %d invalid vectors, want both", valid, invalid)
	}
}

// The issue's required cases each have a vector with the expected code.
func TestVectorsCoverIssue(t *testing.T) {
	t.Parallel()
	want := map[string]protocol.Code{
		"open_checkout_mandate_valid":                    "",
		"open_payment_mandate_valid":                     "",
		"closed_checkout_mandate_valid":                  "",
		"closed_payment_mandate_valid":                   "",
		"purchase_human_not_present_valid":               "",
		"purchase_human_present_valid":                   "",
		"purchase_changed_merchant":                      protocol.CodeMerchantMismatch,
		"purchase_changed_amount":                        protocol.CodeAmountMismatch,
		"open_payment_mandate_expired":                   protocol.CodeExpired,
		"open_payment_mandate_not_yet_valid":             protocol.CodeNotYetValid,
		"open_payment_mandate_wrong_audience":            protocol.CodeAudienceMismatch,
		"purchase_over_amount_range":                     protocol.CodeAmountOutOfRange,
		"open_payment_mandate_unknown_constraint":        protocol.CodeConstraintUnknown,
		"open_payment_mandate_missing_signature":         protocol.CodeJWSMalformed,
		"open_payment_mandate_bad_signature":             protocol.CodeSignatureInvalid,
		"closed_checkout_mandate_checkout_hash_mismatch": protocol.CodeCheckoutHashMismatch,
		"open_payment_mandate_revoked_key":               protocol.CodeKeyRevoked,
		"request_replayed_nonce":                         protocol.CodeNonceReplayed,
		"request_body_changed":                           protocol.CodeContentDigestInvalid,
		"checkout_valid":                                 "",
		"checkout_tampered_total":                        protocol.CodeSignatureInvalid,
		"receipt_valid":                                  "",
		"receipt_signed_by_merchant":                     protocol.CodeSignerNotAllowed,
		"agent_credential_valid":                         "",
		"agent_credential_lifetime_too_long":             protocol.CodeLifetimeTooLong,
		"price_attestation_valid":                        "",
		"price_attestation_stale":                        protocol.CodeExpired,
		"request_valid":                                  "",
	}
	for name, code := range want {
		data, err := os.ReadFile(filepath.Join(vectorDir, name+".json"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		v, err := protocol.ParseVector(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if v.Expected.Code != code || v.Expected.Valid != (code == "") {
			t.Errorf("%s: expected %+v, want code %q", name, v.Expected, code)
		}
	}
}

// Regenerating the vectors gives exactly the checked-in files (run
// go generate ./protocol/ after changing the generator).
func TestVectorsUpToDate(t *testing.T) {
	t.Parallel()
	files, err := actvectors.Generate()
	if err != nil {
		t.Fatal(err)
	}
	again, err := actvectors.Generate()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]bool{}
	for _, p := range paths {
		onDisk[filepath.Base(p)] = true
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Equal(files[n], again[n]) {
			t.Errorf("%s: the generator is not deterministic", n)
		}
		got, err := os.ReadFile(filepath.Join(vectorDir, n))
		if err != nil {
			t.Errorf("%s: not checked in (run go generate ./protocol/): %v", n, err)
			continue
		}
		if !bytes.Equal(got, files[n]) {
			t.Errorf("%s: differs from what the generator makes (run go generate ./protocol/)", n)
		}
		delete(onDisk, n)
	}
	for n := range onDisk {
		t.Errorf("%s: checked in but no longer generated", n)
	}
}

// FuzzParseVector: the vector decoder never panics, and a vector it
// accepts runs without panicking.
func FuzzParseVector(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	for _, p := range paths[:min(len(paths), 8)] {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"x","type":"object","input":{"jws":"a.b.c"},"context":{"now":"2026-01-01T00:00:00Z","audience":"a"},"expected":{"valid":true}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := protocol.ParseVector(data)
		if err != nil {
			return
		}
		_ = v.Run(context.Background(), func(string, string, error) {})
	})
}

// FuzzParseKeySetFile: the key set decoder never panics.
func FuzzParseKeySetFile(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"party":"p","role":"user","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = protocol.ParseKeySetFile(data)
	})
}
