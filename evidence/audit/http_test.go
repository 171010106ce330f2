package audit_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/api/apitest"
	"github.com/agentpay/agentpay/evidence/audit"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
	"github.com/agentpay/agentpay/store"
)

// httpLedger is a running API with the evidence log, written through the
// API: more than one entry bundle, a batch of more than 256 records,
// pending, posted, voided and expired transfers, and checkpoints along the
// way.
type httpLedger struct {
	env       *apitest.Env
	verifier  note.Verifier
	transfers []string // API ids
	accounts  []string
}

func newHTTPLedger(t *testing.T) *httpLedger {
	t.Helper()
	clock := apitest.NewClock(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	env := apitest.New(t, apitest.Options{Evidence: true, Clock: clock})
	v, err := note.NewVerifier(env.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	h := &httpLedger{env: env, verifier: v}
	c := sdk.New(env.URL, env.AdminSecret)
	ctx := t.Context()
	n := 0
	key := func() string { n++; return fmt.Sprintf("audit-http-%d", n) }
	sign := func() {
		t.Helper()
		if _, _, err := env.LogSigner.SignNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateAsset(ctx, key(), protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	req := []protocol.Account{{Ledger: 1, Code: 1, Flags: []string{protocol.AccountFlagHistory}}}
	for i := range 11 {
		a := protocol.Account{Ledger: 1, Code: 2, Flags: []string{protocol.AccountFlagDebitsMustNotExceedCredits},
			UserData128: ledger.IDFromUint64(uint64(7000 + i)).String(), UserData64: uint64(i), UserData32: uint32(i * 3)}
		if i%3 == 0 {
			a.Limit = 50
		}
		req = append(req, a)
	}
	res, err := c.CreateAccounts(ctx, key(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		h.accounts = append(h.accounts, r.Account.ID)
	}
	sign()
	amount := func(v uint64) *uint64 { return &v }
	send := func(tr protocol.Transfer) protocol.Transfer {
		t.Helper()
		got, err := c.CreateTransfer(ctx, key(), tr)
		if err != nil {
			t.Fatal(err)
		}
		h.transfers = append(h.transfers, got.ID)
		return *got
	}
	// One batch of 300 transfers: more leaves than an entry bundle holds.
	var batch []protocol.Transfer
	for i := range 300 {
		batch = append(batch, protocol.Transfer{DebitAccountID: h.accounts[0], CreditAccountID: h.accounts[1+i%11],
			Amount: amount(uint64(100 + i)), Ledger: 1, Code: 1})
	}
	br, err := c.CreateTransfers(ctx, key(), batch)
	if err != nil || br.Rejected != 0 {
		t.Fatalf("batch: %v %+v", err, br)
	}
	for _, r := range br.Results {
		h.transfers = append(h.transfers, r.Transfer.ID)
	}
	sign()
	// Enough single transfers for a second entry bundle and a partial one.
	for i := range 270 {
		send(protocol.Transfer{DebitAccountID: h.accounts[1+i%11], CreditAccountID: h.accounts[1+(i+1)%11],
			Amount: amount(uint64(1 + i%5)), Ledger: 1, Code: 1})
		if i%100 == 99 {
			sign()
		}
	}
	pending := []string{protocol.TransferFlagPending}
	p1 := send(protocol.Transfer{DebitAccountID: h.accounts[2], CreditAccountID: h.accounts[3], Amount: amount(40), Ledger: 1, Code: 1, Flags: pending, TimeoutSeconds: 60})
	p2 := send(protocol.Transfer{DebitAccountID: h.accounts[4], CreditAccountID: h.accounts[5], Amount: amount(30), Ledger: 1, Code: 1, Flags: pending})
	p3 := send(protocol.Transfer{DebitAccountID: h.accounts[6], CreditAccountID: h.accounts[7], Amount: amount(20), Ledger: 1, Code: 1, Flags: pending})
	send(protocol.Transfer{DebitAccountID: h.accounts[8], CreditAccountID: h.accounts[9], Amount: amount(10), Ledger: 1, Code: 1, Flags: pending})
	send(protocol.Transfer{PendingID: p2.ID, Flags: []string{protocol.TransferFlagPostPending}, Amount: amount(25)})
	send(protocol.Transfer{PendingID: p3.ID, Flags: []string{protocol.TransferFlagVoidPending}})
	_ = p1
	clock.Advance(61 * time.Second)
	if err := env.Engine.Tick(ctx); err != nil { // p1 expires
		t.Fatal(err)
	}
	sign()
	return h
}

func (h *httpLedger) auditHTTP(t *testing.T) (*audit.Report, *audit.HTTPSource) {
	t.Helper()
	src := audit.NewHTTPSource(h.env.URL, h.env.ReaderSecret, nil, apitest.LogOrigin, h.verifier)
	rep, err := audit.Run(t.Context(), src, audit.Options{Origin: apitest.LogOrigin, Verifier: h.verifier})
	if err != nil {
		t.Fatal(err)
	}
	return rep, src
}

func (h *httpLedger) auditStore(t *testing.T) *audit.Report {
	t.Helper()
	rep, err := audit.Run(t.Context(), audit.NewStoreSource(h.env.Store), audit.Options{Origin: apitest.LogOrigin, Verifier: h.verifier})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func apiID(t *testing.T, s, prefix string) ledger.ID {
	t.Helper()
	id, err := ledger.ParseID(strings.TrimPrefix(s, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// An audit over the API finds what an audit of the store finds.
func TestHTTPSourceMatchesStore(t *testing.T) {
	t.Parallel()
	h := newHTTPLedger(t)
	rep, src := h.auditHTTP(t)
	if rep.Divergence != nil {
		t.Fatalf("a clean ledger diverges over HTTP: %v", rep.Divergence)
	}
	want := h.auditStore(t)
	if want.Divergence != nil {
		t.Fatalf("a clean ledger diverges: %v", want.Divergence)
	}
	if rep.Listed || !want.Listed {
		t.Fatalf("Listed: HTTP %v, store %v", rep.Listed, want.Listed)
	}
	want.Listed = false
	if *rep != *want {
		t.Fatalf("HTTP report %+v\nstore report %+v", rep, want)
	}
	if rep.Size <= 256 || rep.Transfers != len(h.transfers) || rep.Accounts != 12 || rep.Stored != 12 ||
		rep.Assets != 1 || rep.Expiries != 1 || rep.Pending != 1 || rep.Latest != rep.Size {
		t.Fatalf("report %+v; want %d transfers, 12 accounts, 1 expiry, 1 pending", rep, len(h.transfers))
	}
	// The stored accounts convert back exactly (the audit compares every field).
	for _, id := range h.accounts {
		p, err := sdk.New(h.env.URL, h.env.ReaderSecret).GetAccount(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := audit.AccountFromProtocol(p)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := h.env.Store.GetAccount(t.Context(), apiID(t, id, protocol.PrefixAccount))
		if err != nil {
			t.Fatal(err)
		}
		if got != stored {
			t.Fatalf("account %s converts to %+v, stored %+v", id, got, stored)
		}
	}

	// New traffic: the audit stays at its size, and says the log grew.
	if grown, err := src.Grown(t.Context()); err != nil || grown {
		t.Fatalf("Grown before new traffic: %v, %v", grown, err)
	}
	amount := uint64(3)
	if _, err := sdk.New(h.env.URL, h.env.AdminSecret).CreateTransfer(t.Context(), "after-audit", protocol.Transfer{
		DebitAccountID: h.accounts[0], CreditAccountID: h.accounts[1], Amount: &amount, Ledger: 1, Code: 1}); err != nil {
		t.Fatal(err)
	}
	if grown, err := src.Grown(t.Context()); err != nil || !grown {
		t.Fatalf("Grown after a new transfer: %v, %v", grown, err)
	}
	if _, _, err := h.env.LogSigner.SignNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if size, err := src.Size(t.Context()); err != nil || size != rep.Size {
		t.Fatalf("Size moved from %d to %d (%v)", rep.Size, size, err)
	}
	cps, err := src.Checkpoints(t.Context())
	if err != nil || len(cps) != rep.Checkpoints || cps[len(cps)-1].Size != rep.Size {
		t.Fatalf("checkpoints after a new one: %d (%v), want %d up to size %d", len(cps), err, rep.Checkpoints, rep.Size)
	}
	if rep, _ := h.auditHTTP(t); rep.Divergence != nil || rep.Transfers != len(h.transfers)+1 {
		t.Fatalf("a fresh audit after the new checkpoint: %+v, %v", rep, rep.Divergence)
	}
}

// Tampering with the stored records of a running server is caught over
// the API, and the report says where.
func TestHTTPSourceCatchesTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(t *testing.T, h *httpLedger, d *ledgerDir) string
	}{
		{"change a transfer", func(t *testing.T, h *httpLedger, d *ledgerDir) string {
			id := apiID(t, h.transfers[150], protocol.PrefixTransfer) // in the big batch
			rec, err := h.env.Store.GetTransfer(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			size, err := h.env.Store.EvidenceSize(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			be, err := ledgerlog.FindBatch(t.Context(), h.env.Store, 0, rec.Timestamp, size)
			if err != nil {
				t.Fatal(err)
			}
			db := d.db(t)
			rowid, recs, i := d.chunkOf(t, db, id)
			recs[i*store.TransferRecordSize+48+7]++ // amount + 1
			exec(t, db, "UPDATE transfer_chunks SET records = ? WHERE rowid = ?", recs, rowid)
			return fmt.Sprintf("log entry %d (", be.Index)
		}},
		{"rewrite two balances, keeping the ledger balanced", func(t *testing.T, h *httpLedger, d *ledgerDir) string {
			// The engine refuses to load a ledger whose debits and credits
			// differ: move 1,000,000 between two accounts' stored balances.
			credited := apiID(t, h.accounts[5], protocol.PrefixAccount)
			debited := apiID(t, h.accounts[0], protocol.PrefixAccount)
			db := d.db(t)
			rewrite := func(id ledger.ID, rec []byte) []byte {
				a, err := store.DecodeAccount(rec)
				if err != nil {
					t.Fatal(err)
				}
				if id == credited {
					a.CreditsPosted, _ = a.CreditsPosted.AddU64(1_000_000)
				} else {
					a.DebitsPosted, _ = a.DebitsPosted.AddU64(1_000_000)
				}
				out := make([]byte, store.AccountRecordSize)
				store.EncodeAccount(out, &a)
				return out
			}
			for _, id := range []ledger.ID{credited, debited} {
				var rec []byte
				if err := db.QueryRow("SELECT rec FROM accounts WHERE id = ?", id[:]).Scan(&rec); err == nil {
					exec(t, db, "UPDATE accounts SET rec = ? WHERE id = ?", rewrite(id, rec), id[:])
				}
			}
			rows, err := db.Query("SELECT rowid, records FROM account_log")
			if err != nil {
				t.Fatal(err)
			}
			updates := map[int64][]byte{}
			for rows.Next() {
				var rowid int64
				var recs []byte
				if err := rows.Scan(&rowid, &recs); err != nil {
					t.Fatal(err)
				}
				for off := 0; off < len(recs); off += store.AccountRecordSize {
					if id := ledger.ID(recs[off : off+16]); id == credited || id == debited {
						copy(recs[off:], rewrite(id, recs[off:off+store.AccountRecordSize]))
						updates[rowid] = recs
					}
				}
			}
			rows.Close()
			if len(updates) == 0 {
				t.Fatal("the accounts are not stored")
			}
			for rowid, recs := range updates {
				exec(t, db, "UPDATE account_log SET records = ? WHERE rowid = ?", recs, rowid)
			}
			// Accounts are listed in id order: the first one diverges.
			return "account " + min(credited.String(), debited.String())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHTTPLedger(t)
			want := tc.tamper(t, h, &ledgerDir{path: h.env.Path})
			h.env.Restart() // the server reads the tampered store afresh
			rep, _ := h.auditHTTP(t)
			if rep.Divergence == nil {
				t.Fatalf("tampering not caught over HTTP; report %+v", rep)
			}
			if !strings.HasPrefix(rep.Divergence.Where, want) {
				t.Fatalf("divergence at %q (%s), want at %q", rep.Divergence.Where, rep.Divergence.What, want)
			}
			t.Logf("caught over HTTP: %v", rep.Divergence)
		})
	}
}

func TestAccountFromProtocolRefuses(t *testing.T) {
	good := protocol.Account{ID: protocol.PrefixAccount + ledger.IDFromUint64(1).String(), Ledger: 1, Code: 1,
		Balances: &protocol.Balances{DebitsPending: "0", DebitsPosted: "1", CreditsPending: "0", CreditsPosted: "340282366920938463463374607431768211455"}}
	if _, err := audit.AccountFromProtocol(&good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(a *protocol.Account){
		"no prefix":     func(a *protocol.Account) { a.ID = ledger.IDFromUint64(1).String() },
		"bad id":        func(a *protocol.Account) { a.ID = protocol.PrefixAccount + "x" },
		"no balances":   func(a *protocol.Account) { a.Balances = nil },
		"bad balance":   func(a *protocol.Account) { b := *a.Balances; b.DebitsPosted = "-1"; a.Balances = &b },
		"unknown flag":  func(a *protocol.Account) { a.Flags = []string{"frozen"} },
		"bad user data": func(a *protocol.Account) { a.UserData128 = "nope" },
	} {
		a := good
		mod(&a)
		if _, err := audit.AccountFromProtocol(&a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
