package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
)

// Request decoders. Each turns a raw body into ledger values or an
// *apiError naming the bad field; none changes anything.

// decodeAssetRequest decodes the body of POST /v1/assets.
func decodeAssetRequest(body []byte) (ledger.Asset, error) {
	var p protocol.Asset
	if err := decodeJSON(body, &p, ""); err != nil {
		return ledger.Asset{}, err
	}
	return toLedgerAsset(&p)
}

// decodeAccountRequest decodes the body of POST /v1/accounts.
func decodeAccountRequest(body []byte, newID newIDFunc) (ledger.Account, error) {
	var p protocol.Account
	if err := decodeJSON(body, &p, ""); err != nil {
		return ledger.Account{}, err
	}
	return toLedgerAccount(&p, "", newID)
}

// decodeAccountBatch decodes the body of POST /v1/accounts/batch.
func decodeAccountBatch(body []byte, newID newIDFunc) ([]ledger.Account, error) {
	var req protocol.CreateAccountsRequest
	if _, err := decodeBatch(body, &req, "accounts", protocol.AccountsPerRequestMax, func() []protocol.Account { return req.Accounts }); err != nil {
		return nil, err
	}
	as := make([]ledger.Account, len(req.Accounts))
	for i := range req.Accounts {
		a, err := toLedgerAccount(&req.Accounts[i], "accounts["+itoa(i)+"].", newID)
		if err != nil {
			return nil, err
		}
		as[i] = a
	}
	return as, nil
}

// decodeTransferRequest decodes the body of POST /v1/transfers.
func decodeTransferRequest(body []byte, newID newIDFunc) (transferInput, error) {
	var p protocol.Transfer
	if err := decodeJSON(body, &p, ""); err != nil {
		return transferInput{}, err
	}
	return toLedgerTransfer(&p, "", newID)
}

// decodeTransferBatch decodes the body of POST /v1/transfers/batch.
func decodeTransferBatch(body []byte, newID newIDFunc) ([]ledger.Transfer, error) {
	var req protocol.CreateTransfersRequest
	if _, err := decodeBatch(body, &req, "transfers", protocol.TransfersPerRequestMax, func() []protocol.Transfer { return req.Transfers }); err != nil {
		return nil, err
	}
	ts := make([]ledger.Transfer, len(req.Transfers))
	for i := range req.Transfers {
		in, err := toLedgerTransfer(&req.Transfers[i], "transfers["+itoa(i)+"].", newID)
		if err != nil {
			return nil, err
		}
		ts[i] = in.t
	}
	return ts, nil
}

// Ledger writes: each decodes, then commits through call.commit.

func (s *Server) createAsset(c *call) error {
	a, err := decodeAssetRequest(c.body)
	if err != nil {
		return err
	}
	as := []ledger.Asset{a}
	return c.commit(func(rs []ledger.Result) (int, []byte) { return renderAsset(&as[0], rs[0]) },
		func(ctx context.Context, idem *ledger.Idempotency) ([]ledger.Result, error) {
			return s.engine.CreateAssets(ctx, as, idem)
		})
}

func (s *Server) createAccount(c *call) error {
	a, err := decodeAccountRequest(c.body, s.newID)
	if err != nil {
		return err
	}
	as := []ledger.Account{a}
	return c.commit(func(rs []ledger.Result) (int, []byte) { return renderAccount(&as[0], rs[0]) },
		func(ctx context.Context, idem *ledger.Idempotency) ([]ledger.Result, error) {
			return s.engine.CreateAccounts(ctx, as, idem)
		})
}

func (s *Server) createAccounts(c *call) error {
	as, err := decodeAccountBatch(c.body, s.newID)
	if err != nil {
		return err
	}
	return c.commit(func(rs []ledger.Result) (int, []byte) { return renderAccountBatch(as, rs) },
		func(ctx context.Context, idem *ledger.Idempotency) ([]ledger.Result, error) {
			return s.engine.CreateAccounts(ctx, as, idem)
		})
}

func (s *Server) createTransfer(c *call) error {
	in, err := decodeTransferRequest(c.body, s.newID)
	if err != nil {
		return err
	}
	ts := []ledger.Transfer{in.t}
	fps := fingerprints(ts)
	c.known = func(rs []ledger.Result) []ledger.TransferRecord { return knownRecords(ts, fps, rs) }
	return c.commit(func(rs []ledger.Result) (int, []byte) {
		in.t = ts[0] // with the engine-assigned fields
		return renderTransfer(&in, rs[0])
	}, func(ctx context.Context, idem *ledger.Idempotency) ([]ledger.Result, error) {
		return s.engine.CreateTransfers(ctx, ts, idem)
	})
}

func (s *Server) createTransfers(c *call) error {
	ts, err := decodeTransferBatch(c.body, s.newID)
	if err != nil {
		return err
	}
	fps := fingerprints(ts)
	c.known = func(rs []ledger.Result) []ledger.TransferRecord { return knownRecords(ts, fps, rs) }
	return c.commit(func(rs []ledger.Result) (int, []byte) { return renderTransferBatch(ts, rs) },
		func(ctx context.Context, idem *ledger.Idempotency) ([]ledger.Result, error) {
			return s.engine.CreateTransfers(ctx, ts, idem)
		})
}

