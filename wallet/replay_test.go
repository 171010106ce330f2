package wallet_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestClosedMandateIDPaysOnce: a closed mandate id pays once. The same
// bytes again return the same payment; another closed mandate with the
// same id (another iat, another amount) is refused as a replay, alone,
// concurrently and after a restart, and moves nothing. Payment ids sort by
// the closed mandates' issue times (a time-ordered jti's time).
func TestClosedMandateIDPaysOnce(t *testing.T) {
	// A plain jti, and time-ordered ones (as the SDK makes), whose time
	// starts the payment's records instead of the iat.
	t0 := time.Unix(1_800_000_000, 0)
	for _, jtis := range [][2]string{
		{"jti-pays-once-0001", "jti-pays-once-0002"},
		{jtiOf(t0, 1), jtiOf(t0.Add(time.Second), 2)},
	} {
		t.Run(jtis[0], func(t *testing.T) { closedMandateIDPaysOnce(t, jtis[0], jtis[1]) })
	}
}

func closedMandateIDPaysOnce(t *testing.T, jti1, jti2 string) {
	e := newEnv(t, []risk.Rule{})
	agent, key := e.agent("once")
	m := e.mandate(key, agent.ID, usd(100_000))
	variant := func(jti string, iat int64, amount int64) []byte {
		c := &protocol.ClosedPaymentMandate{Claims: e.claims(agent.ID, "", time.Minute), Payee: shop,
			PaymentAmount:     protocol.Money{Amount: amount, Currency: "USD", Scale: 2},
			PaymentInstrument: protocol.PaymentInstrument{ID: e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
			OpenMandateHash:   m.Hash, Modality: protocol.HumanNotPresent}
		if jti != "" {
			c.Claims.ID = jti
		}
		c.Claims.IssuedAt += iat
		c.Claims.Expiry = c.Claims.IssuedAt + 600
		c.TransactionID = protocol.HashJWS([]byte(c.Claims.ID))
		return sign(t, key, c)
	}
	first := variant(jti1, -100, 25)
	p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: first})
	if err != nil {
		t.Fatal(err)
	}
	held := func() int64 {
		a, err := e.svc.Balance(bg, e.wallet)
		if err != nil {
			t.Fatal(err)
		}
		return int64(a.CreditsPosted.Lo) - int64(a.DebitsPosted.Lo) - int64(a.DebitsPending.Lo)
	}
	bal := held()
	again, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: first})
	if err != nil || again.ID != p.ID {
		t.Fatalf("retry: %v, %v (want payment %s)", again, err, p.ID)
	}
	refusedAll := func(when string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 32)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: variant(jti1, -int64(i+1), int64(30+i))})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if code(err) != protocol.CodeReplayed {
				t.Fatalf("%s: variant %d of a used closed mandate id: %v", when, i, err)
			}
		}
		if after := held(); after != bal {
			t.Fatalf("%s: balance %d, want %d", when, after, bal)
		}
	}
	refusedAll("before a restart")

	// Concurrent first uses of one fresh id: exactly one pays.
	var wg sync.WaitGroup
	paid := make([]*wallet.Payment, 32)
	for i := range paid {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paid[i], _ = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: variant(jti2, -int64(i), 40)})
		}()
	}
	wg.Wait()
	n := 0
	var second *wallet.Payment
	for _, q := range paid {
		if q != nil {
			n, second = n+1, q
		}
	}
	if n != 1 {
		t.Fatalf("%d of 32 closed mandates with one id paid, want 1", n)
	}
	bal -= 40
	if after := held(); after != bal {
		t.Fatalf("balance %d, want %d", after, bal)
	}
	if second.ID <= p.ID {
		t.Fatalf("payment ids do not sort by issue time: %s then %s", p.ID, second.ID)
	}
	e.checkLedger()

	e.stop()
	e.start()
	defer e.stop()
	refusedAll("after a restart")
	again, err = e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: first})
	if err != nil || again.ID != p.ID {
		t.Fatalf("retry after a restart: %v, %v (want payment %s)", again, err, p.ID)
	}
	e.checkLedger()
}

// TestMandateIssuedOnce: an open mandate is issued once: the same bytes
// again, or another mandate of the owner with the same jti, is a conflict
// that issues nothing, before and after a restart.
func TestMandateIssuedOnce(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	agent, key := e.agent("issued-once")
	cnf, _ := protocol.NewConfirmation(key.PublicKey())
	open := func(max int64) []byte {
		return sign(t, e.userKey, &protocol.OpenPaymentMandate{Claims: e.claims(e.user.ID, agent.ID, time.Hour), Cnf: cnf,
			PaymentInstrument: protocol.PaymentInstrument{ID: e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
			Constraints:       protocol.Constraints{usd(max)}})
	}
	first := open(100)
	m, err := e.svc.IssueMandate(bg, e.user.ID, first)
	if err != nil {
		t.Fatal(err)
	}
	sameJTI := func(max int64) []byte {
		c := &protocol.OpenPaymentMandate{Claims: e.claims(e.user.ID, agent.ID, time.Hour), Cnf: cnf,
			PaymentInstrument: protocol.PaymentInstrument{ID: e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
			Constraints:       protocol.Constraints{usd(max)}}
		c.Claims.ID = m.JTI
		return sign(t, e.userKey, c)
	}
	check := func(when string) {
		t.Helper()
		for name, jws := range map[string][]byte{"the same bytes": first, "the same jti": sameJTI(500)} {
			if _, err := e.svc.IssueMandate(bg, e.user.ID, jws); !errors.Is(err, wallet.ErrConflict) {
				t.Fatalf("%s: %s again: %v", when, name, err)
			}
		}
		if ms := e.svc.Mandates(e.user.ID, agent.ID); len(ms) != 1 || ms[0].ID != m.ID {
			t.Fatalf("%s: mandates %v, want only %s", when, ms, m.ID)
		}
	}
	check("before a restart")
	e.stop()
	e.start()
	defer e.stop()
	check("after a restart")
}
