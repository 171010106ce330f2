package evidence

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// Errors returned by Monitor.Update; test with errors.Is.
var (
	// ErrStale: the new checkpoint is smaller than the largest one verified.
	ErrStale = errors.New("evidence: checkpoint older than the latest verified")
	// ErrFork: the new checkpoint is not consistent with the latest verified one
	// (same size with another root, or a consistency proof that fails). This is
	// evidence of log misbehaviour; keep both checkpoints.
	ErrFork = errors.New("evidence: checkpoint inconsistent with the latest verified")
)

// Monitor is the client side of the log: it keeps the largest checkpoint it
// has verified and accepts a new one only if it is signed by the log and
// provably extends the kept one. It is safe for concurrent use.
type Monitor struct {
	origin   string
	verifier note.Verifier

	mu     sync.Mutex
	latest Checkpoint
	signed []byte
	has    bool
}

// NewMonitor returns a monitor for the log with the given origin and key.
func NewMonitor(origin string, logVerifier note.Verifier) *Monitor {
	return &Monitor{origin: origin, verifier: logVerifier}
}

// Latest returns the largest verified checkpoint and its signed note; ok is
// false before the first Update.
func (m *Monitor) Latest() (c Checkpoint, signed []byte, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.latest, m.signed, m.has
}

// Update verifies a signed checkpoint and, given the consistency proof from
// the latest verified size to its size, makes it the latest. The first
// checkpoint is trusted on first use (proof ignored): to resume, call Update
// first with the checkpoint persisted from Latest. An equal one is accepted
// with no change. Errors wrap ErrCheckpoint, ErrStale or ErrFork; on error the
// monitor is unchanged.
func (m *Monitor) Update(signed []byte, consistency []Hash) (Checkpoint, error) {
	c, _, err := OpenCheckpoint(signed, m.origin, m.verifier)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("evidence: monitor: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.has {
		m.latest, m.signed, m.has = c, append([]byte(nil), signed...), true
		return c, nil
	}
	old := m.latest
	switch {
	case c.Size < old.Size:
		return Checkpoint{}, fmt.Errorf("%w: size %d, have %d", ErrStale, c.Size, old.Size)
	case c.Size == old.Size:
		if c.Root != old.Root {
			return Checkpoint{}, fmt.Errorf("%w: size %d has root %s, have %s", ErrFork, c.Size, c.Root, old.Root)
		}
		return c, nil
	}
	if err := VerifyConsistency(old.Size, c.Size, consistency, old.Root, c.Root); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %d to %d: %w", ErrFork, old.Size, c.Size, err)
	}
	m.latest, m.signed = c, append([]byte(nil), signed...)
	return c, nil
}
