package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

// receiptEnv is an API with the evidence log, a bank and two users.
type receiptEnv struct {
	env      *apitest.Env
	verifier note.Verifier
	bank     string
	users    [2]string
}

func newReceiptEnv(t *testing.T) *receiptEnv {
	t.Helper()
	env := apitest.New(t, apitest.Options{Evidence: true})
	v, err := note.NewVerifier(env.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	createAsset(t, env, 1, "USD")
	re := &receiptEnv{env: env, verifier: v}
	re.bank = createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	for i := range re.users {
		re.users[i] = createAccount(t, env, protocol.Account{Ledger: 1, Code: 2}).ID
	}
	return re
}

// open verifies a receipt and returns it.
func (re *receiptEnv) open(t *testing.T, signed string) evidence.Receipt {
	t.Helper()
	if signed == "" {
		t.Fatal("response has no receipt")
	}
	r, err := evidence.OpenReceipt([]byte(signed), apitest.LogOrigin, re.verifier)
	if err != nil {
		t.Fatalf("receipt %q: %v", signed, err)
	}
	return r
}

// prove fetches the proof of a transfer and checks it end to end against
// its receipt: the signed checkpoint, the leaf (its hash is the
// receipt's, its record names the transfer), the batch entry (the
// receipt's), and the two-level path to the checkpoint's root.
func (re *receiptEnv) prove(t *testing.T, r evidence.Receipt, tr protocol.Transfer) {
	t.Helper()
	item, ok := r.Item("transfer", tr.ID)
	if !ok {
		t.Fatalf("receipt does not name %s", tr.ID)
	}
	if item.Timestamp != tr.Timestamp {
		t.Fatalf("receipt timestamp %d, transfer %d", item.Timestamp, tr.Timestamp)
	}
	var p protocol.TransferProof
	do(t, re.env, "GET", "/v1/transfers/"+tr.ID+"/proof").want(t, http.StatusOK).decode(t, &p)
	cp, _, err := evidence.OpenCheckpoint([]byte(p.Checkpoint), apitest.LogOrigin, re.verifier)
	if err != nil {
		t.Fatalf("proof checkpoint: %v", err)
	}
	if cp.Size != p.LogSize || p.TransferID != tr.ID {
		t.Fatalf("proof for %s at %d, checkpoint size %d", p.TransferID, p.LogSize, cp.Size)
	}
	if evidence.LeafHash(p.Leaf) != item.LeafHash {
		t.Fatalf("proof leaf hash %v, receipt %v", evidence.LeafHash(p.Leaf), item.LeafHash)
	}
	id, _ := strings.CutPrefix(tr.ID, protocol.PrefixTransfer)
	if len(p.Leaf) != 129 || p.Leaf[0] != 'T' || !leafNames(p.Leaf, id) {
		t.Fatalf("leaf %x does not name %s", p.Leaf, tr.ID)
	}
	if p.LogIndex != r.LogIndex || evidence.LeafHash(p.BatchEntry) != r.EntryHash {
		t.Fatalf("proof entry %d, receipt entry %d", p.LogIndex, r.LogIndex)
	}
	bp := evidence.BatchProof{EntryIndex: p.BatchIndex, EntryPath: toHashes(t, p.BatchPath), BatchEntry: p.BatchEntry,
		LogIndex: p.LogIndex, LogSize: p.LogSize, LogPath: toHashes(t, p.LogPath)}
	if err := bp.Verify(p.Leaf, cp.Root); err != nil {
		t.Fatalf("proof of %s: %v", tr.ID, err)
	}
	// Not vacuous: a changed amount does not verify.
	bad := bytes.Clone(p.Leaf)
	bad[1+48+7]++
	if err := bp.Verify(bad, cp.Root); err == nil {
		t.Fatalf("proof of %s verifies a changed amount", tr.ID)
	}
}

// leafNames reports whether a transfer leaf's record starts with the id
// (26 characters of Crockford base32, as the API writes it).
func leafNames(leaf []byte, id string) bool {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var v [16]byte
	copy(v[:], leaf[1:17])
	// Encode 128 bits as 26 base32 digits, most significant first.
	var out [26]byte
	for i := 25; i >= 0; i-- {
		rem := 0
		for j := range v {
			cur := rem<<8 | int(v[j])
			v[j] = byte(cur / 32)
			rem = cur % 32
		}
		out[i] = alphabet[rem]
	}
	return string(out[:]) == id
}

func (re *receiptEnv) sign(t *testing.T) {
	t.Helper()
	if _, _, err := re.env.LogSigner.SignNow(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestTransferReceiptsAndProofs(t *testing.T) {
	t.Parallel()
	re := newReceiptEnv(t)
	env := re.env

	// One transfer: a receipt now; its proof once a checkpoint covers it.
	re.sign(t)
	key := newKey()
	var one protocol.Transfer
	transfer(t, env, protocol.Transfer{DebitAccountID: re.bank, CreditAccountID: re.users[0], Amount: u64(700), Ledger: 1, Code: 1}, idem(key)).
		want(t, http.StatusCreated).decode(t, &one)
	r1 := re.open(t, one.Receipt)
	if len(r1.Items) != 1 {
		t.Fatalf("receipt names %d records, want 1", len(r1.Items))
	}
	res := do(t, env, "GET", "/v1/transfers/"+one.ID+"/proof")
	res.wantError(t, http.StatusConflict, protocol.ErrorConflict, "proof_not_ready", "id")
	if res.Header.Get("Retry-After") == "" {
		t.Error("proof_not_ready without Retry-After")
	}
	re.sign(t)
	re.prove(t, r1, one)

	// A replay carries the same receipt; so does the transfer submitted
	// again under its id (it exists).
	var again protocol.Transfer
	transfer(t, env, protocol.Transfer{DebitAccountID: re.bank, CreditAccountID: re.users[0], Amount: u64(700), Ledger: 1, Code: 1}, idem(key)).
		want(t, http.StatusCreated).decode(t, &again)
	if again.Receipt != one.Receipt {
		t.Fatalf("replayed receipt differs:\n%s\nwant\n%s", again.Receipt, one.Receipt)
	}
	var exists protocol.Transfer
	transfer(t, env, protocol.Transfer{ID: one.ID, DebitAccountID: re.bank, CreditAccountID: re.users[0], Amount: u64(700), Ledger: 1, Code: 1}).
		want(t, http.StatusOK).decode(t, &exists)
	if exists.Receipt != one.Receipt {
		t.Fatalf("receipt of an existing transfer differs:\n%s\nwant\n%s", exists.Receipt, one.Receipt)
	}

	// A pending transfer and its post: the receipt's leaf is the stored
	// record's (with the engine-filled fields).
	pending := mustTransfer(t, env, protocol.Transfer{DebitAccountID: re.bank, CreditAccountID: re.users[1], Amount: u64(50), Ledger: 1, Code: 1,
		Flags: []string{protocol.TransferFlagPending}, TimeoutSeconds: 3600})
	post := mustTransfer(t, env, protocol.Transfer{PendingID: pending.ID, Flags: []string{protocol.TransferFlagPostPending}})

	// A batch beyond the one-by-one lookups: one receipt for all.
	var batch protocol.CreateTransfersRequest
	for i := range 40 {
		batch.Transfers = append(batch.Transfers, protocol.Transfer{DebitAccountID: re.bank, CreditAccountID: re.users[i%2], Amount: u64(uint64(i + 1)), Ledger: 1, Code: 1})
	}
	batch.Transfers = append(batch.Transfers, protocol.Transfer{DebitAccountID: re.bank, CreditAccountID: re.bank, Amount: u64(1), Ledger: 1, Code: 1}) // rejected
	var br, replayed protocol.BatchResponse
	batchKey := newKey()
	do(t, env, "POST", "/v1/transfers/batch", body(batch), idem(batchKey)).want(t, http.StatusOK).decode(t, &br)
	// A replay rebuilds the receipt from the store: the same bytes as the
	// one built from the fresh commit.
	do(t, env, "POST", "/v1/transfers/batch", body(batch), idem(batchKey)).want(t, http.StatusOK).decode(t, &replayed)
	if replayed.Receipt != br.Receipt {
		t.Fatalf("the replayed batch's receipt differs:\n%s\nwant\n%s", replayed.Receipt, br.Receipt)
	}
	rb := re.open(t, br.Receipt)
	if len(rb.Items) != 40 || br.Accepted != 40 {
		t.Fatalf("batch receipt names %d records, %d accepted; want 40", len(rb.Items), br.Accepted)
	}
	re.sign(t)
	re.prove(t, re.open(t, pending.Receipt), pending)
	re.prove(t, re.open(t, post.Receipt), post)
	for _, x := range br.Results {
		if x.Transfer != nil {
			re.prove(t, rb, *x.Transfer)
		}
	}
	re.prove(t, r1, one) // still, at the larger checkpoint

	// A balancing transfer: the engine lowers its amount; the receipt is
	// the stored record's.
	bal := mustTransfer(t, env, protocol.Transfer{DebitAccountID: re.users[1], CreditAccountID: re.users[0], Amount: u64(1_000_000), Ledger: 1, Code: 1,
		Flags: []string{protocol.TransferFlagBalancingDebit}})
	if *bal.Amount >= 1_000_000 || *bal.Amount == 0 {
		t.Fatalf("balancing transfer of %d", *bal.Amount)
	}
	re.sign(t)
	re.prove(t, re.open(t, bal.Receipt), bal)

	do(t, env, "GET", "/v1/transfers/"+protocol.PrefixTransfer+"01JDXXXXXXXXXXXXXXXXXXXXXX/proof").
		wantError(t, http.StatusNotFound, protocol.ErrorNotFound, "transfer_not_found", "id")
	do(t, env, "GET", "/v1/transfers/"+one.ID+"/proof", as("")).want(t, http.StatusUnauthorized)
}

// A server without the evidence log gives no receipts.
func TestNoReceiptWithoutLog(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.Options{})
	createAsset(t, env, 1, "USD")
	a := createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	b := createAccount(t, env, protocol.Account{Ledger: 1, Code: 1}).ID
	tr := mustTransfer(t, env, protocol.Transfer{DebitAccountID: a, CreditAccountID: b, Amount: u64(1), Ledger: 1, Code: 1})
	if tr.Receipt != "" {
		t.Fatalf("receipt %q without an evidence log", tr.Receipt)
	}
}
