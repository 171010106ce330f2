package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/sdk"
)

// buildBinary builds cmd/agentpay into dir and returns its path.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "agentpay")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// serveSetup builds the binary and picks a data directory and a free
// address, for a test that runs `agentpay serve` as a real process (not
// with -short).
func serveSetup(t *testing.T) (bin, dataDir, addr string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	return buildBinary(t, dir), filepath.Join(dir, "data"), freeAddr(t)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serverProcess is `agentpay serve` running as a real process.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	secret string // the admin key, printed on the first start only
	exited chan error
}

var adminKeyLine = regexp.MustCompile(`^\s+(ap_\S+)\s*$`)

// startServerArgs starts `agentpay serve` on dataDir and addr with extra
// flags and returns once it printed its start-up banner.
func startServerArgs(t *testing.T, bin, dataDir, addr string, extra ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data-dir", dataDir, "--addr", addr}, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, url: "http://" + addr, exited: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if m := adminKeyLine.FindStringSubmatch(line); m != nil && p.secret == "" {
				p.secret = m[1]
			}
			if strings.HasPrefix(line, "Try next") || strings.HasPrefix(line, "  agentpay accounts list") {
				once.Do(func() { close(ready) })
			}
		}
		once.Do(func() { close(ready) })
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-p.exited:
		t.Fatalf("server exited during start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within 60 s")
	}
	return p
}

func startServer(t *testing.T, bin, dataDir, addr string) *serverProcess {
	t.Helper()
	return startServerArgs(t, bin, dataDir, addr)
}

func (p *serverProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

type sent struct {
	id, key string
	body    protocol.Transfer
}

// TestCrashRecovery starts `agentpay serve` as a real process, sends
// concurrent transfers, kills it with SIGKILL in the middle of the load,
// restarts it and checks that every acknowledged transfer is there exactly
// once, that retrying every request whose answer was lost settles it
// exactly once, and that the balances equal what the transfers imply.
func TestCrashRecovery(t *testing.T) {
	bin, dataDir, addr := serveSetup(t)
	ctx := context.Background()

	srv := startServer(t, bin, dataDir, addr)
	if srv.secret == "" {
		t.Fatal("first start printed no admin key")
	}
	secret := srv.secret
	c := sdk.New(srv.url, secret)
	if _, err := c.CreateAsset(ctx, "asset", protocol.Asset{Ledger: 1, Code: "USD", Scale: 2}); err != nil {
		t.Fatal(err)
	}
	const accounts = 16
	req := make([]protocol.Account, accounts)
	for i := range req {
		req[i] = protocol.Account{Ledger: 1, Code: 1}
	}
	res, err := c.CreateAccounts(ctx, "accounts", req)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, accounts)
	for i, r := range res.Results {
		ids[i] = r.Account.ID
	}

	var (
		mu       sync.Mutex
		all      []sent // every request sent
		acked    = map[string]bool{}
		seq      atomic.Uint64
		stopLoad atomic.Bool
	)
	for round := 0; round < 3; round++ {
		stopLoad.Store(false)
		var wg sync.WaitGroup
		for w := 0; w < 32; w++ {
			wg.Go(func() {
				for !stopLoad.Load() {
					n := seq.Add(1)
					amount := n%7 + 1
					s := sent{
						id:  protocol.PrefixTransfer + ledger.IDFromUint64(1<<40+n).String(),
						key: fmt.Sprintf("crash-%d", n),
					}
					s.body = protocol.Transfer{ID: s.id, DebitAccountID: ids[n%accounts],
						CreditAccountID: ids[(n+3)%accounts], Amount: &amount, Ledger: 1, Code: 1}
					mu.Lock()
					all = append(all, s)
					mu.Unlock()
					tr, err := c.CreateTransfer(ctx, s.key, s.body)
					if err == nil {
						if tr.ID != s.id {
							t.Errorf("acknowledged %s as %s", s.id, tr.ID)
						}
						mu.Lock()
						acked[s.id] = true
						mu.Unlock()
					}
				}
			})
		}
		// Kill once the load is well under way.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= (round+1)*1500 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		srv.kill(t)
		stopLoad.Store(true)
		wg.Wait()
		srv = startServer(t, bin, dataDir, addr)
		if srv.secret != "" {
			t.Fatal("restart created a second admin key")
		}
		// Every acknowledged transfer survived the kill, unchanged.
		mu.Lock()
		for _, s := range all {
			if !acked[s.id] {
				continue
			}
			got, err := c.GetTransfer(ctx, s.id)
			if err != nil {
				t.Fatalf("round %d: acknowledged transfer %s lost: %v", round, s.id, err)
			}
			if got.DebitAccountID != s.body.DebitAccountID || *got.Amount != *s.body.Amount {
				t.Fatalf("round %d: transfer %s changed: %+v", round, s.id, got)
			}
		}
		// Every request whose answer was lost is retried with its key:
		// it is either replayed or applied now, never twice.
		for _, s := range all {
			if acked[s.id] {
				continue
			}
			tr, err := c.CreateTransfer(ctx, s.key, s.body)
			if err != nil {
				t.Fatalf("round %d: retry of %s: %v", round, s.id, err)
			}
			if tr.ID != s.id {
				t.Fatalf("retry of %s answered %s", s.id, tr.ID)
			}
			acked[s.id] = true
		}
		mu.Unlock()
		t.Logf("round %d: %d transfers sent, all settled exactly once after SIGKILL", round, len(all))
	}

	// Balances equal exactly what the settled transfers imply.
	want := make(map[string][2]uint64) // debits, credits
	touching := make(map[string]int)
	for _, s := range all {
		touching[s.body.DebitAccountID]++
		touching[s.body.CreditAccountID]++
		d, cr := want[s.body.DebitAccountID], want[s.body.CreditAccountID]
		d[0] += *s.body.Amount
		cr[1] += *s.body.Amount
		want[s.body.DebitAccountID], want[s.body.CreditAccountID] = d, cr
	}
	for _, id := range ids {
		a, err := c.GetAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		w := want[id]
		if a.Balances.DebitsPosted != fmt.Sprint(w[0]) || a.Balances.CreditsPosted != fmt.Sprint(w[1]) {
			t.Fatalf("account %s: debits %s credits %s, want %d %d", id,
				a.Balances.DebitsPosted, a.Balances.CreditsPosted, w[0], w[1])
		}
		// And its history lists each of its transfers once.
		seen := map[string]bool{}
		after := ""
		for {
			page, err := c.AccountTransfers(ctx, id, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range page.Data {
				if seen[tr.ID] {
					t.Fatalf("account %s lists %s twice", id, tr.ID)
				}
				seen[tr.ID] = true
			}
			if page.NextCursor == "" {
				break
			}
			after = page.NextCursor
		}
		if len(seen) != touching[id] {
			t.Fatalf("account %s lists %d transfers, want %d", id, len(seen), touching[id])
		}
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.exited:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("graceful shutdown exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM did not stop the server within 30 s")
	}
}
