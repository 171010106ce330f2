package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/spf13/cobra"
)

// verifyInputBytesMax bounds what agentpay verify reads: a vector file
// (the largest input it accepts).
const verifyInputBytesMax = protocol.VectorBytesMax

// Input kinds agentpay verify recognises.
const (
	inputJWS    = "jws"    // one compact JWS: any ACT object or receipt
	inputVector = "vector" // a test vector file (protocol/testdata/vectors)
)

// verifyError is the failure agentpay verify exits with: the registered
// code of the failed check.
type verifyError struct {
	code protocol.Code
	err  error
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("agentpay: verify: invalid: %s: %v", e.code, e.err)
}

func (e *verifyError) Unwrap() error { return e.err }

// sniffInput says what data is: a vector file (a JSON object) or a
// compact JWS (three dot-separated base64url parts); surrounding white
// space is ignored. It returns the trimmed input.
func sniffInput(data []byte) (string, []byte, error) {
	t := bytes.TrimSpace(data)
	switch {
	case len(t) == 0:
		return "", nil, errors.New("empty input")
	case t[0] == '{':
		return inputVector, t, nil
	case bytes.Count(t, []byte{'.'}) == 2:
		for _, c := range t {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return "", nil, fmt.Errorf("not a compact JWS: byte %q is not base64url", c)
			}
		}
		return inputJWS, t, nil
	}
	return "", nil, errors.New("neither a compact JWS (header.payload.signature) nor a vector file (JSON object)")
}

func newVerifyCommand() *cobra.Command {
	var keysFile, nowFlag, audience string
	cmd := &cobra.Command{
		Use:   "verify FILE|-",
		Short: "Verify an ACT object, receipt or test vector offline and explain each check",
		Long: `Verify offline a protocol object (a compact JWS: mandate, checkout, receipt,
agent credential, price attestation, ...) or a test vector file
(protocol/testdata/vectors/*.json: an object, a purchase or a signed HTTP
request with its verification context). FILE "-" reads standard input.

Keys come from --keys, a key set file {"keys":[{"party","role","jwk"}]}, or
from the vector. --now and --audience set the verifier's clock and party id
(for a vector they default to its context; for a JWS --audience is required
and --now defaults to the current time).

Each check is printed with its result. The exit status is 0 when the input
is valid and 1 when it is not; the error names the registered code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readVerifyInput(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			kind, in, err := sniffInput(data)
			if err != nil {
				return fmt.Errorf("verify: %s: %w", args[0], err)
			}
			var v *protocol.Vector
			switch kind {
			case inputVector:
				if v, err = protocol.ParseVector(in); err != nil {
					return fmt.Errorf("verify: %w", err)
				}
			case inputJWS:
				v = &protocol.Vector{Name: args[0], Type: protocol.VectorObject, Input: protocol.VectorInput{JWS: string(in)},
					Context: protocol.VectorContext{Now: time.Now().UTC().Format(time.RFC3339)}}
				if keysFile == "" {
					return errors.New("verify: a JWS needs --keys (the vector files carry their keys)")
				}
				if audience == "" {
					return errors.New("verify: a JWS needs --audience (the verifier's party id)")
				}
			}
			if keysFile != "" {
				b, err := os.ReadFile(keysFile)
				if err != nil {
					return fmt.Errorf("verify: --keys: %w", err)
				}
				if _, err := protocol.ParseKeySetFile(b); err != nil {
					return fmt.Errorf("verify: --keys %s: %w", keysFile, err)
				}
				var f protocol.KeySetFile
				if err := json.Unmarshal(b, &f); err != nil {
					return fmt.Errorf("verify: --keys %s: %w", keysFile, err)
				}
				v.Keys = f.Keys
			}
			if nowFlag != "" {
				t, err := time.Parse(time.RFC3339, nowFlag)
				if err != nil {
					return fmt.Errorf("verify: --now: %w (want RFC 3339, e.g. 2026-11-29T12:00:00Z)", err)
				}
				v.Context.Now = t.UTC().Format(time.RFC3339)
			}
			if audience != "" {
				v.Context.Audience = audience
			}
			if kind == inputJWS {
				v.Expected = protocol.VectorExpected{Valid: true}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runVerify(ctx, cmd.OutOrStdout(), kind, v)
		},
	}
	cmd.Flags().StringVar(&keysFile, "keys", "", `key set file: {"keys":[{"party","role","jwk"}]}`)
	cmd.Flags().StringVar(&nowFlag, "now", "", "verifier clock, RFC 3339 (default: the vector's, else now)")
	cmd.Flags().StringVar(&audience, "audience", "", "verifier party id required in aud (default: the vector's)")
	return cmd
}

// readVerifyInput reads FILE or standard input ("-"), at most
// verifyInputBytesMax bytes.
func readVerifyInput(stdin io.Reader, name string) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, verifyInputBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("verify: reading %s: %w", name, err)
	}
	if len(data) > verifyInputBytesMax {
		return nil, fmt.Errorf("verify: %s is larger than %d bytes", name, verifyInputBytesMax)
	}
	return data, nil
}

// runVerify verifies v, printing each check, and returns a *verifyError
// when the input is not valid.
func runVerify(ctx context.Context, out io.Writer, kind string, v *protocol.Vector) error {
	if kind == inputVector {
		fmt.Fprintf(out, "vector %s (%s): %s\n", v.Name, v.Type, v.Description)
	} else {
		fmt.Fprintf(out, "object %s\n", v.Name)
	}
	fmt.Fprintf(out, "verifier: now %s", v.Context.Now)
	if v.Context.Audience != "" {
		fmt.Fprintf(out, ", audience %q", v.Context.Audience)
	}
	fmt.Fprintf(out, ", %d keys\n", len(v.Keys))
	trace := func(check, detail string, err error) {
		if err == nil {
			fmt.Fprintf(out, "  ok    %-18s %s\n", check, detail)
			return
		}
		fmt.Fprintf(out, "  FAIL  %-18s %s: %s (%v)\n", check, detail, protocol.CodeOf(err), err)
	}
	err := v.Run(ctx, trace)
	code := protocol.CodeOf(err)
	if kind == inputVector {
		want := "valid"
		if !v.Expected.Valid {
			want = string(v.Expected.Code)
		}
		got := "valid"
		if err != nil {
			got = string(code)
		}
		agree := "as the vector expects"
		if got != want {
			agree = "the vector expects " + want
		}
		fmt.Fprintf(out, "result: %s (%s)\n", got, agree)
	} else if err == nil {
		fmt.Fprintln(out, "result: valid")
	} else {
		fmt.Fprintf(out, "result: invalid: %s\n", code)
	}
	if err != nil {
		return &verifyError{code: code, err: err}
	}
	return nil
}
