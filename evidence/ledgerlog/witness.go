package ledgerlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/store"
)

// WitnessTimeoutDefault bounds one submission to one witness when
// PusherOptions.Timeout is 0.
const WitnessTimeoutDefault = 10 * time.Second

// WitnessStore is what a WitnessPusher needs from a store (store.Store has it).
type WitnessStore interface {
	Reader
	// LatestCheckpoint returns the largest stored checkpoint, or an error
	// wrapping store.ErrNotFound.
	LatestCheckpoint(ctx context.Context) (uint64, []byte, error)
	// PutCosignature stores a verified cosignature line for a stored size.
	PutCosignature(ctx context.Context, size uint64, witness string, sigLine []byte) error
}

// Witness is a configured witness of the log.
type Witness struct {
	// VKey is the witness's verifier key (its name is the key's name);
	// cosignatures are cosignature/v1 (c2sp.org/tlog-cosignature).
	VKey string
	// URL is the witness's c2sp.org/tlog-witness submission prefix; empty:
	// the pusher skips it (the witness posts its cosignatures itself).
	URL string
}

// PusherOptions configures a WitnessPusher.
type PusherOptions struct {
	// Timeout bounds one submission; default WitnessTimeoutDefault.
	Timeout time.Duration
	// HTTP is the client; default http.DefaultClient.
	HTTP *http.Client
	// Logger receives failures; default: discard.
	Logger *slog.Logger
}

// WitnessPusher submits the latest stored checkpoint to every witness with
// a URL (c2sp.org/tlog-witness) and stores the cosignatures they return.
// It runs on its own goroutine: Notify (the Signer's OnCheckpoint) only
// wakes it, so a slow or failing witness never delays signing. A failure is
// logged and retried with the next checkpoint (a witness needs only the
// latest one).
type WitnessPusher struct {
	st      WitnessStore
	clients []*evidence.WitnessClient
	sizes   []uint64 // the size each witness last cosigned, as far as we know
	opts    PusherOptions

	kick chan struct{}

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

// NewWitnessPusher returns a pusher for the witnesses that have a URL.
func NewWitnessPusher(st WitnessStore, witnesses []Witness, opts PusherOptions) (*WitnessPusher, error) {
	if st == nil {
		return nil, errors.New("ledgerlog: witness pusher: nil store")
	}
	if opts.Timeout == 0 {
		opts.Timeout = WitnessTimeoutDefault
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &WitnessPusher{st: st, opts: opts, kick: make(chan struct{}, 1)}
	for _, w := range witnesses {
		v, err := evidence.NewCosignatureVerifier(w.VKey)
		if err != nil {
			return nil, fmt.Errorf("ledgerlog: witness pusher: %w", err)
		}
		if w.URL == "" {
			continue
		}
		p.clients = append(p.clients, &evidence.WitnessClient{URL: w.URL, Verifier: v, HTTP: opts.HTTP})
	}
	p.sizes = make([]uint64, len(p.clients))
	return p, nil
}

// Notify wakes the pusher to submit the latest checkpoint; it never
// blocks. Its signature fits SignerOptions.OnCheckpoint.
func (p *WitnessPusher) Notify(uint64, []byte) {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Start submits the latest stored checkpoint once and then on every
// Notify until Stop or ctx ends. Calling it twice, or after Stop, does
// nothing.
func (p *WitnessPusher) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.cancel != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	p.Notify(0, nil)
	go p.run(ctx)
}

// Stop ends the loop (cancelling a submission in flight) and waits for
// it; it is idempotent.
func (p *WitnessPusher) Stop() {
	p.mu.Lock()
	p.stopped = true
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (p *WitnessPusher) run(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
			p.PushNow(ctx)
		}
	}
}

// PushNow submits the latest stored checkpoint to every witness with a URL
// and stores the cosignatures returned; it returns how many witnesses
// cosigned. Failures are logged. It is not safe to call concurrently with
// itself (Start's loop calls it).
func (p *WitnessPusher) PushNow(ctx context.Context) int {
	if len(p.clients) == 0 {
		return 0
	}
	size, signed, err := p.st.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		p.opts.Logger.Warn("evidence: witness push: latest checkpoint", "err", err)
		return 0
	}
	proofs := func(ctx context.Context, old, new uint64) ([]evidence.Hash, error) {
		return evidence.ConsistencyProof(ctx, Tiles{p.st}, old, new)
	}
	var wg sync.WaitGroup
	ok := make([]bool, len(p.clients))
	for i, c := range p.clients {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
			defer cancel()
			lines, held, err := c.AddCheckpoint(cctx, signed, p.sizes[i], proofs)
			if held != 0 {
				p.sizes[i] = held
			}
			if err != nil {
				if ctx.Err() == nil {
					p.opts.Logger.Warn("evidence: witness refused or failed; retrying with the next checkpoint",
						"witness", c.Verifier.Name(), "size", size, "err", err)
				}
				return
			}
			for _, l := range lines {
				if err := p.st.PutCosignature(ctx, size, c.Verifier.Name(), []byte(l)); err != nil {
					p.opts.Logger.Warn("evidence: store cosignature", "witness", c.Verifier.Name(), "size", size, "err", err)
					return
				}
			}
			ok[i] = true
		})
	}
	wg.Wait()
	n := 0
	for _, b := range ok {
		if b {
			n++
		}
	}
	return n
}
