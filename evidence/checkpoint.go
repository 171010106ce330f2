package evidence

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Limits on checkpoints.
const (
	// OriginMaxBytes is the longest origin line.
	OriginMaxBytes = 256
	// CheckpointMaxBytes is the largest signed checkpoint accepted, signatures included.
	CheckpointMaxBytes = 16 << 10
)

// Errors about checkpoints; test with errors.Is.
var (
	// ErrCheckpoint: a checkpoint body is malformed, from another origin, or not signed by the log.
	ErrCheckpoint = errors.New("evidence: invalid checkpoint")
	// ErrCosignature: too few valid witness cosignatures.
	ErrCosignature = errors.New("evidence: cosignature quorum not met")
)

// Checkpoint is a C2SP checkpoint body: the log's origin, size and root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
}

func validOrigin(o string) bool {
	if len(o) == 0 || len(o) > OriginMaxBytes {
		return false
	}
	for i := 0; i < len(o); i++ {
		if o[i] <= ' ' || o[i] > '~' {
			return false
		}
	}
	return true
}

// Marshal returns the checkpoint body: origin, size and base64 root, one per line.
func (c Checkpoint) Marshal() ([]byte, error) {
	if !validOrigin(c.Origin) {
		return nil, fmt.Errorf("%w: origin %q", ErrCheckpoint, c.Origin)
	}
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:])), nil
}

// ParseCheckpoint parses a checkpoint body strictly (see the package doc);
// errors wrap ErrCheckpoint.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	bad := func(what string) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrCheckpoint, what)
	}
	if len(body) > CheckpointMaxBytes {
		return bad("too large")
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return bad(fmt.Sprintf("want 3 lines, got %d", len(lines)-1))
	}
	origin, sizeText, rootText := lines[0], lines[1], lines[2]
	if !validOrigin(origin) {
		return bad(fmt.Sprintf("origin %q", origin))
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != sizeText {
		return bad(fmt.Sprintf("size %q", sizeText))
	}
	root, err := base64.StdEncoding.Strict().DecodeString(rootText)
	// The decoder skips \r and \n even in strict mode: insist on the one encoding.
	if err != nil || len(root) != len(Hash{}) || base64.StdEncoding.EncodeToString(root) != rootText {
		return bad(fmt.Sprintf("root hash %q", rootText))
	}
	c := Checkpoint{Origin: origin, Size: size}
	copy(c.Root[:], root)
	return c, nil
}

// SignCheckpoint returns the signed note of c, signed by the log's signer
// (an Ed25519 note.Signer) and any further signers.
func SignCheckpoint(c Checkpoint, signers ...note.Signer) ([]byte, error) {
	body, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(body)}, signers...)
	if err != nil {
		return nil, fmt.Errorf("evidence: sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint: it must carry a valid signature
// by logVerifier and have the given origin. Signatures by unknown keys are
// ignored; valid signatures by others (witness cosigners) are kept in the
// returned note. Errors wrap ErrCheckpoint.
func OpenCheckpoint(signed []byte, origin string, logVerifier note.Verifier, others ...note.Verifier) (Checkpoint, *note.Note, error) {
	if len(signed) > CheckpointMaxBytes {
		return Checkpoint{}, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCheckpoint, len(signed), CheckpointMaxBytes)
	}
	vs := note.VerifierList(append([]note.Verifier{logVerifier}, others...)...)
	n, err := note.Open(signed, vs)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	signedByLog := false
	for _, s := range n.Sigs {
		if s.Name == logVerifier.Name() && s.Hash == logVerifier.KeyHash() {
			signedByLog = true
		}
	}
	if !signedByLog {
		return Checkpoint{}, nil, fmt.Errorf("%w: no signature by %s", ErrCheckpoint, logVerifier.Name())
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != origin {
		return Checkpoint{}, nil, fmt.Errorf("%w: origin %q, want %q", ErrCheckpoint, c.Origin, origin)
	}
	return c, n, nil
}

// NewCosignatureVerifier returns a verifier of Ed25519 cosignature/v1
// signatures (c2sp.org/tlog-cosignature) for a witness vkey (type 0x01 or 0x04).
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("evidence: cosignature verifier: %w", err)
	}
	return v, nil
}

// NewCosigner returns a witness signer producing timestamped cosignature/v1
// signatures from an Ed25519 note skey (for tests and an operator witness).
func NewCosigner(skey string) (note.Signer, error) {
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, fmt.Errorf("evidence: cosigner: %w", err)
	}
	return s, nil
}

// AddCosignatures merges the signature lines of cosigned (the same checkpoint
// body, signed by witnesses) into signed, dropping duplicates. It checks that
// the bodies are equal but verifies no signature: call VerifyCosignatures.
func AddCosignatures(signed []byte, cosigned ...[]byte) ([]byte, error) {
	body, sigs, err := splitNote(signed)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range sigs {
		seen[s] = true
	}
	for i, c := range cosigned {
		b, more, err := splitNote(c)
		if err != nil {
			return nil, err
		}
		if b != body {
			return nil, fmt.Errorf("%w: cosigned note %d has a different body", ErrCheckpoint, i)
		}
		for _, s := range more {
			if !seen[s] {
				seen[s] = true
				sigs = append(sigs, s)
			}
		}
	}
	out := body + "\n" + strings.Join(sigs, "\n") + "\n"
	if len(out) > CheckpointMaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCheckpoint, len(out), CheckpointMaxBytes)
	}
	return []byte(out), nil
}

// splitNote splits a signed note into its text (with final newline) and signature lines.
func splitNote(msg []byte) (string, []string, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 || !bytes.HasSuffix(msg, []byte("\n")) {
		return "", nil, fmt.Errorf("%w: not a signed note", ErrCheckpoint)
	}
	body := string(msg[:i+1])
	lines := strings.Split(string(msg[i+2:len(msg)-1]), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "— ") {
			return "", nil, fmt.Errorf("%w: bad signature line %q", ErrCheckpoint, l)
		}
	}
	return body, lines, nil
}

// VerifyCosignatures opens a signed checkpoint and checks that at least quorum
// of the witnesses have a valid cosignature on it. As in note.Open, a
// signature line by a known key that fails to verify rejects the whole note:
// the server should check each cosignature before merging it. It returns the checkpoint
// and the names of the witnesses that cosigned. Errors wrap ErrCheckpoint or
// ErrCosignature.
func VerifyCosignatures(signed []byte, origin string, logVerifier note.Verifier, witnesses []note.Verifier, quorum int) (Checkpoint, []string, error) {
	c, n, err := OpenCheckpoint(signed, origin, logVerifier, witnesses...)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	var names []string
	for _, w := range witnesses {
		for _, s := range n.Sigs {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				names = append(names, w.Name())
				break
			}
		}
	}
	if len(names) < quorum {
		return c, names, fmt.Errorf("%w: %d of %d needed", ErrCosignature, len(names), quorum)
	}
	return c, names, nil
}
