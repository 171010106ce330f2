// Package storetest is the conformance suite every store.Store driver must
// pass. A driver's test calls Run (or RunHarness, to include the tests that
// reopen a database) with a function that opens a fresh, migrated, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunHarness(t, storetest.Harness{Open: open, Reopen: reopen})
//	}
//
// The suite uses only the store.Store interface, so a behaviour that a
// driver shows and the suite does not check is not part of the contract,
// and a change to the contract is a change here first.
package storetest

import (
	"testing"

	"github.com/agentpay/agentpay/store"
)

// Harness tells the suite how to get stores.
type Harness struct {
	// Open returns a fresh, migrated, empty store (its own database) and
	// registers its Close with t.Cleanup. That Close may find the store
	// already closed by Reopen and must then do nothing harmful.
	Open func(t *testing.T) store.Store
	// Reopen closes s and returns a new store on the same database,
	// migrated, registering its Close with t.Cleanup. Nil skips the tests
	// that reopen a database.
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the suite against the stores open returns, skipping the tests
// that reopen a database.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	RunHarness(t, Harness{Open: open})
}

// RunHarness runs the whole suite. Every test runs in parallel on its own
// store.
func RunHarness(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"CommitThenLoad", testCommitThenLoad},
		{"LoadEmptyShard", testLoadEmptyShard},
		{"ShardsAreSeparate", testShardsAreSeparate},
		{"SeqFence", testSeqFence},
		{"ListAssets", testListAssets},
		{"GetAccount", testGetAccount},
		{"ListAccounts", testListAccounts},
		{"ListAccountsLimits", testListAccountsLimits},
		{"GetTransfer", testGetTransfer},
		{"ListAccountTransfers", testListAccountTransfers},
		{"ListAccountTransfersLimits", testListAccountTransfersLimits},
		{"ExtremeValues", testExtremeValues},
		{"LargeBatch", testLargeBatch},
		{"ManyBatches", testManyBatches},
		{"FailedBatchOutcomeConflict", testFailedBatchOutcomeConflict},
		{"FailedBatchDuplicateOutcomeInBatch", testFailedBatchDuplicateOutcomeInBatch},
		{"FailedBatchCancelledContext", testFailedBatchCancelledContext},
		{"Outcomes", testOutcomes},
		{"OutcomeKeys", testOutcomeKeys},
		{"APIKeys", testAPIKeys},
		{"Migrate", testMigrate},
		{"Reopen", testReopen},
		{"ConcurrentReaders", testConcurrentReaders},
		{"Evidence", testEvidence},
		{"EvidenceFailedBatch", testEvidenceFailedBatch},
		{"EvidenceReopen", testEvidenceReopen},
		{"Events", testEvents},
		{"Docs", testDocs},
		{"Checkpoints", testCheckpoints},
		{"Cosignatures", testCosignatures},
		{"ListCheckpoints", testListCheckpoints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}