// Reads.

func (s *Server) listAssets(c *call) error {
	assets, err := s.store.ListAssets(c.r.Context())
	if err != nil {
		return fmt.Errorf("api: listing assets: %w", err)
	}
	list := protocol.AssetList{Data: make([]protocol.Asset, len(assets))}
	for i := range assets {
		list.Data[i] = toProtocolAsset(&assets[i])
	}
	return c.sendValue(http.StatusOK, list)
}

// pathID parses the {id} path value with its prefix.
func pathID(r *http.Request, prefix string) (ledger.ID, error) {
	id, ok := parsePrefixedID(r.PathValue("id"), prefix)
	if !ok {
		return ledger.ID{}, invalidID("id", prefix)
	}
	return id, nil
}

// pageLimit parses ?limit= (default protocol.PageLimitDefault).
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return protocol.PageLimitDefault, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > protocol.PageLimitMax {
		return 0, invalid(codeInvalidLimit, "limit", "limit must be an integer from 1 to %d", protocol.PageLimitMax)
	}
	return n, nil
}

func (s *Server) account(c *call) (ledger.Account, error) {
	id, err := pathID(c.r, protocol.PrefixAccount)
	if err != nil {
		return ledger.Account{}, err
	}
	a, err := s.store.GetAccount(c.r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return ledger.Account{}, newError(protocol.ErrorNotFound, codeAccountNotFound, "id", "no account %s", prefixed(protocol.PrefixAccount, id))
	}
	if err != nil {
		return ledger.Account{}, fmt.Errorf("api: reading account: %w", err)
	}
	return a, nil
}

func (s *Server) getAccount(c *call) error {
	a, err := s.account(c)
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolAccount(&a))
}

func (s *Server) getBalances(c *call) error {
	a, err := s.account(c)
	if err != nil {
		return err
	}
	return c.sendValue(http.StatusOK, toProtocolAccount(&a).Balances)
}

func (s *Server) listAccounts(c *call) error {
	limit, err := pageLimit(c.r)
	if err != nil {
		return err
	}
	var after ledger.ID
	if v := c.r.URL.Query().Get("after"); v != "" {
		var ok bool
		if after, ok = parsePrefixedID(v, protocol.PrefixAccount); !ok {
			return invalid(codeInvalidCursor, "after", "after must be an account id (acct_…), the next_cursor of the previous page")
		}
	}
	page, err := s.store.ListAccounts(c.r.Context(), after, limit)
	if err != nil {
		return fmt.Errorf("api: listing accounts: %w", err)
	}
	list := protocol.AccountList{
		Data:       make([]protocol.Account, len(page.Accounts)),
		NextCursor: prefixed(protocol.PrefixAccount, page.Next),
	}
	for i := range page.Accounts {
		list.Data[i] = toProtocolAccount(&page.Accounts[i])
	}
	return c.sendValue(http.StatusOK, list)
}

func (s *Server) accountTransfers(c *call) error {
	limit, err := pageLimit(c.r)
	if err != nil {
		return err
	}
	var after uint64
	if v := c.r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return invalid(codeInvalidCursor, "after", "after must be the next_cursor of the previous page")
		}
	}
	a, err := s.account(c)
	if err != nil {
		return err
	}
	page, err := s.store.ListAccountTransfers(c.r.Context(), a.ID, after, limit)
	if err != nil {
		return fmt.Errorf("api: listing account transfers: %w", err)
	}
	list := protocol.TransferList{Data: make([]protocol.Transfer, len(page.Transfers))}
	if page.Next != 0 {
		list.NextCursor = strconv.FormatUint(page.Next, 10)
	}
	for i := range page.Transfers {
		list.Data[i] = toProtocolTransfer(&page.Transfers[i], false)
	}
	return c.sendValue(http.StatusOK, list)
}

func (s *Server) getTransfer(c *call) error {
	id, err := pathID(c.r, protocol.PrefixTransfer)
	if err != nil {
		return err
	}
	rec, err := s.store.GetTransfer(c.r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return newError(protocol.ErrorNotFound, codeTransferNotFound, "id", "no transfer %s", prefixed(protocol.PrefixTransfer, id))
	}
	if err != nil {
		return fmt.Errorf("api: reading transfer: %w", err)
	}
	return c.sendValue(http.StatusOK, toProtocolTransfer(&rec.Transfer, false))
}

// health answers 200 while the engine runs and 503 with the reason once
// it has failed.
func (s *Server) health(c *call) error {
	if err := s.engine.Err(); err != nil {
		return newError(protocol.ErrorUnavailable, codeEngineFailed, "", "the ledger engine failed: %v", err)
	}
	return c.sendValue(http.StatusOK, protocol.Health{Status: "ok"})
}
