package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// Witness protocol (c2sp.org/tlog-witness): a log submits a checkpoint to a
// witness with POST <prefix>/add-checkpoint; the body is
//
//	old <size>\n
//	<consistency proof hash, base64>\n   (0 to 63 lines)
//	\n
//	<signed checkpoint note>
//
// and the witness answers 200 with its cosignature lines (c2sp.org/tlog-cosignature),
// or 409 with the size it knows (Content-Type text/x.tlog.size) when the old
// size is not the one it last cosigned, 403 when the log signature does not
// verify, 404 for an unknown log, 422 for a consistency proof that fails and
// 400 for a malformed request.

// Witness protocol limits.
const (
	// WitnessProofMaxHashes is the most consistency proof lines a request holds.
	WitnessProofMaxHashes = 63
	// WitnessRequestMaxBytes bounds an add-checkpoint request body.
	WitnessRequestMaxBytes = CheckpointMaxBytes + 64 + WitnessProofMaxHashes*45
	// WitnessResponseMaxBytes bounds a witness response body.
	WitnessResponseMaxBytes = 16 << 10
	// ContentTypeTlogSize is the content type of a 409 response body.
	ContentTypeTlogSize = "text/x.tlog.size"
	// addCheckpointPath is the suffix of a witness submission URL.
	addCheckpointPath = "/add-checkpoint"
)

// Errors of the witness protocol; test with errors.Is.
var (
	// ErrWitnessRequest: an add-checkpoint request body is malformed.
	ErrWitnessRequest = errors.New("evidence: invalid add-checkpoint request")
	// ErrWitness: a witness refused a checkpoint or answered badly.
	ErrWitness = errors.New("evidence: witness refused the checkpoint")
)

// AddCheckpointRequest is the body of a tlog-witness add-checkpoint request.
type AddCheckpointRequest struct {
	// OldSize is the size of the checkpoint the witness last cosigned for
	// this log (0 for none).
	OldSize uint64
	// Proof is the consistency proof from OldSize to the checkpoint's size.
	Proof []Hash
	// Checkpoint is the signed checkpoint note.
	Checkpoint []byte
}

// Marshal returns the request body.
func (r AddCheckpointRequest) Marshal() ([]byte, error) {
	if len(r.Proof) > WitnessProofMaxHashes {
		return nil, fmt.Errorf("%w: %d proof hashes, limit %d", ErrWitnessRequest, len(r.Proof), WitnessProofMaxHashes)
	}
	if len(r.Checkpoint) == 0 || len(r.Checkpoint) > CheckpointMaxBytes {
		return nil, fmt.Errorf("%w: checkpoint of %d bytes", ErrWitnessRequest, len(r.Checkpoint))
	}
	b := fmt.Appendf(nil, "old %d\n", r.OldSize)
	for _, h := range r.Proof {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, r.Checkpoint...), nil
}

// ParseAddCheckpointRequest parses a request body strictly: canonical
// decimal old size, at most WitnessProofMaxHashes canonical base64 hashes,
// an empty line and a non-empty checkpoint note (not verified here). Errors
// wrap ErrWitnessRequest.
func ParseAddCheckpointRequest(body []byte) (AddCheckpointRequest, error) {
	bad := func(format string, args ...any) (AddCheckpointRequest, error) {
		return AddCheckpointRequest{}, fmt.Errorf("%w: %s", ErrWitnessRequest, fmt.Sprintf(format, args...))
	}
	if len(body) > WitnessRequestMaxBytes {
		return bad("%d bytes, limit %d", len(body), WitnessRequestMaxBytes)
	}
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return bad("no old size line")
	}
	sizeText, ok := strings.CutPrefix(string(line), "old ")
	if !ok {
		return bad("first line %q is not \"old <size>\"", line)
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != sizeText {
		return bad("old size %q", sizeText)
	}
	r := AddCheckpointRequest{OldSize: size}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return bad("no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.Proof) == WitnessProofMaxHashes {
			return bad("more than %d proof hashes", WitnessProofMaxHashes)
		}
		h, err := base64.StdEncoding.Strict().DecodeString(string(line))
		if err != nil || len(h) != HashSizeBytes || base64.StdEncoding.EncodeToString(h) != string(line) {
			return bad("proof line %d %q is not a base64 hash", len(r.Proof)+1, line)
		}
		r.Proof = append(r.Proof, Hash(h))
	}
	if len(rest) == 0 {
		return bad("no checkpoint")
	}
	if len(rest) > CheckpointMaxBytes {
		return bad("checkpoint of %d bytes, limit %d", len(rest), CheckpointMaxBytes)
	}
	r.Checkpoint = rest
	return r, nil
}

