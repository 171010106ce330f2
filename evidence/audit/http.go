package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// httpBodyBytesMax bounds one response body read by HTTPSource (a batch's
// leaves are the largest: a few hundred bytes per record).
const httpBodyBytesMax = 256 << 20

// HTTPSource audits a running server through its API: the public log
// routes (checkpoints, tiles, entry bundles), GET /v1/log/batches/{index}
// for each batch's leaves rebuilt from the stored records, and
// GET /v1/accounts for the stored balances. Both need an API key with the
// read role.
//
// The audit covers the log up to the latest signed checkpoint when Size is
// first called, verified with the pinned key; checkpoints signed later are
// left out. The stored balances are read afterwards, so they match the log
// only while the server takes no writes: audit a quiet server (see Grown).
// HTTPSource cannot list every stored record, so unlike StoreSource it does
// not check that no record was added outside the log.
type HTTPSource struct {
	base     string
	apiKey   string
	client   *http.Client
	origin   string
	verifier note.Verifier

	mu    sync.Mutex
	sized bool
	size  uint64
}

var _ Source = (*HTTPSource)(nil)

// NewHTTPSource returns a Source over the server at baseURL (e.g.
// "https://agentpay.example"), authenticating with apiKey (a read key is
// enough). client may be nil (http.DefaultClient). The latest checkpoint
// is verified with origin and verifier, the log's pinned key (the same as
// Options.Origin and Options.Verifier).
func NewHTTPSource(baseURL, apiKey string, client *http.Client, origin string, verifier note.Verifier) *HTTPSource {
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTPSource{base: strings.TrimSuffix(baseURL, "/"), apiKey: apiKey, client: client, origin: origin, verifier: verifier}
}

// httpError is a non-2xx answer of the server.
type httpError struct {
	url    string
	status int
	body   protocol.Error
}

func (e *httpError) Error() string {
	if e.body.Code != "" {
		return fmt.Sprintf("GET %s: %d %s/%s: %s", e.url, e.status, e.body.Type, e.body.Code, e.body.Message)
	}
	return fmt.Sprintf("GET %s: %d %s", e.url, e.status, http.StatusText(e.status))
}

// get GETs path (below the base URL) and returns the body of a 200.
func (s *HTTPSource) get(ctx context.Context, path string) ([]byte, error) {
	u := s.base + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if s.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.apiKey)
	}
	req.Header.Set("User-Agent", "agentpay-audit")
	res, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, httpBodyBytesMax+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(b) > httpBodyBytesMax {
		return nil, fmt.Errorf("GET %s: the response exceeds %d bytes", u, httpBodyBytesMax)
	}
	if res.StatusCode != http.StatusOK {
		e := &httpError{url: u, status: res.StatusCode}
		_ = json.Unmarshal(b, &e.body)
		return nil, e
	}
	return b, nil
}

// getJSON GETs path and decodes its JSON body into v.
func (s *HTTPSource) getJSON(ctx context.Context, path string, v any) error {
	b, err := s.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s%s: %w", s.base, path, err)
	}
	return nil
}

func isStatus(err error, status int) bool {
	e, ok := errors.AsType[*httpError](err)
	return ok && e.status == status
}

// Size implements Source: the size of the latest signed checkpoint, read
// once; 0 before the first checkpoint. A latest checkpoint that the
// pinned key did not sign still gives the size: the audit then reports it
// as a divergence.
func (s *HTTPSource) Size(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sized {
		return s.size, nil
	}
	size, err := s.latest(ctx)
	if err != nil {
		return 0, err
	}
	s.size, s.sized = size, true
	return size, nil
}

