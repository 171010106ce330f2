package sdk_test

import (
	"net/http"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

func hashes(t *testing.T, bs [][]byte) []evidence.Hash {
	t.Helper()
	out := make([]evidence.Hash, len(bs))
	for i, b := range bs {
		if len(b) != len(evidence.Hash{}) {
			t.Fatalf("hash %d: %d bytes", i, len(b))
		}
		copy(out[i][:], b)
	}
	return out
}

// TestLogMonitor: the client fetches checkpoints and consistency proofs
// and an evidence.Monitor accepts each growth; inclusion proofs verify.
func TestLogMonitor(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{Evidence: true})
	ctx := t.Context()
	admin := sdk.New(env.URL, env.AdminSecret)
	public := sdk.New(env.URL, "")
	vkey, err := public.LogKey(ctx)
	if err != nil || vkey != env.LogKey {
		t.Fatalf("LogKey = %q, %v; want %q", vkey, err, env.LogKey)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	m := evidence.NewMonitor(apitest.LogOrigin, v)
	follow := func() evidence.Checkpoint {
		t.Helper()
		if _, _, err := env.LogSigner.SignNow(ctx); err != nil {
			t.Fatal(err)
		}
		signed, err := public.LogCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var proof [][]byte
		if old, _, ok := m.Latest(); ok {
			c, _, err := evidence.OpenCheckpoint(signed, apitest.LogOrigin, v)
			if err != nil {
				t.Fatal(err)
			}
			p, err := public.LogConsistencyProof(ctx, old.Size, c.Size)
			if err != nil {
				t.Fatal(err)
			}
			proof = p.Hashes
		}
		c, err := m.Update(signed, hashes(t, proof))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := admin.CreateAsset(ctx, "", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	follow()
	for i := range 5 {
		if _, err := admin.CreateAccount(ctx, "", protocol.Account{Ledger: 1, Code: uint16(i + 1)}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			follow()
		}
	}
	c := follow()
	if c.Size < 6 {
		t.Fatalf("size %d after 6 batches", c.Size)
	}
	bundle, err := public.LogTile(ctx, evidence.EntryBundlePath(0, int(c.Size)))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := evidence.SplitBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Size {
		p, err := public.LogInclusionProof(ctx, i, c.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := evidence.VerifyInclusion(i, c.Size, evidence.LeafHash(entries[i]), hashes(t, p.Hashes), c.Root); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	_, err = public.LogConsistencyProof(ctx, c.Size+1, c.Size+1)
	wantAPIError(t, err, http.StatusBadRequest, "invalid_log_size", "to")
}
