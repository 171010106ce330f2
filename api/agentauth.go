package api

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/wallet"
)

// Agent authentication: the agent-facing routes (POST /v1/payments) take
// no API key. The caller is an agent proving possession of its registered
// key with an RFC 9421 request signature in AgentPay's profile
// (protocol.VerifyRequest): Ed25519, keyid the key's thumbprint, created,
// expires and a nonce, covering "@method", "@target-uri", "content-type",
// "content-digest" (required: these routes take a body) and
// "idempotency-key" when the request has one. The key must be the active
// key of a registered agent (a rotated or revoked key is refused with
// key_revoked), and each (keyid, nonce) pair is accepted once
// (nonce_replayed): the server keeps the nonces in memory for the
// signature's validity, so a node behind a load balancer needs requests
// of one agent routed to one node (or a shared protocol.NonceCache).

// agentKeys resolves a request signature's keyid to the active key of a
// registered agent.
type agentKeys struct{ svc *wallet.Service }

// ResolveKey implements protocol.KeyResolver.
func (k agentKeys) ResolveKey(_ context.Context, keyID string) (crypto.PublicKey, error) {
	a, active, err := k.svc.AgentByKey(keyID)
	if errors.Is(err, wallet.ErrNotFound) {
		return nil, fmt.Errorf("%w: no agent has key %s", protocol.ErrUnknownKey, keyID)
	}
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fmt.Errorf("%w: key %s of agent %s is revoked", protocol.ErrRevokedKey, keyID, a.ID)
	}
	for _, key := range a.Keys {
		if key.KeyID == keyID {
			return k.svc.VerificationKey(keyID, key.Key)
		}
	}
	return nil, fmt.Errorf("%w: key %s", protocol.ErrUnknownKey, keyID)
}

// prepareAgent authenticates an agent route's caller by its request
// signature and reads the body it covers. The agent id comes from the
// verified key only.
func (s *Server) prepareAgent(c *call, rt *route) error {
	r := c.r
	if r.Header.Get(protocol.HeaderSignatureInput) == "" || r.Header.Get(protocol.HeaderSignature) == "" {
		return signatureError(fmt.Errorf("%w: %s needs an RFC 9421 agent signature (Signature-Input and Signature)",
			protocol.ErrSignatureMissing, rt.pattern))
	}
	if s.wallet == nil {
		return walletDisabled()
	}
	if err := checkQuery(r, rt.query); err != nil {
		return err
	}
	body, err := readBody(c.w, r, rt.bodyBytesMax)
	if err != nil {
		return err
	}
	c.body = body
	vr, err := protocol.VerifyRequest(r, body, protocol.VerifyOptions{
		Now: s.clock.Now(), Keys: agentKeys{s.wallet}, Nonces: s.nonces,
	})
	if err != nil {
		return signatureError(err)
	}
	a, active, err := s.wallet.AgentByKey(vr.KeyID)
	if err != nil || !active { // revoked between resolving and now
		return signatureError(fmt.Errorf("%w: key %s", protocol.ErrRevokedKey, vr.KeyID))
	}
	c.agent = a.ID
	return nil
}

// signatureError maps a VerifyRequest failure to its registered code and
// the registry's status (401 for signature, key and nonce failures, 400
// for content_digest_invalid, 503 verifier_unavailable when the nonce
// cache is full). An error that wraps no sentinel is the server's own
// (a key lookup that failed) and stays internal.
func signatureError(err error) error {
	code := protocol.CodeOf(err)
	info, ok := code.Info()
	if !ok || code == protocol.CodeInternal {
		return fmt.Errorf("api: verifying a request signature: %w", err)
	}
	return newError(info.Type, string(code), "", "%v", err)
}

// walletDisabled answers the wallet routes of a server without a wallet
// service.
func walletDisabled() *apiError {
	return newError(protocol.ErrorNotFound, codeWalletDisabled, "", "this server has no AI Wallet service")
}

// agentRequired is used by handlers that need an authenticated agent.
func (c *call) agentID() (string, error) {
	if c.agent == "" {
		return "", newError(protocol.ErrorAuthentication, string(protocol.CodeRequestSignatureMissing), "",
			"this route needs an agent request signature")
	}
	return c.agent, nil
}

var _ protocol.KeyResolver = agentKeys{}
