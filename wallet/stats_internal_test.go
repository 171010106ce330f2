package wallet

import (
	"sync"
	"testing"
	"time"
)

// TestStageNanosSummed: stage times added by concurrent payments, to
// whichever stripes their timers picked, all reach Stats; each stage's
// total is what was added to it.
func TestStageNanosSummed(t *testing.T) {
	var s Service
	const payments = 400
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range payments / 4 {
				tm := s.timer()
				for stage := range stagesN {
					// Each stage took (stage+1) µs, as far as the timer
					// knows.
					tm.last = tm.last.Add(-time.Duration(stage+1) * time.Microsecond)
					tm.done(stage)
				}
			}
		}()
	}
	wg.Wait()
	used := 0
	for i := range s.stats.nanos {
		if s.stats.nanos[i].n[0].Load() != 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("%d payments used %d stripe(s) of %d", payments, used, stageStripes)
	}
	got := s.Stats().Nanos
	for stage := range stagesN {
		// At least stage+1 µs a payment; the real time between the calls
		// adds a little.
		if min := uint64(payments * (stage + 1) * 1000); got[stage] < min || got[stage] > min+uint64(time.Second) {
			t.Errorf("stage %s: %d ns in all, want %d and a little more", StageNames[stage], got[stage], min)
		}
	}
}
