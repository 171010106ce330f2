package wallet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// FuzzPayClosedMandate presents arbitrary bytes as an agent's closed
// mandate. Only the one closed mandate the agent signed pays (once; the
// same bytes again return the same payment); anything else is refused
// with a Refusal carrying a code and a detail, and moves no money.
func FuzzPayClosedMandate(f *testing.F) {
	e := newEnv(f, []risk.Rule{})
	f.Cleanup(e.stop)
	agent, key := e.agent("fuzz")
	m := e.mandate(key, agent.ID, usd(1000))
	valid := e.closed(key, agent.ID, m, shop, 10)
	dots := bytes.Count(valid, []byte("."))
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), '.'))
	f.Add(bytes.Replace(valid, []byte("."), []byte(".."), 1))
	f.Add([]byte("a.b.c"))
	f.Add([]byte("e30.e30.e30"))
	f.Add([]byte{})
	if dots != 2 {
		f.Fatalf("a compact JWS has %d dots", dots)
	}
	start := balanceOf(f, e)
	var paid string
	f.Fuzz(func(t *testing.T, closed []byte) {
		p, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: closed})
		switch {
		case err == nil && !bytes.Equal(closed, valid):
			t.Fatalf("bytes the agent did not sign paid: %q", closed)
		case err == nil && paid != "" && p.ID != paid:
			t.Fatalf("the signed closed mandate paid twice: %s then %s", paid, p.ID)
		case err == nil:
			paid = p.ID
		default:
			var r *wallet.Refusal
			if !errors.As(err, &r) || r.Code == "" || r.Detail == "" {
				t.Fatalf("refused without a code and a detail: %v", err)
			}
		}
		want := start
		if paid != "" {
			want -= 10
		}
		if got := balanceOf(t, e); got != want {
			t.Fatalf("balance %d, want %d", got, want)
		}
	})
}

func balanceOf(t testing.TB, e *env) int64 {
	t.Helper()
	a, err := e.svc.Balance(bg, e.wallet)
	if err != nil {
		t.Fatal(err)
	}
	return int64(a.CreditsPosted.Lo) - int64(a.DebitsPosted.Lo) - int64(a.DebitsPending.Lo)
}