// SplitNote splits a signed note into its text (with its final newline)
// and its signature lines ("— name base64", without newline). It verifies
// nothing; errors wrap ErrCheckpoint.
func SplitNote(msg []byte) (text string, sigLines []string, err error) {
	return splitNote(msg)
}

// AttachCosignatures returns signed with the cosignature lines (as stored
// by PutCosignature, without newline) appended, dropping duplicates. It
// verifies nothing.
func AttachCosignatures(signed []byte, sigLines [][]byte) ([]byte, error) {
	if len(sigLines) == 0 {
		return signed, nil
	}
	text, _, err := splitNote(signed)
	if err != nil {
		return nil, err
	}
	cosigned := make([][]byte, len(sigLines))
	for i, l := range sigLines {
		cosigned[i] = noteWithSigs(text, []string{string(l)})
	}
	return AddCosignatures(signed, cosigned...)
}

// noteWithSigs joins a note text and signature lines into a signed note.
func noteWithSigs(text string, sigLines []string) []byte {
	return []byte(text + "\n" + strings.Join(sigLines, "\n") + "\n")
}

// VerifyCosignatureLine checks that sigLine is a valid cosignature by
// witness on the checkpoint text (a checkpoint body with its final newline).
// Errors wrap ErrCosignature.
func VerifyCosignatureLine(text, sigLine string, witness note.Verifier) error {
	n, err := note.Open(noteWithSigs(text, []string{sigLine}), note.VerifierList(witness))
	if err != nil || len(n.Sigs) != 1 {
		return fmt.Errorf("%w: %s: %v", ErrCosignature, witness.Name(), err)
	}
	return nil
}

// ProofFunc returns the consistency proof of the log from oldSize to newSize.
type ProofFunc func(ctx context.Context, oldSize, newSize uint64) ([]Hash, error)

// WitnessClient submits checkpoints to one witness (c2sp.org/tlog-witness).
type WitnessClient struct {
	// URL is the witness's submission prefix; requests go to
	// URL + "/add-checkpoint" (a URL already ending so is used as is).
	URL string
	// Verifier checks the witness's cosignatures (NewCosignatureVerifier).
	Verifier note.Verifier
	// HTTP is the client to use; default http.DefaultClient.
	HTTP *http.Client
}

// AddCheckpoint submits the signed checkpoint, claiming the witness last
// cosigned oldSize; proofs gives the consistency proofs. If the witness
// answers 409 with another size, it retries once from that size. It
// returns the witness's cosignature lines (each verified with w.Verifier
// over the checkpoint) and the size the witness now holds. Errors wrap
// ErrWitness (or ErrCheckpoint for a bad checkpoint).
func (w *WitnessClient) AddCheckpoint(ctx context.Context, signed []byte, oldSize uint64, proofs ProofFunc) ([]string, uint64, error) {
	text, _, err := splitNote(signed)
	if err != nil {
		return nil, 0, err
	}
	c, err := ParseCheckpoint([]byte(text))
	if err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		if oldSize > c.Size {
			return nil, 0, fmt.Errorf("%w: %s holds size %d, beyond the checkpoint's %d", ErrWitness, w.Verifier.Name(), oldSize, c.Size)
		}
		var proof []Hash
		if oldSize > 0 && oldSize < c.Size {
			if proof, err = proofs(ctx, oldSize, c.Size); err != nil {
				return nil, 0, fmt.Errorf("evidence: witness %s: consistency proof %d to %d: %w", w.Verifier.Name(), oldSize, c.Size, err)
			}
		}
		lines, known, conflict, err := w.post(ctx, AddCheckpointRequest{OldSize: oldSize, Proof: proof, Checkpoint: signed}, text)
		if err != nil {
			return nil, 0, err
		}
		if !conflict {
			return lines, c.Size, nil
		}
		if attempt > 0 || known == oldSize {
			return nil, known, fmt.Errorf("%w: %s: 409 conflict at size %d", ErrWitness, w.Verifier.Name(), known)
		}
		oldSize = known
	}
}

