package ledgerlog

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/internal/eddsa"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/store"
)

// CheckpointIntervalDefault is how often a Signer looks for a grown log
// when SignerOptions.Interval is 0.
const CheckpointIntervalDefault = time.Second

// CheckpointStore is what a Signer needs from a store (store.Store has it).
type CheckpointStore interface {
	Reader
	// PutCheckpoint stores the signed note at size; store.ErrConflict if
	// one is stored there already.
	PutCheckpoint(ctx context.Context, size uint64, note []byte) error
	// LatestCheckpoint returns the largest stored checkpoint, or an error
	// wrapping store.ErrNotFound.
	LatestCheckpoint(ctx context.Context) (uint64, []byte, error)
}

// SignerOptions configures a Signer.
type SignerOptions struct {
	// Origin is the checkpoint origin line, e.g. "agentpay.local/log"; it
	// must equal the note signer's name.
	Origin string
	// Interval between two looks at the log size; default
	// CheckpointIntervalDefault.
	Interval time.Duration
	// Logger receives signing failures; default: discard.
	Logger *slog.Logger
	// OnCheckpoint, when set, is called after each checkpoint this signer
	// stored, with its size and note (e.g. WitnessPusher.Notify). It must
	// return quickly: it runs on the signing path.
	OnCheckpoint func(size uint64, note []byte)
}

// Signer publishes signed checkpoints of the committed evidence log: every
// interval it reads the committed size, computes the root from the
// committed tiles and, if the size grew past the latest stored checkpoint,
// signs and stores a checkpoint. It reads only committed state, so it never
// signs a size whose tiles are not durable; a crash between a batch commit
// and the next checkpoint loses nothing (the next start signs it).
type Signer struct {
	st     CheckpointStore
	signer note.Signer
	opts   SignerOptions

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

// NewSigner returns a Signer; signer must be an Ed25519 note signer named
// opts.Origin.
func NewSigner(st CheckpointStore, signer note.Signer, opts SignerOptions) (*Signer, error) {
	if st == nil || signer == nil {
		return nil, errors.New("ledgerlog: signer: nil store or note signer")
	}
	if signer.Name() != opts.Origin {
		return nil, fmt.Errorf("ledgerlog: signer: key name %q is not the origin %q", signer.Name(), opts.Origin)
	}
	if _, err := (evidence.Checkpoint{Origin: opts.Origin}).Marshal(); err != nil {
		return nil, fmt.Errorf("ledgerlog: signer: %w", err)
	}
	switch {
	case opts.Interval == 0:
		opts.Interval = CheckpointIntervalDefault
	case opts.Interval < 0:
		return nil, fmt.Errorf("ledgerlog: signer: interval %v is negative", opts.Interval)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Signer{st: st, signer: signer, opts: opts}, nil
}

// Start signs once (so a checkpoint exists as soon as the node serves) and
// then runs the loop until Stop or ctx ends. Calling it twice, or after
// Stop, does nothing.
func (s *Signer) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	if _, _, err := s.SignNow(ctx); err != nil {
		s.opts.Logger.Error("evidence: sign checkpoint", "err", err)
	}
	go s.run(ctx)
}

func (s *Signer) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := s.SignNow(ctx); err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("evidence: sign checkpoint", "err", err)
			}
		}
	}
}

// Stop ends the loop and waits for it; it is idempotent. Sizes committed
// after the last signing are signed by the next Start.
func (s *Signer) Stop() {
	s.mu.Lock()
	s.stopped = true
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// SignNow signs and stores a checkpoint of the committed log if it grew
// past the latest stored checkpoint (or none is stored). It returns the
// size signed and whether it signed one.
func (s *Signer) SignNow(ctx context.Context) (uint64, bool, error) {
	size, err := s.st.EvidenceSize(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("ledgerlog: checkpoint: %w", err)
	}
	latest, _, err := s.st.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return 0, false, fmt.Errorf("ledgerlog: checkpoint: %w", err)
	case size <= latest:
		return latest, false, nil
	}
	// Tiles only grow and commit with their size, so the root at the size
	// read above is computable from whatever committed tiles we read now.
	root, err := evidence.RootAt(ctx, Tiles{s.st}, size)
	if err != nil {
		return 0, false, fmt.Errorf("ledgerlog: checkpoint: %w", err)
	}
	signed, err := evidence.SignCheckpoint(evidence.Checkpoint{Origin: s.opts.Origin, Size: size, Root: root}, s.signer)
	if err != nil {
		return 0, false, fmt.Errorf("ledgerlog: checkpoint: %w", err)
	}
	if err := s.st.PutCheckpoint(ctx, size, signed); errors.Is(err, store.ErrConflict) {
		return size, false, nil // signed by another signer meanwhile
	} else if err != nil {
		return 0, false, fmt.Errorf("ledgerlog: checkpoint: %w", err)
	}
	if s.opts.OnCheckpoint != nil {
		s.opts.OnCheckpoint(size, signed)
	}
	return size, true, nil
}

// LoadOrCreateKey returns the note signer and verifier key (vkey text) for
// the log named origin from the signed-note private key (skey) in path,
// creating the key file (mode 0600) when it does not exist. A key file for
// another origin is an error: the origin names the key.
func LoadOrCreateKey(path, origin string) (note.Signer, string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, _, gerr := note.GenerateKey(rand.Reader, origin)
		if gerr != nil {
			return nil, "", fmt.Errorf("ledgerlog: generate log key: %w", gerr)
		}
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return nil, "", fmt.Errorf("ledgerlog: create log key: %w", ferr)
		}
		_, werr := f.WriteString(skey + "\n")
		if serr := f.Sync(); werr == nil {
			werr = serr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, "", fmt.Errorf("ledgerlog: write log key: %w", werr)
		}
		b = []byte(skey + "\n")
	} else if err != nil {
		return nil, "", fmt.Errorf("ledgerlog: read log key: %w", err)
	}
	skey := strings.TrimSpace(string(b))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("ledgerlog: log key %s: %w", path, err)
	}
	if signer.Name() != origin {
		return nil, "", fmt.Errorf("ledgerlog: log key %s is for origin %q, not %q (move it away to create a new key)", path, signer.Name(), origin)
	}
	// skey is PRIVATE+KEY+name+hash+base64(0x01 || seed).
	// (The base64 may itself contain '+'.)
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return nil, "", fmt.Errorf("ledgerlog: log key %s is malformed", path)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, "", fmt.Errorf("ledgerlog: log key %s is not an Ed25519 key", path)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return nil, "", fmt.Errorf("ledgerlog: log key %s: %w", path, err)
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return nil, "", fmt.Errorf("ledgerlog: log key %s: %w", path, err)
	}
	return fastSigner{Signer: signer, priv: ed25519.NewKeyFromSeed(raw[1:])}, vkey, nil
}

// fastSigner is the log key's note signer, signing with eddsa.Sign: the
// same signatures as note's own signer (Ed25519 is deterministic), in
// about 60% of the time; the log signs a receipt for every committed
// transfer and payment it answers for.
type fastSigner struct {
	note.Signer
	priv ed25519.PrivateKey
}

func (s fastSigner) Sign(msg []byte) ([]byte, error) { return eddsa.Sign(s.priv, msg), nil }
