// Package ledger is AgentPay's double-entry core: accounts, transfers and the
// engine that applies them.
//
// The package knows nothing of SQL or HTTP. It holds three layers:
//
//   - the data model (ID, Uint128, Asset, Account, Transfer and their flags,
//     and the closed set of Result codes);
//   - State, a deterministic state machine that applies commands to in-memory
//     balances; it never reads the clock or randomness, so replaying the same
//     commands with the same timestamps always yields the same state;
//   - Engine, the single writer of one shard: it batches commands, applies
//     them to State, hands each batch to a Store in one transaction and
//     answers callers only after their batch is durable. Batch N+1 is
//     applied while batch N commits.
//
// The semantics follow TigerBeetle's (linked chains, two-phase transfers with
// partial post, void and timeouts, balancing transfers, closing transfers),
// with one addition: an account may carry a Limit, an overdraft (or credit)
// allowance on top of its balance constraint.
package ledger
