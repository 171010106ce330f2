package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

// logEnv is an API with the evidence log and checkpoints at several sizes.
type logEnv struct {
	env      *apitest.Env
	verifier note.Verifier
	// signed maps each signed size to its verified checkpoint.
	signed map[uint64]evidence.Checkpoint
	sizes  []uint64 // signed sizes in increasing order
}

func newLogEnv(t *testing.T) *logEnv {
	t.Helper()
	env := apitest.New(t, apitest.Options{Evidence: true})
	le := &logEnv{env: env, signed: map[uint64]evidence.Checkpoint{}}

	key := do(t, env, "GET", "/v1/log/key", as("")).want(t, http.StatusOK)
	v, err := note.NewVerifier(strings.TrimSpace(string(key.Body)))
	if err != nil {
		t.Fatalf("published key %q: %v", key.Body, err)
	}
	if v.Name() != apitest.LogOrigin {
		t.Fatalf("key name %q, want the origin %q", v.Name(), apitest.LogOrigin)
	}
	le.verifier = v

	sign := func() {
		t.Helper()
		if _, _, err := env.LogSigner.SignNow(t.Context()); err != nil {
			t.Fatal(err)
		}
		c := le.checkpoint(t)
		if _, ok := le.signed[c.Size]; !ok {
			le.signed[c.Size] = c
			le.sizes = append(le.sizes, c.Size)
		}
	}
	createAsset(t, env, 1, "USD")
	sign()
	bank := createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	sign()
	var users []string
	for range 3 {
		users = append(users, createAccount(t, env, protocol.Account{Ledger: 1, Code: 2}).ID)
	}
	sign()
	for i := range 260 { // past one full tile of leaves
		mustTransfer(t, env, protocol.Transfer{DebitAccountID: bank, CreditAccountID: users[i%3], Amount: u64(uint64(i + 1)), Ledger: 1, Code: 1})
		if i%37 == 0 || i == 254 || i == 255 {
			sign()
		}
	}
	sign()
	if last := le.sizes[len(le.sizes)-1]; last < 257 {
		t.Fatalf("log size %d after 265 batches; want above one tile", last)
	}
	return le
}

// checkpoint fetches and verifies the latest checkpoint.
func (le *logEnv) checkpoint(t *testing.T) evidence.Checkpoint {
	t.Helper()
	res := do(t, le.env, "GET", "/v1/log/checkpoint", as("")).want(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("checkpoint Content-Type %q", ct)
	}
	c, _, err := evidence.OpenCheckpoint(res.Body, apitest.LogOrigin, le.verifier)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", res.Body, err)
	}
	return c
}

func (le *logEnv) latest() evidence.Checkpoint { return le.signed[le.sizes[len(le.sizes)-1]] }

// entries reads every entry of the log of size n from the served bundles.
func (le *logEnv) entries(t *testing.T, n uint64) [][]byte {
	t.Helper()
	var out [][]byte
	for b := uint64(0); b*evidence.TileWidth < n; b++ {
		w := int(min(n-b*evidence.TileWidth, evidence.TileWidth))
		res := do(t, le.env, "GET", "/v1/log/"+evidence.EntryBundlePath(b, w), as("")).want(t, http.StatusOK)
		es, err := evidence.SplitBundle(res.Body)
		if err != nil || len(es) != w {
			t.Fatalf("bundle %d: %d entries, %v; want %d", b, len(es), err, w)
		}
		out = append(out, es...)
	}
	return out
}

