package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// Witness cosignatures (c2sp.org/tlog-cosignature) and checkpoint export:
// GET /v1/log/checkpoint serves the stored note with every stored
// cosignature appended; witnesses configured with Config.Witnesses may
// POST their cosignatures to /v1/log/cosignatures.

// cosignatureLinesMax bounds the signature lines of a posted note.
const cosignatureLinesMax = 64

// withCosignatures returns the stored note at size with its stored
// cosignatures appended.
func (s *Server) withCosignatures(c *call, size uint64, signed []byte) ([]byte, error) {
	sigs, err := s.store.Cosignatures(c.r.Context(), size)
	if err != nil {
		return nil, fmt.Errorf("api: cosignatures of %d: %w", size, err)
	}
	out, err := evidence.AttachCosignatures(signed, sigs)
	if err != nil {
		return nil, fmt.Errorf("api: checkpoint %d with cosignatures: %w", size, err)
	}
	return out, nil
}

// checkpointAt returns the stored note at size, or a 404 apiError.
func (s *Server) checkpointAt(c *call, size uint64) ([]byte, error) {
	signed, err := s.store.CheckpointAt(c.r.Context(), size)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(protocol.ErrorNotFound, codeCheckpointNotFound, "size", "no checkpoint of the evidence log is stored at size %d", size)
	}
	if err != nil {
		return nil, fmt.Errorf("api: checkpoint at %d: %w", size, err)
	}
	return signed, nil
}

func (s *Server) logCheckpoint(c *call) error {
	if err := checkQuery(c.r, []string{"size"}); err != nil {
		return err
	}
	var size uint64
	var signed []byte
	var err error
	if c.r.URL.Query().Has("size") {
		if size, err = logSizeParam(c, "size"); err != nil {
			return err
		}
		if signed, err = s.checkpointAt(c, size); err != nil {
			return err
		}
	} else if size, signed, err = s.latestCheckpoint(c); err != nil {
		return err
	}
	out, err := s.withCosignatures(c, size, signed)
	if err != nil {
		return err
	}
	return sendLog(c, "text/plain; charset=utf-8", "no-cache", out)
}

func (s *Server) logCheckpoints(c *call) error {
	if err := checkQuery(c.r, []string{"after", "limit"}); err != nil {
		return err
	}
	limit, err := pageLimit(c.r)
	if err != nil {
		return err
	}
	var after uint64
	if c.r.URL.Query().Has("after") {
		if after, err = logSizeParam(c, "after"); err != nil {
			return err
		}
	}
	cps, err := s.store.ListCheckpoints(c.r.Context(), after, limit)
	if err != nil {
		return fmt.Errorf("api: listing checkpoints: %w", err)
	}
	list := protocol.LogCheckpointList{Data: make([]protocol.LogCheckpoint, len(cps))}
	for i, cp := range cps {
		out, err := s.withCosignatures(c, cp.Size, cp.Note)
		if err != nil {
			return err
		}
		list.Data[i] = protocol.LogCheckpoint{Size: cp.Size, Note: string(out)}
	}
	if len(cps) == limit {
		list.NextCursor = strconv.FormatUint(cps[len(cps)-1].Size, 10)
	}
	return c.sendValue(http.StatusOK, list)
}

// readNoteBody reads a signed-note body of at most limit bytes.
func readNoteBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := checkNoteContentType(r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(limit)
		}
		return nil, invalid(codeBodyUnreadable, "", "reading the request body: %v", err)
	}
	return body, nil
}

// checkNoteContentType accepts text/plain (utf-8) or no Content-Type.
func checkNoteContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "text/plain" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return newError(protocol.ErrorUnsupportedMedia, codeUnsupportedContentType, "",
		"the body must be a signed note, Content-Type text/plain (got %s)", ct)
}

// postCosignatures stores the cosignatures of configured witnesses on a
// stored checkpoint. Every signature line other than the log's must be a
// valid cosignature by a configured witness; otherwise nothing is stored.
func (s *Server) postCosignatures(c *call) error {
	if err := checkQuery(c.r, nil); err != nil {
		return err
	}
	if s.logVerifier == nil {
		return newError(protocol.ErrorNotFound, codeLogKeyNotFound, "", "this server has no evidence log signing key")
	}
	cp, _, err := evidence.OpenCheckpoint(c.body, s.logVerifier.Name(), s.logVerifier)
	if err != nil {
		return invalid(codeInvalidCheckpoint, "", "the body is not a checkpoint signed by this log: %v", err)
	}
	text, lines, err := evidence.SplitNote(c.body)
	if err != nil {
		return invalid(codeInvalidCheckpoint, "", "%v", err)
	}
	if len(lines) > cosignatureLinesMax {
		return invalid(codeInvalidCheckpoint, "", "%d signature lines, at most %d", len(lines), cosignatureLinesMax)
	}
	stored, err := s.checkpointAt(c, cp.Size)
	if err != nil {
		return err
	}
	storedText, _, err := evidence.SplitNote(stored)
	if err != nil {
		return fmt.Errorf("api: stored checkpoint %d: %w", cp.Size, err)
	}
	if storedText != text {
		return invalid(codeCheckpointMismatch, "",
			"the checkpoint differs from the one this log stored at size %d", cp.Size)
	}
	type cosig struct {
		witness string
		line    string
	}
	var valid []cosig
	seen := map[string]bool{}
	for _, l := range lines {
		name, hash, ok := sigLineKey(l)
		if !ok {
			return invalid(codeInvalidCosignature, "", "malformed signature line %q", l)
		}
		if name == s.logVerifier.Name() && hash == s.logVerifier.KeyHash() {
			continue
		}
		w := s.witness(name, hash)
		if w == nil {
			return newError(protocol.ErrorPermission, codeUnknownWitness, "",
				"%s (key hash %08x) is not a witness configured on this server", name, hash)
		}
		if err := evidence.VerifyCosignatureLine(text, l, w); err != nil {
			return invalid(codeInvalidCosignature, "", "the cosignature by %s does not verify", name)
		}
		if !seen[name] {
			seen[name] = true
			valid = append(valid, cosig{name, l})
		}
	}
	if len(valid) == 0 {
		return invalid(codeMissingCosignature, "", "the checkpoint carries no witness cosignature")
	}
	res := protocol.LogCosignatures{Size: cp.Size}
	for _, v := range valid {
		if err := s.store.PutCosignature(c.r.Context(), cp.Size, v.witness, []byte(v.line)); err != nil {
			return fmt.Errorf("api: store cosignature: %w", err)
		}
		res.Witnesses = append(res.Witnesses, v.witness)
	}
	return c.sendValue(http.StatusOK, res)
}

// witness returns the configured witness with that name and key hash.
func (s *Server) witness(name string, hash uint32) note.Verifier {
	for _, w := range s.witnesses {
		if w.Name() == name && w.KeyHash() == hash {
			return w
		}
	}
	return nil
}

// sigLineKey returns the key name and hash of a signature line
// "— name base64(hash || signature)".
func sigLineKey(line string) (string, uint32, bool) {
	rest, ok := strings.CutPrefix(line, "— ")
	if !ok {
		return "", 0, false
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok || name == "" || strings.Contains(b64, " ") {
		return "", 0, false
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) < 5 {
		return "", 0, false
	}
	return name, uint32(sig[0])<<24 | uint32(sig[1])<<16 | uint32(sig[2])<<8 | uint32(sig[3]), true
}
