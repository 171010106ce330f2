package evidence

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// An account chain lets a wallet verify its own history alone, without
// the rest of the log: the account's transfers, oldest first, are linked
// by hashes,
//
//	link_0 = SHA-256("agentpay.dev/account-chain/v1\n" ‖ account id)
//	link_i = SHA-256(0x01 ‖ link_{i-1} ‖ leaf hash of transfer i)
//
// (leaf hashes as in receipts), and the log signs the head of the chain
// with its key:
//
//	agentpay.dev/account-chain/v1
//	<origin>
//	<account id>
//	<count> <link_count, base64>
//
// A wallet that keeps the last head it was given checks that every later
// head extends it (recomputing from its own transfers); two signed heads
// that disagree on a common prefix prove that history was rewritten.

// ChainHeader is the first line of a signed chain head.
const ChainHeader = "agentpay.dev/account-chain/v1"

// ErrChainHead: a chain head is malformed, from another origin or not
// signed by the log.
var ErrChainHead = errors.New("evidence: invalid account chain head")

// ChainStart returns link 0 of the account's chain.
func ChainStart(account string) Hash {
	return sha256.Sum256([]byte(ChainHeader + "\n" + account))
}

// ChainNext returns the link after prev for a transfer with leafHash.
func ChainNext(prev, leafHash Hash) Hash {
	var buf [1 + 2*HashSizeBytes]byte
	buf[0] = 1
	copy(buf[1:], prev[:])
	copy(buf[1+HashSizeBytes:], leafHash[:])
	return sha256.Sum256(buf[:])
}

// ChainHead is the signed head of an account chain.
type ChainHead struct {
	Origin  string
	Account string
	Count   uint64
	Head    Hash
}

// Marshal returns the note text.
func (h ChainHead) Marshal() ([]byte, error) {
	if !validOrigin(h.Origin) || !validString(h.Account, StringMaxBytes) {
		return nil, fmt.Errorf("%w: origin %q, account %q", ErrChainHead, h.Origin, h.Account)
	}
	return fmt.Appendf(nil, "%s\n%s\n%s\n%d %s\n", ChainHeader, h.Origin, h.Account, h.Count, HashB64(h.Head)), nil
}

// SignChainHead returns h signed by the log's key.
func SignChainHead(h ChainHead, s note.Signer) ([]byte, error) {
	text, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(text)}, s)
}

// OpenChainHead verifies a signed chain head and checks its origin.
func OpenChainHead(signed []byte, origin string, logVerifier note.Verifier) (ChainHead, error) {
	if len(signed) > CheckpointMaxBytes {
		return ChainHead{}, fmt.Errorf("%w: %d bytes", ErrChainHead, len(signed))
	}
	n, err := note.Open(signed, note.VerifierList(logVerifier))
	if err != nil {
		return ChainHead{}, fmt.Errorf("%w: %w", ErrChainHead, err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 4 || lines[0] != ChainHeader {
		return ChainHead{}, fmt.Errorf("%w: want 4 lines starting %q", ErrChainHead, ChainHeader)
	}
	h := ChainHead{Origin: lines[1], Account: lines[2]}
	count, head, ok := strings.Cut(lines[3], " ")
	if !ok {
		return ChainHead{}, fmt.Errorf("%w: head line %q", ErrChainHead, lines[3])
	}
	if h.Count, err = strconv.ParseUint(count, 10, 64); err != nil {
		return ChainHead{}, fmt.Errorf("%w: count %q", ErrChainHead, count)
	}
	if h.Head, err = parseB64Hash(head); err != nil {
		return ChainHead{}, fmt.Errorf("%w: head %q", ErrChainHead, head)
	}
	again, err := h.Marshal()
	if err != nil || !bytes.Equal(again, []byte(n.Text)) {
		return ChainHead{}, fmt.Errorf("%w: not in canonical form", ErrChainHead)
	}
	if h.Origin != origin {
		return ChainHead{}, fmt.Errorf("%w: origin %q, want %q", ErrChainHead, h.Origin, origin)
	}
	return h, nil
}

// VerifyAccountChain recomputes an account's chain from the leaf hashes
// of its transfers, oldest first, starting after a head the wallet already
// trusts (nil: from link 0), and checks it against a signed head. It
// returns the new head. Errors wrap ErrChain.
func VerifyAccountChain(account string, from *ChainHead, leafHashes []Hash, head ChainHead) (ChainHead, error) {
	link, count := ChainStart(account), uint64(0)
	if from != nil {
		if from.Account != account {
			return ChainHead{}, fmt.Errorf("%w: trusted head is for account %q", ErrChain, from.Account)
		}
		link, count = from.Head, from.Count
	}
	for _, lh := range leafHashes {
		link = ChainNext(link, lh)
		count++
	}
	if head.Account != account || head.Count != count || head.Head != link {
		return ChainHead{}, fmt.Errorf("%w: account %s: %d transfers give head %s at %d; the signed head is %s at %d",
			ErrChain, account, len(leafHashes), link, count, head.Head, head.Count)
	}
	return head, nil
}
