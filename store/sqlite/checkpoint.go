package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoint policy, units last.
const (
	// checkpointInterval is the least time between two background
	// checkpoints while batches keep committing; a longer interval copies
	// a page that several batches changed (an account's) once.
	checkpointInterval = 500 * time.Millisecond
	// walFramesRestart is the WAL size (in frames, ~4 KiB each) above which
	// the next CommitBatch, after its commit, runs a RESTART checkpoint on
	// the writer connection, so the WAL is rewound: PASSIVE checkpoints
	// alone never rewind a WAL that keeps growing under back-to-back
	// commits, and a RESTART from another connection rarely finds the
	// writer lock free between them. Right after a PASSIVE, the RESTART has
	// only a few batches' frames left to copy. It is under the frames a
	// preallocated WAL holds (walPreallocBytes / 4120), with room for the
	// frames written between two checkpoints, so that a WAL that starts
	// preallocated is rewound before it grows.
	walFramesRestart = 24000
	// checkpointBusyTimeout bounds how long a checkpoint waits for a lock
	// (a RESTART waits for readers of older snapshots); one that times out
	// is retried later.
	checkpointBusyTimeout = 200 * time.Millisecond
)

// checkpointer copies committed WAL frames into the database file on its
// own connection, so CommitBatch only appends to the WAL and fsyncs it.
// The writer connection runs with wal_autocheckpoint=0; PASSIVE
// checkpoints never block the writer or the readers, and once a checkpoint
// has caught up, the writer's next transaction rewinds the WAL.
type checkpointer struct {
	db        *sql.DB
	walFrames int // frames in the WAL at the last checkpoint; owned by run and close
	kick      chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	err       atomic.Pointer[error] // the last failure, for Close to report
	// restartDue asks the writer for a RESTART checkpoint, see
	// walFramesRestart.
	restartDue atomic.Bool
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// notify tells the checkpointer that a transaction committed. It never
// blocks.
func (c *checkpointer) notify() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		if err := c.checkpoint("PASSIVE"); err != nil {
			c.err.Store(&err)
		} else if c.walFrames > walFramesRestart {
			c.restartDue.Store(true)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointInterval):
		}
	}
}

// checkpoint runs a checkpoint and records the WAL's size. A checkpoint
// that could not finish (busy) is not an error: the next one goes on.
func (c *checkpointer) checkpoint(mode string) error {
	var busy, done int
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &c.walFrames, &done)
	if err != nil {
		return fmt.Errorf("sqlite: %s checkpoint: %w", strings.ToLower(mode), err)
	}
	return nil
}

// close stops the checkpointer, runs a last checkpoint that also truncates
// the WAL (if no reader holds it), and closes its connection. It returns
// the last error.
func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	err := c.checkpoint("TRUNCATE")
	if e := c.err.Load(); e != nil && err == nil {
		err = *e
	}
	if cerr := c.db.Close(); err == nil {
		err = cerr
	}
	return err
}
