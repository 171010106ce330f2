package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

// TestDocProof: a doc committed with the ledger is proven into a signed
// checkpoint from the API: the leaf commits to the doc's kind, key,
// timestamp and body hash.
func TestDocProof(t *testing.T) {
	t.Parallel()
	re := newReceiptEnv(t)
	env := re.env
	re.sign(t)
	req := &ledger.Request{Docs: []ledger.Doc{{Kind: "mandate_issued", Key: "mdt_01JDX", Body: []byte(`{"jws":"a.b.c"}`)}}}
	if _, ok, err := env.Engine.Submit(t.Context(), req, nil); err != nil || !ok {
		t.Fatalf("submit: %v %v", ok, err)
	}
	d := req.Docs[0]
	path := fmt.Sprintf("/v1/log/proof/doc?kind=%s&key=%s&timestamp=%d", d.Kind, url.QueryEscape(d.Key), d.Timestamp)
	do(t, env, "GET", path).wantError(t, http.StatusConflict, protocol.ErrorConflict, "proof_not_ready", "key")
	re.sign(t)
	var p protocol.DocProof
	do(t, env, "GET", path).want(t, http.StatusOK).decode(t, &p)
	cp, _, err := evidence.OpenCheckpoint([]byte(p.Checkpoint), apitest.LogOrigin, re.verifier)
	if err != nil {
		t.Fatal(err)
	}
	bp := evidence.BatchProof{EntryIndex: p.BatchIndex, EntryPath: toHashes(t, p.BatchPath), BatchEntry: p.BatchEntry,
		LogIndex: p.LogIndex, LogSize: p.LogSize, LogPath: toHashes(t, p.LogPath)}
	if err := bp.Verify(p.Leaf, cp.Root); err != nil {
		t.Fatal(err)
	}
	body := evidence.HashBytes(d.Body)
	if len(p.Leaf) < 32 || string(p.Leaf[len(p.Leaf)-32:]) != string(body[:]) || p.Leaf[0] != 'D' {
		t.Fatalf("leaf %x does not commit to the body hash %s", p.Leaf, body)
	}
	do(t, env, "GET", fmt.Sprintf("/v1/log/proof/doc?kind=%s&key=other&timestamp=%d", d.Kind, d.Timestamp)).
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "doc_not_found", "key")
	do(t, env, "GET", "/v1/log/proof/doc?kind=Bad&key=x&timestamp=1").
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_doc", "key")
}
