package api_test

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
)

// testWitness is a witness key pair: its cosigner and verifier.
type testWitness struct {
	vkey     string
	cosigner note.Signer
	verifier note.Verifier
}

func newTestWitness(t *testing.T, name string) testWitness {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := evidence.NewCosigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := evidence.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testWitness{vkey: vkey, cosigner: s, verifier: v}
}

// cosign returns signed with w's cosignature added.
func (w testWitness) cosign(t *testing.T, signed []byte) []byte {
	t.Helper()
	text, _, err := evidence.SplitNote(signed)
	if err != nil {
		t.Fatal(err)
	}
	c, err := note.Sign(&note.Note{Text: text}, w.cosigner)
	if err != nil {
		t.Fatal(err)
	}
	out, err := evidence.AddCosignatures(signed, c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func postNote(t *testing.T, env *apitest.Env, n []byte) *response {
	t.Helper()
	return do(t, env, "POST", "/v1/log/cosignatures", as(""), noIdem(), contentType("text/plain"), body(n))
}

func TestLogCosignatures(t *testing.T) {
	t.Parallel()
	w1 := newTestWitness(t, "witness.test/w1")
	w2 := newTestWitness(t, "witness.test/w2") // configured too
	stranger := newTestWitness(t, "witness.test/stranger")
	env := apitest.New(t, apitest.Options{Evidence: true, Witnesses: []string{w1.vkey, w2.vkey}})
	logV, err := note.NewVerifier(env.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	witnesses := []note.Verifier{w1.verifier, w2.verifier}
	sign := func() (uint64, []byte) {
		t.Helper()
		size, _, err := env.LogSigner.SignNow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return size, do(t, env, "GET", "/v1/log/checkpoint", as("")).want(t, http.StatusOK).Body
	}
	createAsset(t, env, 1, "USD")
	size1, cp1 := sign()
	createAccount(t, env, protocol.Account{Ledger: 1, Code: 1})
	size2, cp2 := sign()
	if size1 == 0 || size2 <= size1 {
		t.Fatalf("sizes %d, %d", size1, size2)
	}

	// w1 cosigns the older checkpoint.
	var res protocol.LogCosignatures
	postNote(t, env, w1.cosign(t, cp1)).want(t, http.StatusOK).decode(t, &res)
	if res.Size != size1 || len(res.Witnesses) != 1 || res.Witnesses[0] != "witness.test/w1" {
		t.Fatalf("POST result %+v", res)
	}
	// Posting it again is fine (idempotent by nature).
	postNote(t, env, w1.cosign(t, cp1)).want(t, http.StatusOK)

	// A cosignature by an unknown witness is refused and nothing is stored,
	// not even the valid one next to it.
	both := stranger.cosign(t, w2.cosign(t, cp2))
	postNote(t, env, both).wantError(t, http.StatusForbidden, protocol.ErrorPermission, "unknown_witness", "")
	if sigs, err := env.Store.Cosignatures(t.Context(), size2); err != nil || len(sigs) != 0 {
		t.Fatalf("stored after refusal: %q, %v", sigs, err)
	}
	// A tampered cosignature is refused.
	good := string(w2.cosign(t, cp2))
	i := strings.LastIndex(good, "— witness.test/w2 ")
	line := good[i:]
	b64 := []byte(strings.TrimSuffix(strings.TrimPrefix(line, "— witness.test/w2 "), "\n"))
	if b64[20] == 'A' {
		b64[20] = 'B'
	} else {
		b64[20] = 'A'
	}
	tampered := good[:i] + "— witness.test/w2 " + string(b64) + "\n"
	postNote(t, env, []byte(tampered)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_cosignature", "")
	if sigs, _ := env.Store.Cosignatures(t.Context(), size2); len(sigs) != 0 {
		t.Fatalf("stored after a tampered cosignature: %q", sigs)
	}
	// No cosignature, no log signature, wrong content type.
	postNote(t, env, cp2).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "missing_cosignature", "")
	text, _, _ := evidence.SplitNote(cp2)
	onlyW, _ := note.Sign(&note.Note{Text: text}, w2.cosigner)
	postNote(t, env, onlyW).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_checkpoint", "")
	do(t, env, "POST", "/v1/log/cosignatures", as(""), noIdem(), body(w2.cosign(t, cp2))).
		wantError(t, http.StatusUnsupportedMediaType, protocol.ErrorUnsupportedMedia, "unsupported_content_type", "")

	// A checkpoint the log signed but did not store, or stored with
	// another root, is refused.
	logSigner, _, err := ledgerlog.LoadOrCreateKey(env.Path+".logkey", apitest.LogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	forkAt := func(size uint64) []byte {
		t.Helper()
		n, err := evidence.SignCheckpoint(evidence.Checkpoint{Origin: apitest.LogOrigin, Size: size, Root: evidence.Hash{9}}, logSigner)
		if err != nil {
			t.Fatal(err)
		}
		return w1.cosign(t, n)
	}
	postNote(t, env, forkAt(size2)).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "checkpoint_mismatch", "")
	postNote(t, env, forkAt(size2+100)).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "checkpoint_not_found", "size")
	if sigs, _ := env.Store.Cosignatures(t.Context(), size2); len(sigs) != 0 {
		t.Fatalf("stored after a mismatch: %q", sigs)
	}

	// Both configured witnesses cosign the latest.
	postNote(t, env, w1.cosign(t, w2.cosign(t, cp2))).want(t, http.StatusOK)
	latest := do(t, env, "GET", "/v1/log/checkpoint", as("")).want(t, http.StatusOK).Body
	c, names, err := evidence.VerifyCosignatures(latest, apitest.LogOrigin, logV, witnesses, 2)
	if err != nil || c.Size != size2 || len(names) != 2 {
		t.Fatalf("latest checkpoint: %v %v %v\n%s", c, names, err, latest)
	}
	// The older checkpoint by size, with its cosignature.
	older := do(t, env, "GET", "/v1/log/checkpoint?size="+itoa(size1), as("")).want(t, http.StatusOK).Body
	if c, _, err := evidence.VerifyCosignatures(older, apitest.LogOrigin, logV, witnesses, 1); err != nil || c.Size != size1 {
		t.Fatalf("older checkpoint: %v %v\n%s", c, err, older)
	}
	do(t, env, "GET", "/v1/log/checkpoint?size=999999", as("")).wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "checkpoint_not_found", "size")
	do(t, env, "GET", "/v1/log/checkpoint?size=01", as("")).wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_log_size", "size")

	// The export lists every checkpoint in order, with cosignatures.
	var list protocol.LogCheckpointList
	do(t, env, "GET", "/v1/log/checkpoints", as("")).want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 2 || list.Data[0].Size != size1 || list.Data[1].Size != size2 || list.NextCursor != "" {
		t.Fatalf("checkpoints %+v", list)
	}
	if list.Data[1].Note != string(latest) || list.Data[0].Note != string(older) {
		t.Fatalf("listed notes differ from the served ones")
	}
	do(t, env, "GET", "/v1/log/checkpoints?limit=1", as("")).want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].Size != size1 || list.NextCursor != itoa(size1) {
		t.Fatalf("first page %+v", list)
	}
	do(t, env, "GET", "/v1/log/checkpoints?limit=1&after="+list.NextCursor, as("")).want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].Size != size2 {
		t.Fatalf("second page %+v", list)
	}
}

func itoa(n uint64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
