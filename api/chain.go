package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// accountChain serves GET /v1/accounts/{id}/chain: the account's hash
// chain of transfers (see evidence.ChainStart), a page at a time, with the
// log's signed head at the page's end. The chain is recomputed from the
// account's first transfer on every call, so the server signs only links
// it derived from its own records; its cost grows with the account's
// history.
func (s *Server) accountChain(c *call) error {
	if s.receiptSigner == nil {
		return newError(protocol.ErrorNotFound, codeLogKeyNotFound, "", "this server has no evidence log signing key")
	}
	limit, err := pageLimit(c.r)
	if err != nil {
		return err
	}
	var after uint64
	if v := c.r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil || strconv.FormatUint(after, 10) != v {
			return invalid(codeInvalidCursor, "after", "after must be the next_cursor of the previous page")
		}
	}
	a, err := s.account(c)
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	id := prefixed(protocol.PrefixAccount, a.ID)
	out := protocol.AccountChain{AccountID: id, Links: []protocol.AccountChainLink{}}
	link := evidence.ChainStart(id)
	var pos, cursor uint64
	for {
		page, err := s.store.ListAccountTransfers(ctx, a.ID, cursor, store.PageLimitMax)
		if err != nil {
			return fmt.Errorf("api: account chain: %w", err)
		}
		for i := range page.Transfers {
			t := &page.Transfers[i]
			if pos == after+uint64(limit) {
				out.NextCursor = strconv.FormatUint(pos, 10)
				break
			}
			rec, err := s.store.GetTransfer(ctx, t.ID)
			if err != nil {
				return fmt.Errorf("api: account chain: transfer %s: %w", t.ID, err)
			}
			leaf := ledgerlog.TransferLeaf(nil, &rec)
			link = evidence.ChainNext(link, evidence.LeafHash(leaf))
			pos++
			if pos > after {
				l := link
				out.Links = append(out.Links, protocol.AccountChainLink{Position: pos,
					TransferID: prefixed(protocol.PrefixTransfer, t.ID), Timestamp: t.Timestamp, Leaf: leaf, Link: l[:]})
			}
		}
		if out.NextCursor != "" || page.Next == 0 {
			break
		}
		cursor = page.Next
	}
	if after > pos {
		return invalid(codeInvalidCursor, "after", "after %d is beyond the account's %d transfers", after, pos)
	}
	out.Count = min(pos, after+uint64(limit))
	head, err := evidence.SignChainHead(evidence.ChainHead{Origin: s.receiptSigner.Name(), Account: id, Count: out.Count, Head: link}, s.receiptSigner)
	if err != nil {
		return fmt.Errorf("api: account chain: %w", err)
	}
	out.Head = string(head)
	return c.sendValue(http.StatusOK, out)
}
