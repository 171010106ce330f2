package wallet_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
	"github.com/agentpay/agentpay/wallet"
)

// TestAgentKeys: a new credential rotates an agent's key (what the old
// key signs is refused from then on), another owner cannot take the agent
// over, and revoking the agent stops it at once.
func TestAgentKeys(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	defer func() { e.stop() }()
	agent, oldKey := e.agent("rotor")
	m := e.mandate(oldKey, agent.ID, usd(1000))
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(oldKey, agent.ID, m, shop, 10)}); err != nil {
		t.Fatal(err)
	}
	// Rotate: the same agent id with a new key.
	newKey, err := protocol.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cnf, _ := protocol.NewConfirmation(newKey.PublicKey())
	cred := &protocol.AgentCredential{Claims: e.claims(e.user.ID, agent.ID, 24*time.Hour), Cnf: cnf}
	rotated, err := e.svc.RegisterAgent(bg, sign(t, e.userKey, cred))
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := rotated.Active(); !ok || k.KeyID != newKey.PublicKey().KeyID() || len(rotated.Keys) != 2 || rotated.Keys[0].RevokedAt == nil {
		t.Fatalf("after rotation: %+v", rotated)
	}
	if _, active, err := e.svc.AgentByKey(oldKey.PublicKey().KeyID()); err != nil || active {
		t.Fatalf("old key still active: %v %v", active, err)
	}
	// The old key's closed mandates are refused; the mandate bound to the
	// old key cannot be used with the new one either.
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(oldKey, agent.ID, m, shop, 10)}); code(err) != protocol.CodeKeyRevoked {
		t.Fatalf("old key after rotation: %v", err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(newKey, agent.ID, m, shop, 10)}); code(err) == "" {
		t.Fatalf("new key under a mandate bound to the old one: %v", err)
	}
	m2 := e.mandate(newKey, agent.ID, usd(1000))
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(newKey, agent.ID, m2, shop, 10)}); err != nil {
		t.Fatalf("new key under its mandate: %v", err)
	}
	// Another owner cannot rotate someone else's agent.
	otherKey, _ := protocol.GenerateEd25519Key(rand.Reader)
	other, err := e.svc.CreateUser(bg, "Mallory", otherKey.PublicKey().JWK())
	if err != nil {
		t.Fatal(err)
	}
	thief, _ := protocol.GenerateEd25519Key(rand.Reader)
	tcnf, _ := protocol.NewConfirmation(thief.PublicKey())
	steal := &protocol.AgentCredential{Claims: e.claims(other.ID, agent.ID, 24*time.Hour), Cnf: tcnf}
	if _, err := e.svc.RegisterAgent(bg, sign(t, otherKey, steal)); !errors.Is(err, wallet.ErrForbidden) {
		t.Fatalf("another owner took the agent over: %v", err)
	}
	// Revocation.
	if _, err := e.svc.RevokeAgent(bg, other.ID, agent.ID); !errors.Is(err, wallet.ErrForbidden) {
		t.Fatalf("another owner revoked the agent: %v", err)
	}
	if _, err := e.svc.RevokeAgent(bg, e.user.ID, agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(newKey, agent.ID, m2, shop, 10)}); code(err) != protocol.CodeKeyRevoked {
		t.Fatalf("revoked agent: %v", err)
	}
	// A restart rebuilds all of it (mandates bound to revoked keys included).
	e.stop()
	e.start()
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(newKey, agent.ID, m2, shop, 10)}); code(err) != protocol.CodeKeyRevoked {
		t.Fatalf("revoked agent after a restart: %v", err)
	}
}

// TestUserKeyRotation: rotating a user's key revokes the old one at once:
// a mandate it signed stops paying, it cannot sign new ones, nobody can
// register it again, and a mandate signed with the new key pays; all of it
// after a restart too.
func TestUserKeyRotation(t *testing.T) {
	e := newEnv(t, []risk.Rule{})
	agent, key := e.agent("owned")
	m := e.mandate(key, agent.ID, usd(1000))
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); err != nil {
		t.Fatal(err)
	}
	oldKey := e.userKey
	newKey, _ := protocol.GenerateEd25519Key(rand.Reader)
	u, err := e.svc.RotateUserKey(bg, e.user.ID, newKey.PublicKey().JWK())
	if err != nil || u.KeyID != newKey.PublicKey().KeyID() || len(u.Revoked) != 1 {
		t.Fatalf("rotate: %+v, %v", u, err)
	}
	check := func() {
		t.Helper()
		if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m, shop, 10)}); code(err) != protocol.CodeKeyRevoked {
			t.Fatalf("payment under a mandate of the revoked key: %v", err)
		}
		cnf, _ := protocol.NewConfirmation(key.PublicKey())
		open := &protocol.OpenPaymentMandate{Claims: e.claims(e.user.ID, agent.ID, 24*time.Hour), Cnf: cnf,
			PaymentInstrument: protocol.PaymentInstrument{ID: e.wallet.ID, Type: protocol.PaymentInstrumentWallet},
			Constraints:       protocol.Constraints{usd(100)}}
		if _, err := e.svc.IssueMandate(bg, e.user.ID, sign(t, oldKey, open)); code(err) != protocol.CodeKeyRevoked {
			t.Fatalf("a mandate signed with the revoked key: %v", err)
		}
		if _, err := e.svc.CreateUser(bg, "Eve", oldKey.PublicKey().JWK()); !errors.Is(err, wallet.ErrConflict) {
			t.Fatalf("the revoked key registered again: %v", err)
		}
	}
	check()
	e.userKey = newKey
	m2 := e.mandate(key, agent.ID, usd(1000))
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m2, shop, 10)}); err != nil {
		t.Fatalf("under a mandate of the new key: %v", err)
	}
	e.stop()
	e.start()
	defer e.stop()
	check()
	if _, err := e.svc.Pay(bg, agent.ID, wallet.PayRequest{ClosedMandate: e.closed(key, agent.ID, m2, shop, 10)}); err != nil {
		t.Fatalf("after restart, under a mandate of the new key: %v", err)
	}
}
