package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
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
is valid and 1 when it is not; the error names the registered code.

"agentpay verify receipt" verifies an evidence-log receipt of a transfer and
its proof into a signed checkpoint (a file named receipt: pass ./receipt).`,
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
	cmd.AddCommand(newVerifyReceiptCommand())
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

// receiptInputBytesMax bounds each file agentpay verify receipt reads (a
// batch response carrying a receipt of thousands of transfers).
const receiptInputBytesMax = 8 << 20

// receiptCheck is the input of agentpay verify receipt.
type receiptCheck struct {
	key        *sdk.LogKey
	receipt    string
	transfer   *protocol.Transfer // nil: not given
	transferID string
	proof      *protocol.TransferProof
}

func newVerifyReceiptCommand() *cobra.Command {
	var logKey, origin, receiptFile, proofFile, transferFile, id string
	cmd := &cobra.Command{
		Use:   "receipt --log-key VKEY --receipt FILE --proof FILE [--transfer FILE]",
		Short: "Verify a transfer's evidence-log receipt and its proof into a signed checkpoint",
		Long: `Verify that a committed transfer is in the evidence log: its receipt (the
"receipt" of the response that created it) is signed by the log key and names
it, and its proof (the JSON of GET /v1/transfers/{id}/proof) leads from the
transfer's leaf through its batch entry to a checkpoint signed by the log key,
all agreeing with each other.

--log-key is the log's verifier key (the text of GET /v1/log/key, or a file
holding it), pinned out of band; --origin defaults to the key's name.
--receipt is a file holding the receipt (the signed note), or a JSON transfer
or batch response carrying one; with --transfer (a transfer's JSON, as
"agentpay transfers create" prints it) it defaults to that transfer's receipt,
and the receipt must name that transfer with its timestamp. The transfer is
--id, else the --transfer's, else the proof's, else the receipt's only one.

--proof FILE verifies offline. Without it the proof is fetched from --url
with --api-key (a key with the read role). FILE "-" reads standard input.
The exit status is 0 when everything verifies and 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := cmd.InOrStdin()
			var rc receiptCheck
			if logKey == "" {
				return errors.New("verify receipt: --log-key is required (the log's verifier key, from GET /v1/log/key)")
			}
			vkey := logKey
			if b, err := os.ReadFile(logKey); err == nil {
				vkey = string(b)
			}
			var err error
			if rc.key, err = sdk.ParseLogKey(vkey, origin); err != nil {
				return fmt.Errorf("verify receipt: --log-key: %w", err)
			}
			if transferFile != "" {
				b, err := readLimited(in, transferFile, receiptInputBytesMax)
				if err != nil {
					return fmt.Errorf("verify receipt: --transfer: %w", err)
				}
				rc.transfer = new(protocol.Transfer)
				if err := json.Unmarshal(b, rc.transfer); err != nil {
					return fmt.Errorf("verify receipt: --transfer %s: %w", transferFile, err)
				}
				rc.receipt = rc.transfer.Receipt
			}
			if receiptFile != "" {
				b, err := readLimited(in, receiptFile, receiptInputBytesMax)
				if err != nil {
					return fmt.Errorf("verify receipt: --receipt: %w", err)
				}
				if rc.receipt, err = receiptText(b); err != nil {
					return fmt.Errorf("verify receipt: --receipt %s: %w", receiptFile, err)
				}
			}
			if rc.receipt == "" {
				return errors.New("verify receipt: no receipt: pass --receipt FILE (or a --transfer whose JSON carries one)")
			}
			if proofFile != "" {
				b, err := readLimited(in, proofFile, receiptInputBytesMax)
				if err != nil {
					return fmt.Errorf("verify receipt: --proof: %w", err)
				}
				rc.proof = new(protocol.TransferProof)
				if err := json.Unmarshal(b, rc.proof); err != nil {
					return fmt.Errorf("verify receipt: --proof %s: %w", proofFile, err)
				}
			}
			if rc.transferID, err = pickTransferID(rc.key, id, rc.transfer, rc.proof, rc.receipt); err != nil {
				return fmt.Errorf("verify receipt: %w", err)
			}
			out := cmd.OutOrStdout()
			if rc.proof == nil {
				baseURL, _ := cmd.Flags().GetString("url")
				apiKey, _ := cmd.Flags().GetString("api-key")
				if apiKey == "" {
					return errors.New("verify receipt: no --proof FILE, and no API key to fetch the proof with (--api-key or AGENTPAY_API_KEY)")
				}
				ctx := cmd.Context()
				if ctx == nil {
					ctx = context.Background()
				}
				c := sdk.New(baseURL, apiKey, sdk.WithUserAgent("agentpay-cli/"+version))
				if rc.proof, err = c.TransferProof(ctx, rc.transferID); err != nil {
					return fmt.Errorf("verify receipt: fetching the proof of %s: %w", rc.transferID, err)
				}
				fmt.Fprintf(out, "fetched the proof of %s from %s\n", rc.transferID, baseURL)
			}
			return runVerifyReceipt(out, &rc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&logKey, "log-key", "", "the log's verifier key (vkey text, or a file holding it; required)")
	f.StringVar(&origin, "origin", "", "the log's origin (default: the key's name)")
	f.StringVar(&receiptFile, "receipt", "", "file with the receipt, or a JSON transfer or batch response carrying it")
	f.StringVar(&proofFile, "proof", "", "file with the transfer proof JSON (default: fetch it from --url)")
	f.StringVar(&transferFile, "transfer", "", "file with the transfer's JSON: the receipt must name it, with its timestamp")
	f.StringVar(&id, "id", "", "the transfer id, tr_...")
	return cmd
}

