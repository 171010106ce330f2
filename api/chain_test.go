package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/protocol"
)

// TestAccountChain: a wallet verifies its own history alone: it
// recomputes its chain from the leaves of its transfers, checks the signed
// head, matches each leaf to its receipt, and continues from a head it
// trusts; a rewritten transfer makes the next head disagree with the one
// it holds.
func TestAccountChain(t *testing.T) {
	t.Parallel()
	re := newReceiptEnv(t)
	env := re.env
	wallet := re.users[0]
	var receipts []evidence.Receipt
	var ids []string
	for i := range 7 {
		debit, credit := re.bank, wallet
		if i%3 == 2 {
			debit, credit = wallet, re.users[1]
		}
		tr := mustTransfer(t, env, protocol.Transfer{DebitAccountID: debit, CreditAccountID: credit, Amount: u64(uint64(10 + i)), Ledger: 1, Code: 1})
		receipts = append(receipts, re.open(t, tr.Receipt))
		ids = append(ids, tr.ID)
	}
	mustTransfer(t, env, protocol.Transfer{DebitAccountID: re.bank, CreditAccountID: re.users[1], Amount: u64(5), Ledger: 1, Code: 1}) // not the wallet's

	fetch := func(after uint64, limit int) protocol.AccountChain {
		t.Helper()
		var c protocol.AccountChain
		do(t, env, "GET", fmt.Sprintf("/v1/accounts/%s/chain?after=%d&limit=%d", wallet, after, limit)).want(t, http.StatusOK).decode(t, &c)
		return c
	}
	verify := func(from *evidence.ChainHead, c protocol.AccountChain) evidence.ChainHead {
		t.Helper()
		head, err := evidence.OpenChainHead([]byte(c.Head), apitest.LogOrigin, re.verifier)
		if err != nil {
			t.Fatalf("head: %v", err)
		}
		var leaves []evidence.Hash
		for _, l := range c.Links {
			lh := evidence.LeafHash(l.Leaf)
			leaves = append(leaves, lh)
			// The link's transfer is the one the wallet holds a receipt for.
			pos := int(l.Position) - 1
			if l.TransferID != ids[pos] {
				t.Fatalf("link %d is %s, want %s", l.Position, l.TransferID, ids[pos])
			}
			if it, ok := receipts[pos].Item("transfer", l.TransferID); !ok || it.LeafHash != lh {
				t.Fatalf("link %d: leaf hash differs from the receipt's", l.Position)
			}
		}
		got, err := evidence.VerifyAccountChain(wallet, from, leaves, head)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// In pages of 3, each continuing from the head before.
	first := fetch(0, 3)
	if len(first.Links) != 3 || first.Count != 3 || first.NextCursor != "3" {
		t.Fatalf("first page: %d links, count %d, next %q", len(first.Links), first.Count, first.NextCursor)
	}
	h := verify(nil, first)
	second := fetch(3, 3)
	h = verify(&h, second)
	last := fetch(6, 3)
	if len(last.Links) != 1 || last.Count != 7 || last.NextCursor != "" {
		t.Fatalf("last page: %d links, count %d, next %q", len(last.Links), last.Count, last.NextCursor)
	}
	h = verify(&h, last)
	// The whole chain at once gives the same head.
	whole := verify(nil, fetch(0, 100))
	if whole != h {
		t.Fatalf("whole chain head %+v, paged %+v", whole, h)
	}
	// A history with a transfer left out or changed does not verify.
	all := fetch(0, 100)
	head, _ := evidence.OpenChainHead([]byte(all.Head), apitest.LogOrigin, re.verifier)
	var leaves []evidence.Hash
	for _, l := range all.Links {
		leaves = append(leaves, evidence.LeafHash(l.Leaf))
	}
	if _, err := evidence.VerifyAccountChain(wallet, nil, leaves[1:], head); err == nil {
		t.Fatal("a chain missing a transfer verified")
	}
	leaves[4][0] ^= 1
	if _, err := evidence.VerifyAccountChain(wallet, nil, leaves, head); err == nil {
		t.Fatal("a chain with a changed transfer verified")
	}
	if _, err := evidence.VerifyAccountChain(re.users[1], nil, leaves, head); err == nil {
		t.Fatal("a chain verified for another account")
	}
	do(t, env, "GET", fmt.Sprintf("/v1/accounts/%s/chain?after=9", wallet)).
		wantError(t, http.StatusBadRequest, protocol.ErrorInvalidRequest, "invalid_cursor", "after")
}