// latest returns the size of the server's latest checkpoint.
func (s *HTTPSource) latest(ctx context.Context) (uint64, error) {
	if s.verifier == nil || s.origin == "" {
		return 0, errors.New("audit: the log's origin and verifier key are required")
	}
	b, err := s.get(ctx, "/v1/log/checkpoint")
	if isStatus(err, http.StatusNotFound) {
		return 0, nil // no checkpoint signed yet
	}
	if err != nil {
		return 0, err
	}
	cp, _, err := evidence.OpenCheckpoint(b, s.origin, s.verifier)
	if err == nil {
		return cp.Size, nil
	}
	// Not signed by the pinned key: take its size unverified, so that the
	// audit reads that far and reports the checkpoint as a divergence
	// when it checks the stored checkpoints.
	text, _, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return 0, fmt.Errorf("the latest checkpoint: %w", err)
	}
	cp, perr := evidence.ParseCheckpoint(append(text, '\n'))
	if perr != nil {
		return 0, fmt.Errorf("the latest checkpoint: %w", err)
	}
	return cp.Size, nil
}

// Grown reports whether the server's log has grown past the audited size
// (a newer checkpoint, or an entry at that index): the stored balances
// were then read from a ledger that had moved on, and a divergence found
// in them may be that traffic rather than tampering.
func (s *HTTPSource) Grown(ctx context.Context) (bool, error) {
	size, err := s.Size(ctx)
	if err != nil {
		return false, err
	}
	latest, err := s.latest(ctx)
	if err != nil {
		return false, err
	}
	if latest > size {
		return true, nil
	}
	// The entry at index size, not yet in a checkpoint.
	w := int(size%evidence.TileWidth) + 1
	_, err = s.get(ctx, "/v1/log/"+evidence.EntryBundlePath(size/evidence.TileWidth, w))
	if isStatus(err, http.StatusNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ReadTile implements evidence.TileReader: the tile as wide as the
// audited size makes it (the stored tile may have grown since).
func (s *HTTPSource) ReadTile(ctx context.Context, level, index uint64) ([]byte, error) {
	size, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	var n uint64 // hashes at this tile level in the tree of the audited size
	if shift := level * evidence.TileHeight; shift < 64 {
		n = size >> shift
	}
	if n == 0 || index > (n-1)/evidence.TileWidth {
		return nil, fmt.Errorf("%w: tile %d/%d is beyond size %d", evidence.ErrNotFound, level, index, size)
	}
	w := int(min(n-index*evidence.TileWidth, evidence.TileWidth))
	return s.readPath(ctx, evidence.TilePath(level, index, w))
}

// ReadEntryBundle implements evidence.TileReader: the bundle as wide as
// the audited size makes it.
func (s *HTTPSource) ReadEntryBundle(ctx context.Context, index uint64) ([]byte, error) {
	size, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	if size == 0 || index > (size-1)/evidence.TileWidth {
		return nil, fmt.Errorf("%w: entry bundle %d is beyond size %d", evidence.ErrNotFound, index, size)
	}
	w := int(min(size-index*evidence.TileWidth, evidence.TileWidth))
	return s.readPath(ctx, evidence.EntryBundlePath(index, w))
}

func (s *HTTPSource) readPath(ctx context.Context, path string) ([]byte, error) {
	b, err := s.get(ctx, "/v1/log/"+path)
	if isStatus(err, http.StatusNotFound) {
		return nil, fmt.Errorf("%w: %v", evidence.ErrNotFound, err)
	}
	return b, err
}

// Checkpoints implements Source: the stored checkpoints up to the audited
// size (GET /v1/log/checkpoints), with their cosignatures.
func (s *HTTPSource) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	size, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	after := uint64(0)
	for {
		var page protocol.LogCheckpointList
		q := url.Values{"limit": {strconv.Itoa(protocol.PageLimitMax)}, "after": {strconv.FormatUint(after, 10)}}
		if err := s.getJSON(ctx, "/v1/log/checkpoints?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		for _, c := range page.Data {
			if c.Size > size {
				return out, nil // signed after the audit began
			}
			out = append(out, Checkpoint{Size: c.Size, Note: []byte(c.Note)})
		}
		if page.NextCursor == "" || len(page.Data) == 0 {
			return out, nil
		}
		next, err := strconv.ParseUint(page.NextCursor, 10, 64)
		if err != nil || next <= after {
			return nil, fmt.Errorf("GET /v1/log/checkpoints: bad next_cursor %q", page.NextCursor)
		}
		after = next
	}
}

// BatchLeaves implements Source (GET /v1/log/batches/{index}).
func (s *HTTPSource) BatchLeaves(ctx context.Context, index uint64, _ *evidence.Entry) ([][]byte, error) {
	b, err := s.get(ctx, "/v1/log/batches/"+strconv.FormatUint(index, 10))
	if err != nil {
		return nil, err
	}
	return splitFramed(b)
}

// splitFramed splits entry-bundle framing (uint16 big-endian length, then
// the bytes) of any number of items.
func splitFramed(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("audit: truncated leaf length")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("audit: truncated leaf")
		}
		out = append(out, bytes.Clone(b[2:2+n]))
		b = b[2+n:]
	}
	return out, nil
}