// post sends one request. conflict reports a 409, with the witness's size.
func (w *WitnessClient) post(ctx context.Context, req AddCheckpointRequest, text string) (lines []string, known uint64, conflict bool, err error) {
	name := w.Verifier.Name()
	body, err := req.Marshal()
	if err != nil {
		return nil, 0, false, err
	}
	url := w.URL
	if !strings.HasSuffix(url, addCheckpointPath) {
		url = strings.TrimSuffix(url, "/") + addCheckpointPath
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, false, fmt.Errorf("%w: %s: %w", ErrWitness, name, err)
	}
	hc := w.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, 0, false, fmt.Errorf("%w: %s: %w", ErrWitness, name, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, WitnessResponseMaxBytes+1))
	if err != nil {
		return nil, 0, false, fmt.Errorf("%w: %s: reading the response: %w", ErrWitness, name, err)
	}
	if len(rb) > WitnessResponseMaxBytes {
		return nil, 0, false, fmt.Errorf("%w: %s: response above %d bytes", ErrWitness, name, WitnessResponseMaxBytes)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		lines, err := parseCosignatureLines(rb)
		if err != nil {
			return nil, 0, false, fmt.Errorf("%w: %s: %w", ErrWitness, name, err)
		}
		var valid []string
		for _, l := range lines {
			if VerifyCosignatureLine(text, l, w.Verifier) == nil {
				valid = append(valid, l)
			}
		}
		if len(valid) == 0 {
			return nil, 0, false, fmt.Errorf("%w: %s: no valid cosignature in the response", ErrWitness, name)
		}
		return valid, 0, false, nil
	case http.StatusConflict:
		st := strings.TrimSuffix(string(rb), "\n")
		n, perr := strconv.ParseUint(st, 10, 64)
		if perr != nil || strconv.FormatUint(n, 10) != st {
			return nil, 0, false, fmt.Errorf("%w: %s: 409 without a valid size (%q)", ErrWitness, name, clip(rb))
		}
		return nil, n, true, nil
	case http.StatusForbidden:
		return nil, 0, false, fmt.Errorf("%w: %s: 403: the witness does not accept the log's signature: %q", ErrWitness, name, clip(rb))
	case http.StatusNotFound:
		return nil, 0, false, fmt.Errorf("%w: %s: 404: the witness does not know this log: %q", ErrWitness, name, clip(rb))
	case http.StatusUnprocessableEntity:
		return nil, 0, false, fmt.Errorf("%w: %s: 422: the witness rejected the consistency proof: %q", ErrWitness, name, clip(rb))
	default:
		return nil, 0, false, fmt.Errorf("%w: %s: status %d: %q", ErrWitness, name, resp.StatusCode, clip(rb))
	}
}

func clip(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// parseCosignatureLines parses a 200 response: one or more signature lines.
func parseCosignatureLines(b []byte) ([]string, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, errors.New("response is not newline-terminated signature lines")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "— ") {
			return nil, fmt.Errorf("bad signature line %q", l)
		}
	}
	return lines, nil
}