func TestLogProofsVerify(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	latest := le.latest()
	entries := le.entries(t, latest.Size)
	for _, size := range le.sizes {
		root := le.signed[size].Root
		for i := uint64(0); i < size; i++ {
			if size > 40 && i%7 != 0 && i != size-1 {
				continue // every entry at the small sizes, a sample at the large ones
			}
			var p protocol.LogInclusionProof
			do(t, le.env, "GET", fmt.Sprintf("/v1/log/proof/inclusion?index=%d&size=%d", i, size), as("")).
				want(t, http.StatusOK).decode(t, &p)
			if p.Index != i || p.Size != size {
				t.Fatalf("proof of %d in %d names %d in %d", i, size, p.Index, p.Size)
			}
			if err := evidence.VerifyInclusion(i, size, evidence.LeafHash(entries[i]), toHashes(t, p.Hashes), root); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
		}
	}
	// Consistency between every pair of signed sizes, and a monitor that
	// follows the checkpoints one by one.
	m := evidence.NewMonitor(apitest.LogOrigin, le.verifier)
	var prev uint64
	for k, from := range le.sizes {
		for _, to := range le.sizes[k:] {
			var p protocol.LogConsistencyProof
			do(t, le.env, "GET", fmt.Sprintf("/v1/log/proof/consistency?from=%d&to=%d", from, to), as("")).
				want(t, http.StatusOK).decode(t, &p)
			if p.From != from || p.To != to {
				t.Fatalf("proof %d→%d names %d→%d", from, to, p.From, p.To)
			}
			if err := evidence.VerifyConsistency(from, to, toHashes(t, p.Hashes), le.signed[from].Root, le.signed[to].Root); err != nil {
				t.Fatalf("consistency %d→%d: %v", from, to, err)
			}
		}
		note, err := le.env.Store.CheckpointAt(t.Context(), from)
		if err != nil {
			t.Fatal(err)
		}
		var p protocol.LogConsistencyProof
		do(t, le.env, "GET", fmt.Sprintf("/v1/log/proof/consistency?from=%d&to=%d", prev, from), as("")).
			want(t, http.StatusOK).decode(t, &p)
		if _, err := m.Update(note, toHashes(t, p.Hashes)); err != nil {
			t.Fatalf("monitor at %d: %v", from, err)
		}
		prev = from
	}
	// A wrong root fails: the proofs are not vacuous.
	var p protocol.LogInclusionProof
	do(t, le.env, "GET", fmt.Sprintf("/v1/log/proof/inclusion?index=3&size=%d", latest.Size), as("")).want(t, http.StatusOK).decode(t, &p)
	if err := evidence.VerifyInclusion(3, latest.Size, evidence.LeafHash(entries[4]), toHashes(t, p.Hashes), latest.Root); err == nil {
		t.Error("inclusion proof verified for the wrong entry")
	}
}

func TestLogTiles(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	latest := le.latest()
	full := do(t, le.env, "GET", "/v1/log/tile/0/000", as("")).want(t, http.StatusOK)
	if len(full.Body) != evidence.TileWidth*evidence.HashSizeBytes {
		t.Fatalf("full tile: %d bytes", len(full.Body))
	}
	if cc := full.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("full tile Cache-Control %q", cc)
	}
	entries := le.entries(t, latest.Size)
	for i := range evidence.TileWidth {
		if h := evidence.LeafHash(entries[i]); !bytes.Equal(full.Body[i*32:(i+1)*32], h[:]) {
			t.Fatalf("tile hash %d is not the leaf hash of entry %d", i, i)
		}
	}
	part := do(t, le.env, "GET", "/v1/log/tile/0/000.p/5", as("")).want(t, http.StatusOK)
	if !bytes.Equal(part.Body, full.Body[:5*32]) {
		t.Error("partial tile is not the prefix of the full one")
	}
	if cc := part.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("partial tile Cache-Control %q", cc)
	}
	// The root from the served tiles is the checkpoint's.
	mem := evidence.NewMemStore()
	for _, path := range []string{"tile/0/000", evidence.TilePath(0, 1, int(latest.Size-256)), evidence.TilePath(1, 0, 1)} {
		b := do(t, le.env, "GET", "/v1/log/"+path, as("")).want(t, http.StatusOK).Body
		level, index, _, err := evidence.ParseTilePath(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteTile(t.Context(), uint64(level), index, b); err != nil {
			t.Fatal(err)
		}
	}
	if root, err := evidence.RootAt(t.Context(), mem, latest.Size); err != nil || root != latest.Root {
		t.Errorf("root from served tiles = %v, %v; want %v", root, err, latest.Root)
	}
	do(t, le.env, "GET", "/v1/log/tile/0/005", as("")).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "tile_not_found", "path")
	do(t, le.env, "GET", "/v1/log/tile/entries/001.p/255", as("")).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "tile_not_found", "path")
	for _, bad := range []string{"0/5", "0/0005", "x/000", "0/000.p/0", "0/000.p/256", "0/x000/001", "entries"} {
		do(t, le.env, "GET", "/v1/log/tile/"+bad, as("")).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_tile_path", "path")
	}
}

