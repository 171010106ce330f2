package ledger

// ShardByHash returns a ShardOf function spreading accounts over n shards
// by a hash of the account id. With n = 1 (a single node today) every
// account is on shard 0. The mapping must never change for a deployed
// ledger: an account's shard is where its balance lives.
func ShardByHash(n uint32) func(ID) uint32 {
	if n <= 1 {
		return func(ID) uint32 { return 0 }
	}
	return func(id ID) uint32 {
		h := id.Hi()*0x9e3779b97f4a7c15 ^ id.Lo()
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		return uint32(h % uint64(n))
	}
}
