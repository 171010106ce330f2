package api

import (
	"fmt"
	"strconv"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
)

// Audit routes: what an auditor needs beyond the public log to check the
// ledger against it (see evidence/audit.HTTPSource).

// logBatch serves GET /v1/log/batches/{index}: the leaves of the batch
// tree of log entry index, rebuilt from the records the ledger stores in
// the entry's timestamp range, in c2sp.org/tlog-tiles entry-bundle framing
// (each leaf a big-endian uint16 length and the bytes). The server does
// not check them against the entry: that is the auditor's job.
func (s *Server) logBatch(c *call) error {
	v := c.r.PathValue("index")
	index, err := strconv.ParseUint(v, 10, 64)
	if err != nil || strconv.FormatUint(index, 10) != v {
		return invalid(codeInvalidLogIndex, "index", "index must be a non-negative decimal integer without leading zeros")
	}
	latest, _, err := s.latestCheckpoint(c)
	if err != nil {
		return err
	}
	if index >= latest {
		return newError(protocol.ErrorNotFound, codeLogEntryNotFound, "index",
			"log entry %d is not covered by the latest checkpoint (size %d)", index, latest)
	}
	ctx := c.r.Context()
	raw, err := evidence.ReadEntry(ctx, ledgerlog.Tiles{R: s.store}, index)
	if err != nil {
		return fmt.Errorf("api: read log entry %d: %w", index, err)
	}
	e, err := evidence.ParseEntry(raw)
	if err != nil {
		return fmt.Errorf("api: log entry %d: %w", index, err)
	}
	if e.Kind != evidence.KindBatch || e.Batch == nil || e.Batch.To == 0 {
		return newError(protocol.ErrorNotFound, codeBatchNotFound, "index",
			"log entry %d (%s) is not a ledger batch entry", index, e.ID)
	}
	recs, err := ledgerlog.Rebuild(ctx, s.store, e)
	if err != nil {
		return fmt.Errorf("api: rebuild batch of log entry %d: %w", index, err)
	}
	var body []byte
	for _, leaf := range recs.Leaves() {
		if body, err = evidence.AppendBundleEntry(body, leaf); err != nil {
			return fmt.Errorf("api: batch of log entry %d: %w", index, err)
		}
	}
	if body == nil {
		body = []byte{}
	}
	return sendLog(c, "application/octet-stream", "private, no-cache", body)
}
