package sim_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/agentpay/agentpay/internal/sim"
	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/store/sqlite"
)

var (
	seedFlag  = flag.Uint64("sim.seed", 0, "run only this seed")
	seedsFlag = flag.Int("sim.seeds", 8, "number of seeds to run")
	stepsFlag = flag.Int("sim.steps", 400, "steps per seed")
)

func openSQLite(t *testing.T) sim.OpenStore {
	path := filepath.Join(t.TempDir(), "sim.db")
	return func() (ledger.Store, io.Closer, error) {
		st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			return nil, nil, err
		}
		if err := st.Migrate(context.Background()); err != nil {
			st.Close()
			return nil, nil, err
		}
		return st, st, nil
	}
}

// TestSimulation runs seeded simulations on real SQLite with restarts,
// checking the ledger's invariants after every step. Reproduce a failure
// with: go test ./internal/sim -run TestSimulation -sim.seed=N
func TestSimulation(t *testing.T) {
	seeds := make([]uint64, 0, *seedsFlag)
	if *seedFlag != 0 {
		seeds = append(seeds, *seedFlag)
	} else {
		for i := 1; i <= *seedsFlag; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			rep, err := sim.Run(context.Background(), sim.Config{
				Seed: seed, Steps: *stepsFlag, Accounts: 8, Open: openSQLite(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Committed == 0 || rep.Rejected == 0 || rep.Restarts == 0 || rep.Replays == 0 {
				t.Fatalf("seed %d exercised too little: %+v", seed, rep)
			}
			t.Logf("seed %d: %+v", seed, rep)
		})
	}
}

// TestSimulationDeterministic runs one seed twice: the final states must
// be identical.
func TestSimulationDeterministic(t *testing.T) {
	t.Parallel()
	run := func() [32]byte {
		rep, err := sim.Run(context.Background(), sim.Config{Seed: 42, Steps: 150, Accounts: 6, Open: openSQLite(t)})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Digest
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("seed 42 gave two different final states: %x vs %x", a, b)
	}
}
