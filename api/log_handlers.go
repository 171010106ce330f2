package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// Evidence log routes (public): the latest signed checkpoint, the
// c2sp.org/tlog-tiles tiles and entry bundles, inclusion and consistency
// proofs, and the checkpoint verifier key.

// Cache lifetimes of log responses.
const (
	// logImmutableCache is for full tiles and bundles: their content never
	// changes once they exist.
	logImmutableCache = "public, max-age=31536000, immutable"
	// logPartialCache is for partial tiles (also immutable at their path,
	// but cached briefly: clients should move to the fuller ones).
	logPartialCache = "public, max-age=60"
)

// sendLog writes a successful non-JSON log response.
func sendLog(c *call, contentType, cacheControl string, body []byte) error {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
	return nil
}

// latestCheckpoint returns the size and note of the latest signed checkpoint.
func (s *Server) latestCheckpoint(c *call) (uint64, []byte, error) {
	size, note, err := s.store.LatestCheckpoint(c.r.Context())
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, newError(protocol.ErrorNotFound, codeCheckpointNotFound, "",
			"no checkpoint of the evidence log has been signed yet")
	}
	if err != nil {
		return 0, nil, fmt.Errorf("api: latest checkpoint: %w", err)
	}
	return size, note, nil
}

func (s *Server) logKey(c *call) error {
	if err := checkQuery(c.r, nil); err != nil {
		return err
	}
	if s.logKeyText == "" {
		return newError(protocol.ErrorNotFound, codeLogKeyNotFound, "", "this server has no evidence log signing key")
	}
	return sendLog(c, "text/plain; charset=utf-8", "no-cache", []byte(s.logKeyText+"\n"))
}

func (s *Server) logTile(c *call) error {
	if err := checkQuery(c.r, nil); err != nil {
		return err
	}
	path := "tile/" + c.r.PathValue("path")
	_, _, width, err := evidence.ParseTilePath(path)
	if err != nil {
		return invalid(codeInvalidTilePath, "path", "%q is not a c2sp.org/tlog-tiles tile or entry bundle path", path)
	}
	b, err := evidence.ReadTilePath(c.r.Context(), ledgerlog.Tiles{R: s.store}, path)
	if errors.Is(err, evidence.ErrNotFound) {
		return newError(protocol.ErrorNotFound, codeTileNotFound, "path", "%s does not exist (yet)", path)
	}
	if err != nil {
		return fmt.Errorf("api: read %s: %w", path, err)
	}
	cache := logImmutableCache
	if width < evidence.TileWidth {
		cache = logPartialCache
	}
	return sendLog(c, "application/octet-stream", cache, b)
}

// logSizeParam parses a required decimal query parameter.
func logSizeParam(c *call, name string) (uint64, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return 0, invalid(codeMissingParameter, name, "query parameter %s is required", name)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return 0, invalid(codeInvalidLogSize, name, "%s must be a non-negative decimal integer without leading zeros", name)
	}
	return n, nil
}

func (s *Server) logInclusionProof(c *call) error {
	if err := checkQuery(c.r, []string{"index", "size"}); err != nil {
		return err
	}
	index, err := logSizeParam(c, "index")
	if err != nil {
		return err
	}
	size, err := logSizeParam(c, "size")
	if err != nil {
		return err
	}
	latest, _, err := s.latestCheckpoint(c)
	if err != nil {
		return err
	}
	if size > latest {
		return invalid(codeInvalidLogSize, "size", "size %d is beyond the latest checkpoint (size %d)", size, latest)
	}
	if index >= size {
		return invalid(codeInvalidLogSize, "index", "index %d is not below size %d", index, size)
	}
	p, err := evidence.InclusionProof(c.r.Context(), ledgerlog.Tiles{R: s.store}, index, size)
	if err != nil {
		return fmt.Errorf("api: inclusion proof: %w", err)
	}
	return c.sendValue(http.StatusOK, protocol.LogInclusionProof{Index: index, Size: size, Hashes: evidence.ProofBytes(p)})
}

func (s *Server) logConsistencyProof(c *call) error {
	if err := checkQuery(c.r, []string{"from", "to"}); err != nil {
		return err
	}
	from, err := logSizeParam(c, "from")
	if err != nil {
		return err
	}
	to, err := logSizeParam(c, "to")
	if err != nil {
		return err
	}
	latest, _, err := s.latestCheckpoint(c)
	if err != nil {
		return err
	}
	if to > latest {
		return invalid(codeInvalidLogSize, "to", "to %d is beyond the latest checkpoint (size %d)", to, latest)
	}
	if from > to {
		return invalid(codeInvalidLogSize, "from", "from %d is above to %d", from, to)
	}
	p, err := evidence.ConsistencyProof(c.r.Context(), ledgerlog.Tiles{R: s.store}, from, to)
	if err != nil {
		return fmt.Errorf("api: consistency proof: %w", err)
	}
	return c.sendValue(http.StatusOK, protocol.LogConsistencyProof{From: from, To: to, Hashes: evidence.ProofBytes(p)})
}