// WitnessLog is a log a Witness cosigns for.
type WitnessLog struct {
	// Origin is the checkpoint origin.
	Origin string
	// Verifier checks the log's checkpoint signatures.
	Verifier note.Verifier
}

// Witness is a minimal c2sp.org/tlog-witness witness: an http.Handler
// serving POST .../add-checkpoint. It keeps the latest cosigned size and
// root of each log in memory (a restart forgets them: it then trusts the
// next checkpoint on first use), checks the log's signature and the
// consistency proof and cosigns with a cosignature/v1 signer (NewCosigner).
type Witness struct {
	signer note.Signer
	logs   map[string]note.Verifier

	mu     sync.Mutex
	latest map[string]Checkpoint
}

// NewWitness returns a witness cosigning with signer for the given logs.
func NewWitness(signer note.Signer, logs ...WitnessLog) (*Witness, error) {
	if signer == nil {
		return nil, errors.New("evidence: witness: nil signer")
	}
	w := &Witness{signer: signer, logs: map[string]note.Verifier{}, latest: map[string]Checkpoint{}}
	for _, l := range logs {
		if !validOrigin(l.Origin) || l.Verifier == nil {
			return nil, fmt.Errorf("evidence: witness: bad log %q", l.Origin)
		}
		w.logs[l.Origin] = l.Verifier
	}
	return w, nil
}

// Latest returns the latest checkpoint the witness cosigned for origin.
func (w *Witness) Latest(origin string) (Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.latest[origin]
	return c, ok
}

// ServeHTTP implements http.Handler.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	fail := func(status int, format string, args ...any) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(status)
		fmt.Fprintf(rw, format+"\n", args...)
	}
	if !strings.HasSuffix(r.URL.Path, addCheckpointPath) {
		fail(http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, WitnessRequestMaxBytes))
	if err != nil {
		fail(http.StatusRequestEntityTooLarge, "request too large")
		return
	}
	req, err := ParseAddCheckpointRequest(body)
	if err != nil {
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	text, _, err := splitNote(req.Checkpoint)
	if err != nil {
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	unverified, err := ParseCheckpoint([]byte(text))
	if err != nil {
		fail(http.StatusBadRequest, "%v", err)
		return
	}
	v, ok := w.logs[unverified.Origin]
	if !ok {
		fail(http.StatusNotFound, "unknown log %q", unverified.Origin)
		return
	}
	c, _, err := OpenCheckpoint(req.Checkpoint, unverified.Origin, v)
	if err != nil {
		fail(http.StatusForbidden, "%v", err)
		return
	}
	if req.OldSize > c.Size {
		fail(http.StatusBadRequest, "old size %d is above the checkpoint size %d", req.OldSize, c.Size)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	known := w.latest[c.Origin] // size 0 when none
	if req.OldSize != known.Size {
		rw.Header().Set("Content-Type", ContentTypeTlogSize)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", known.Size)
		return
	}
	switch {
	case known.Size == 0 && c.Size > 0 && known.Root == (Hash{}):
		// Nothing cosigned yet: trust on first use.
		if len(req.Proof) != 0 {
			fail(http.StatusBadRequest, "a proof from size 0 must be empty")
			return
		}
	case known.Size == c.Size:
		if len(req.Proof) != 0 || (known.Root != c.Root && known.Root != (Hash{})) {
			rw.Header().Set("Content-Type", ContentTypeTlogSize)
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", known.Size)
			return
		}
	default:
		if err := VerifyConsistency(known.Size, c.Size, req.Proof, known.Root, c.Root); err != nil {
			fail(http.StatusUnprocessableEntity, "%v", err)
			return
		}
	}
	cosigned, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		fail(http.StatusInternalServerError, "cosign: %v", err)
		return
	}
	_, sigs, err := splitNote(cosigned)
	if err != nil {
		fail(http.StatusInternalServerError, "cosign: %v", err)
		return
	}
	w.latest[c.Origin] = c
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte(strings.Join(sigs, "\n") + "\n"))
}
