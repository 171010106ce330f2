package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// writerCacheKiB is the writer connection's page cache in KiB.
func writerCacheKiB(t *testing.T, s *Store) int {
	t.Helper()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var n int
	if err := s.wconn.QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&n); err != nil {
		t.Fatalf("PRAGMA cache_size: %v", err)
	}
	if n > 0 { // pages
		t.Fatalf("cache_size is %d pages, want a size in KiB (negative)", n)
	}
	return -n
}

func pageCount(t *testing.T, s *Store) uint64 {
	t.Helper()
	var pages uint64
	if err := s.rdb.QueryRowContext(context.Background(), "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	return pages
}

// TestWriterCacheGrowsPastLockPage: a small database's writer uses the
// small cache, and the configured one once the database has more pages
// than the lock page's number (here lowered so a test reaches it).
func TestWriterCacheGrowsPastLockPage(t *testing.T) {
	t.Parallel()
	s := openAt(t, filepath.Join(t.TempDir(), "cache.db"))
	if got := writerCacheKiB(t, s); got != smallCacheSizeKiB {
		t.Fatalf("new database: writer cache %d KiB, want %d", got, smallCacheSizeKiB)
	}
	l := newBenchLoadSize(100, false, 16)
	ctx := context.Background()
	if err := s.CommitBatch(ctx, l.first()); err != nil {
		t.Fatal(err)
	}
	// Under the limit, the checks leave the small cache.
	for range cacheCheckCommits + 1 {
		if err := s.CommitBatch(ctx, l.nextBatch()); err != nil {
			t.Fatal(err)
		}
	}
	if got := writerCacheKiB(t, s); got != smallCacheSizeKiB {
		t.Fatalf("under the lock page: writer cache %d KiB, want %d", got, smallCacheSizeKiB)
	}
	limit := pageCount(t, s) + 4
	s.wmu.Lock()
	s.lockPage = limit
	s.wmu.Unlock()
	for i := 0; writerCacheKiB(t, s) != DefaultCacheSizeKiB; i++ {
		if i > 2*cacheCheckCommits {
			t.Fatalf("writer cache still %d KiB after %d batches at %d pages (limit %d)",
				writerCacheKiB(t, s), i, pageCount(t, s), limit)
		}
		if err := s.CommitBatch(ctx, l.nextBatch()); err != nil {
			t.Fatal(err)
		}
	}
	if pages := pageCount(t, s); pages < limit {
		t.Fatalf("the cache grew at %d pages, before the limit %d", pages, limit)
	}
}

// TestWriterCacheSmallConfigured: a configured cache smaller than the
// small one is used from the start.
func TestWriterCacheSmallConfigured(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "cache.db"), Options{CacheSizeKiB: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := writerCacheKiB(t, s); got != 2<<10 {
		t.Fatalf("writer cache %d KiB, want %d", got, 2<<10)
	}
}
