package api

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestOutcomeFilterNoFalseNegatives: every key added, or stored, or in
// flight while a rebuild runs, is reported as possibly present; unknown
// keys mostly are not.
func TestOutcomeFilterNoFalseNegatives(t *testing.T) {
	f := newOutcomeFilter(1 << 16)
	if !f.mayHave("anything") {
		t.Fatal("before the first build every key must count as possibly present")
	}
	stored := []string{}
	for i := range 500 {
		stored = append(stored, fmt.Sprintf("stored-%d", i))
	}
	inflight := inflightSet{keys: map[string]struct{}{"in-flight": {}}}
	var wg sync.WaitGroup
	added := make(chan string, 1000)
	keys := func(ctx context.Context, fn func(string) error) error {
		// Adds race with the store scan.
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprintf("added-%d", i)
				f.add(k)
				added <- k
			}
		})
		for _, k := range stored {
			if err := fn(k); err != nil {
				return err
			}
		}
		wg.Wait()
		return nil
	}
	if err := f.rebuild(context.Background(), &inflight, keys); err != nil {
		t.Fatal(err)
	}
	close(added)
	for k := range added {
		stored = append(stored, k)
	}
	stored = append(stored, "in-flight")
	for _, k := range stored {
		if !f.mayHave(k) {
			t.Fatalf("key %q lost by the filter", k)
		}
	}
	fp := 0
	for i := range 10000 {
		if f.mayHave(fmt.Sprintf("never-%d", i)) {
			fp++
		}
	}
	if fp > 500 {
		t.Fatalf("%d of 10000 unknown keys reported present; the filter is not filtering", fp)
	}
	if f.skips.Load() == 0 {
		t.Fatal("no lookup was skipped")
	}
}