// Accounts implements Source (GET /v1/accounts, every page).
func (s *HTTPSource) Accounts(ctx context.Context, fn func(ledger.Account) error) error {
	after := ""
	for {
		var page protocol.AccountList
		q := url.Values{"limit": {strconv.Itoa(protocol.PageLimitMax)}}
		if after != "" {
			q.Set("after", after)
		}
		if err := s.getJSON(ctx, "/v1/accounts?"+q.Encode(), &page); err != nil {
			return err
		}
		for i := range page.Data {
			a, err := AccountFromProtocol(&page.Data[i])
			if err != nil {
				return err
			}
			if err := fn(a); err != nil {
				return err
			}
		}
		if page.NextCursor == "" || len(page.Data) == 0 {
			return nil
		}
		if page.NextCursor == after {
			return fmt.Errorf("GET /v1/accounts: next_cursor %q repeats", after)
		}
		after = page.NextCursor
	}
}

// accountFlags maps the API's account flag names to the ledger's flags.
var accountFlags = map[string]ledger.AccountFlags{
	protocol.AccountFlagLinked:                     ledger.AccountLinked,
	protocol.AccountFlagDebitsMustNotExceedCredits: ledger.AccountDebitsMustNotExceedCredits,
	protocol.AccountFlagCreditsMustNotExceedDebits: ledger.AccountCreditsMustNotExceedDebits,
	protocol.AccountFlagHistory:                    ledger.AccountHistory,
	protocol.AccountFlagClosed:                     ledger.AccountClosed,
}

// AccountFromProtocol converts an account as the API shows it (balances
// included) back to the ledger's account, field for field.
func AccountFromProtocol(p *protocol.Account) (ledger.Account, error) {
	bad := func(format string, args ...any) (ledger.Account, error) {
		return ledger.Account{}, fmt.Errorf("audit: account %q: %s", p.ID, fmt.Sprintf(format, args...))
	}
	var a ledger.Account
	rest, ok := strings.CutPrefix(p.ID, protocol.PrefixAccount)
	if !ok {
		return bad("the id lacks the %q prefix", protocol.PrefixAccount)
	}
	var err error
	if a.ID, err = ledger.ParseID(rest); err != nil {
		return bad("id: %v", err)
	}
	if p.UserData128 != "" {
		if a.UserData128, err = ledger.ParseID(p.UserData128); err != nil {
			return bad("user_data_128: %v", err)
		}
	}
	if p.Balances == nil {
		return bad("no balances")
	}
	for _, f := range []struct {
		name string
		text string
		dst  *ledger.Uint128
	}{
		{"debits_pending", p.Balances.DebitsPending, &a.DebitsPending},
		{"debits_posted", p.Balances.DebitsPosted, &a.DebitsPosted},
		{"credits_pending", p.Balances.CreditsPending, &a.CreditsPending},
		{"credits_posted", p.Balances.CreditsPosted, &a.CreditsPosted},
	} {
		if *f.dst, err = ledger.ParseUint128(f.text); err != nil {
			return bad("%s %q: %v", f.name, f.text, err)
		}
	}
	for _, name := range p.Flags {
		f, ok := accountFlags[name]
		if !ok {
			return bad("unknown flag %q", name)
		}
		a.Flags |= f
	}
	a.UserData64, a.UserData32 = p.UserData64, p.UserData32
	a.Ledger, a.Code, a.Limit, a.Timestamp = p.Ledger, p.Code, p.Limit, p.Timestamp
	return a, nil
}