func TestLogBadParameters(t *testing.T) {
	t.Parallel()
	le := newLogEnv(t)
	latest := le.latest()
	size, _ := le.env.Store.EvidenceSize(t.Context())
	n := latest.Size
	cases := []struct{ path, code, param string }{
		{"/v1/log/proof/inclusion", "missing_parameter", "index"},
		{"/v1/log/proof/inclusion?index=1", "missing_parameter", "size"},
		{"/v1/log/proof/inclusion?index=x&size=2", "invalid_log_size", "index"},
		{"/v1/log/proof/inclusion?index=-1&size=2", "invalid_log_size", "index"},
		{"/v1/log/proof/inclusion?index=01&size=2", "invalid_log_size", "index"},
		{"/v1/log/proof/inclusion?index=1&size=18446744073709551616", "invalid_log_size", "size"},
		{"/v1/log/proof/inclusion?index=2&size=2", "invalid_log_size", "index"},
		{"/v1/log/proof/inclusion?index=0&size=0", "invalid_log_size", "index"},
		{fmt.Sprintf("/v1/log/proof/inclusion?index=0&size=%d", n+1), "invalid_log_size", "size"},
		{"/v1/log/proof/inclusion?index=0&size=1&size=1", "unknown_parameter", "size"},
		{"/v1/log/proof/inclusion?index=0&size=1&from=0", "unknown_parameter", "from"},
		{"/v1/log/proof/consistency?to=2", "missing_parameter", "from"},
		{"/v1/log/proof/consistency?from=1", "missing_parameter", "to"},
		{"/v1/log/proof/consistency?from=3&to=2", "invalid_log_size", "from"},
		{"/v1/log/proof/consistency?from=1&to=+2", "invalid_log_size", "to"},
		{fmt.Sprintf("/v1/log/proof/consistency?from=1&to=%d", n+1), "invalid_log_size", "to"},
		{"/v1/log/checkpoint?x=1", "unknown_parameter", "x"},
		{"/v1/log/key?x=1", "unknown_parameter", "x"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			do(t, le.env, "GET", tc.path, as("")).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, tc.code, tc.param)
		})
	}
	// Nothing changed: same checkpoint, same log size, and a bad proof
	// request with a key is refused the same way.
	if c := le.checkpoint(t); c != latest {
		t.Errorf("checkpoint changed: %+v → %+v", latest, c)
	}
	if got, _ := le.env.Store.EvidenceSize(t.Context()); got != size {
		t.Errorf("evidence size changed: %d → %d", size, got)
	}
	do(t, le.env, "GET", "/v1/log/proof/consistency?from=2&to=1").wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_log_size", "from")
}

func TestLogNoCheckpointYet(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{Evidence: true})
	do(t, env, "GET", "/v1/log/checkpoint", as("")).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "checkpoint_not_found", "")
	do(t, env, "GET", "/v1/log/proof/inclusion?index=0&size=1", as("")).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "checkpoint_not_found", "")
	plain := apitest.New(t, apitest.Options{})
	do(t, plain, "GET", "/v1/log/key", as("")).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "log_key_not_found", "")
}

func toHashes(t *testing.T, bs [][]byte) []evidence.Hash {
	t.Helper()
	out := make([]evidence.Hash, len(bs))
	for i, b := range bs {
		if len(b) != len(evidence.Hash{}) {
			t.Fatalf("proof hash %d has %d bytes", i, len(b))
		}
		copy(out[i][:], b)
	}
	return out
}