// readLimited reads a file or standard input ("-"), at most limit bytes.
func readLimited(stdin io.Reader, name string, limit int64) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

// receiptText returns the signed note of a receipt file: the note itself,
// or the "receipt" member of a JSON object (a transfer or batch response).
func receiptText(b []byte) (string, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var v struct {
			Receipt string `json:"receipt"`
		}
		if err := json.Unmarshal(t, &v); err != nil {
			return "", err
		}
		if v.Receipt == "" {
			return "", errors.New(`the JSON object has no "receipt"`)
		}
		return v.Receipt, nil
	}
	// A note ends with one newline; editors and shells may add or drop one.
	return strings.TrimRight(string(b), "\r\n") + "\n", nil
}

// pickTransferID returns the transfer to verify: --id, the --transfer's,
// the proof's, or the receipt's only transfer, which must all agree.
func pickTransferID(key *sdk.LogKey, id string, tr *protocol.Transfer, p *protocol.TransferProof, receipt string) (string, error) {
	pick := id
	for _, other := range []struct{ what, id string }{
		{"--transfer", func() string {
			if tr != nil {
				return tr.ID
			}
			return ""
		}()},
		{"the proof", func() string {
			if p != nil {
				return p.TransferID
			}
			return ""
		}()},
	} {
		switch {
		case other.id == "":
		case pick == "":
			pick = other.id
		case other.id != pick:
			return "", fmt.Errorf("%w: %s is for %s, not %s", sdk.ErrProof, other.what, other.id, pick)
		}
	}
	if pick != "" {
		return pick, nil
	}
	r, err := key.OpenReceipt(receipt)
	if err != nil {
		return "", err
	}
	if len(r.Items) != 1 {
		return "", fmt.Errorf("the receipt names %d transfers: say which with --id", len(r.Items))
	}
	return r.Items[0].ID, nil
}

// runVerifyReceipt verifies rc, printing a summary, and returns the first
// failure.
func runVerifyReceipt(out io.Writer, rc *receiptCheck) error {
	fail := func(err error) error {
		fmt.Fprintf(out, "result: invalid: %v\n", err)
		return fmt.Errorf("verify receipt: invalid: %w", err)
	}
	fmt.Fprintf(out, "log %s\n", rc.key.Origin())
	r, err := rc.key.OpenReceipt(rc.receipt)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "  ok    receipt     signed by the log key; batch entry %d; %d transfer(s)\n", r.LogIndex, len(r.Items))
	if rc.transfer != nil {
		if _, err := rc.key.VerifyReceipt(rc.receipt, *rc.transfer); err != nil {
			return fail(err)
		}
		fmt.Fprintf(out, "  ok    transfer    the receipt names %s with its timestamp %d\n", rc.transfer.ID, rc.transfer.Timestamp)
	}
	ev, err := rc.key.VerifyTransferProof(rc.receipt, rc.transferID, rc.proof)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "  ok    checkpoint  signed by the log key; size %d, root %s\n", ev.LogSize, evidence.HashB64(ev.Root))
	fmt.Fprintf(out, "  ok    proof       leaf %s -> batch entry %d -> root at size %d\n", evidence.HashB64(ev.LeafHash), ev.LogIndex, ev.LogSize)
	fmt.Fprintf(out, "result: valid: transfer %s (timestamp %d) is in the log: batch entry %d, checkpoint of size %d\n",
		ev.TransferID, ev.Timestamp, ev.LogIndex, ev.LogSize)
	return nil
}
