package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
)

func getText(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", url, res.StatusCode, b, err)
	}
	return b
}

// TestCheckpointSigner: the node creates its log key (0600) on first
// start, signs a checkpoint right away and again once the log grows, keeps
// the key across restarts, and refuses a key made for another origin.
func TestCheckpointSigner(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := nodeConfig{DataDir: dir, Addr: "127.0.0.1:0", LogOrigin: "test.agentpay/log", CheckpointInterval: 20 * time.Millisecond}
	n, err := startNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { n.close(ctx) }()
	fi, err := os.Stat(filepath.Join(dir, logKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	key := strings.TrimSpace(string(getText(t, n.URL()+"/v1/log/key")))
	if key != n.LogKey {
		t.Fatalf("served key %q, node key %q", key, n.LogKey)
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	open := func() evidence.Checkpoint {
		t.Helper()
		c, _, err := evidence.OpenCheckpoint(getText(t, n.URL()+"/v1/log/checkpoint"), cfg.LogOrigin, v)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := open(); c.Size != 0 {
		t.Fatalf("first checkpoint size %d, want 0", c.Size)
	}
	// Grow the log through the API; the signer catches up within a few intervals.
	root := newRootCommand()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"--url", n.URL(), "--api-key", n.AdminSecret, "assets", "create", "--ledger", "1", "--code", "USD", "--scale", "2"})
	if err := root.Execute(); err != nil {
		t.Fatalf("create asset: %v", err)
	}
	size, err := n.store.EvidenceSize(ctx)
	if err != nil || size == 0 {
		t.Fatalf("evidence size %d, %v", size, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for open().Size < size {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d within 5s", size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := open()
	if want, err := evidence.RootAt(ctx, tilesOf(n), c.Size); err != nil || want != c.Root {
		t.Fatalf("checkpoint root %v, tiles say %v (%v)", c.Root, want, err)
	}
	if err := n.close(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart: same key, same latest checkpoint.
	n, err = startNode(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n.LogKey != key {
		t.Fatalf("key changed across restart: %q → %q", key, n.LogKey)
	}
	if c2 := open(); c2 != c {
		t.Fatalf("checkpoint after restart %+v, want %+v", c2, c)
	}
	if err := n.close(ctx); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.LogOrigin = "other.agentpay/log"
	if n2, err := startNode(ctx, other); err == nil {
		n2.close(ctx)
		t.Fatal("node started with a key for another origin")
	} else if !strings.Contains(err.Error(), "origin") {
		t.Fatalf("error %v does not name the origin", err)
	}
	n, err = startNode(ctx, cfg) // for the deferred close
	if err != nil {
		t.Fatal(err)
	}
}

func tilesOf(n *node) evidence.TileReader { return ledgerlog.Tiles{R: n.store} }
