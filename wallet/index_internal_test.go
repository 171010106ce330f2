package wallet

import (
	"fmt"
	"sync"
	"testing"
)

// TestPaymentIndex: a zero index is empty; swap stores and returns the
// state it replaced; load finds exactly what was stored; all yields each
// payment once; concurrent swaps and loads (under -race) lose nothing.
func TestPaymentIndex(t *testing.T) {
	var x paymentIndex
	if _, ok := x.load("pay_x"); ok {
		t.Fatal("a zero index found pay_x")
	}
	const n = 2000
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				id := fmt.Sprintf("pay_%05d", i)
				if prev := x.swap(&kept{id: id, status: "held"}); prev != nil {
					t.Errorf("%s: replaced %v on first store", id, prev)
				}
				if k, ok := x.load(id); !ok || k.id != id {
					t.Errorf("%s: load after store: %v, %v", id, k, ok)
				}
			}
		}()
	}
	wg.Wait()
	prev := x.swap(&kept{id: "pay_00007", status: "completed"})
	if prev == nil || prev.status != "held" {
		t.Fatalf("second store of pay_00007 replaced %v, want the held state", prev)
	}
	if k, _ := x.load("pay_00007"); k.status != "completed" {
		t.Fatalf("pay_00007 is %q after its second store", k.status)
	}
	seen := map[string]bool{}
	for k := range x.all() {
		if seen[k.id] {
			t.Fatalf("all yielded %s twice", k.id)
		}
		seen[k.id] = true
	}
	if len(seen) != n {
		t.Fatalf("all yielded %d payments, want %d", len(seen), n)
	}
	stopped := 0
	for range x.all() {
		stopped++
		break
	}
	if stopped != 1 {
		t.Fatalf("all went on after its loop stopped")
	}
}
