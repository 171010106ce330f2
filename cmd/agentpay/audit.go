package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/agentpay/agentpay/evidence/audit"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/sdk"
	"github.com/agentpay/agentpay/store/sqlite"
)

// auditResult is the --json output of agentpay audit.
type auditResult struct {
	Source      string `json:"source"` // "data-dir" or "url"
	Location    string `json:"location"`
	LogOrigin   string `json:"log_origin"`
	KeyPinned   bool   `json:"log_key_pinned"`
	Entries     uint64 `json:"entries"`
	Checkpoints int    `json:"checkpoints"`
	Latest      uint64 `json:"latest_checkpoint_size"`
	Batches     int    `json:"batches"`
	Assets      int    `json:"assets"`
	Accounts    int    `json:"accounts"`
	Transfers   int    `json:"transfers"`
	Expiries    int    `json:"expiries"`
	Docs        int    `json:"docs"`
	Pending     int    `json:"pending_active"`
	Stored      int    `json:"stored_accounts"`
	// RecordsListed: every stored record was checked to lie in a logged
	// batch (data directory audits only).
	RecordsListed bool             `json:"records_listed"`
	OK            bool             `json:"ok"`
	Divergence    *auditDivergence `json:"divergence,omitempty"`
	// Note qualifies a divergence found over the API while the ledger
	// was taking writes.
	Note string `json:"note,omitempty"`
}

type auditDivergence struct {
	Where string `json:"where"`
	What  string `json:"what"`
}

// errAuditDiverged is returned (wrapped) when the ledger does not match
// its evidence log, so the command exits 1.
var errAuditDiverged = errors.New("the ledger does not match its evidence log")

func newAuditCommand(cf *clientFlags) *cobra.Command {
	var dataDir, logKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the ledger against its evidence log (exit 1 on the first divergence)",
		Long: `Audit the ledger against its evidence log without trusting the operator:
recompute the log's tree from its entries, check every signed checkpoint
(signature with the log's key, root, consistency with the previous one),
rebuild every batch's tree from the stored records and compare it with the
root the log committed to, replay the logged records and compare every
stored account balance. The audit stops at the first divergence and says
where it is; the command then exits 1.

Two sources:

  --data-dir DIR   the node's data directory. Stop the node first, or audit
                   a copy of the directory (copy it while the node is
                   stopped, or with sqlite3 .backup). The log key is read
                   from the directory's signing key file unless --log-key
                   is given. This mode also checks that no stored record
                   lies outside the log.

  --url URL --api-key KEY
                   a running server (a read key is enough). The audit covers
                   the log up to the latest signed checkpoint; balances are
                   read afterwards, so audit a server that takes no writes.
                   Pass --log-key with the key you trust: without it the key
                   is fetched from the server itself and is not pinned.`,
		Example: `  agentpay audit --data-dir ./agentpay-data
  agentpay audit --url https://agentpay.example --api-key $KEY --log-key "$(cat log.vkey)"
  agentpay audit --data-dir ./copy --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var (
				res *auditResult
				err error
			)
			if dataDir != "" {
				if cmd.Flags().Changed("url") {
					return errors.New("audit: give --data-dir or --url, not both")
				}
				res, err = auditDataDir(ctx, dataDir, logKey)
			} else {
				res, err = auditServer(ctx, cf, logKey, cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else if err := printAudit(out, res); err != nil {
				return err
			}
			if d := res.Divergence; d != nil {
				return fmt.Errorf("audit: %w: divergence at %s: %s", errAuditDiverged, d.Where, d.What)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "audit the store in this data directory (stop the node first, or audit a copy)")
	cmd.Flags().StringVar(&logKey, "log-key", "", "the evidence log's verifier key (vkey) to pin (default: the data directory's key; over --url, the server's, unpinned)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// parseLogKey returns the origin and verifier of a vkey.
func parseLogKey(vkey string) (string, note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return "", nil, fmt.Errorf("audit: log key: %w", err)
	}
	return v.Name(), v, nil
}

// dataDirLogKey returns the verifier key of the signing key in dir.
func dataDirLogKey(dir string) (string, error) {
	path := filepath.Join(dir, logKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("audit: no evidence log key in %s (%s); pass --log-key", dir, logKeyFile)
	}
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("audit: log key %s: %w", path, err)
	}
	// The file exists: this only derives its verifier key.
	_, vkey, err := ledgerlog.LoadOrCreateKey(path, signer.Name())
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	return vkey, nil
}

func auditDataDir(ctx context.Context, dir, logKey string) (*auditResult, error) {
	path := filepath.Join(dir, databaseFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	pinned := logKey != ""
	if !pinned {
		var err error
		if logKey, err = dataDirLogKey(dir); err != nil {
			return nil, err
		}
	}
	origin, verifier, err := parseLogKey(logKey)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("audit: open store: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("audit: migrate store: %w", err)
	}
	rep, err := audit.Run(ctx, audit.NewStoreSource(st), audit.Options{Origin: origin, Verifier: verifier})
	if err != nil {
		return nil, err
	}
	// The key file sits next to the store it signs for: it is the
	// operator's, so it is "pinned" only when the auditor gave it.
	return newAuditResult("data-dir", dir, origin, pinned, rep), nil
}

func auditServer(ctx context.Context, cf *clientFlags, logKey string, stderr io.Writer) (*auditResult, error) {
	if cf.apiKey == "" {
		return nil, errors.New("audit: no API key: pass --api-key (a read key is enough) or AGENTPAY_API_KEY, or audit a --data-dir")
	}
	base := strings.TrimSuffix(cf.url, "/")
	pinned := logKey != ""
	if !pinned {
		key, err := sdk.New(base, cf.apiKey).LogKey(ctx)
		if err != nil {
			return nil, fmt.Errorf("audit: fetch the log key: %w", err)
		}
		logKey = key
		fmt.Fprintf(stderr, "warning: the log key was fetched from the server being audited and is not pinned;\n"+
			"         pass --log-key with the key you trust (this one is %s)\n", strings.TrimSpace(key))
	}
	origin, verifier, err := parseLogKey(logKey)
	if err != nil {
		return nil, err
	}
	src := audit.NewHTTPSource(base, cf.apiKey, nil, origin, verifier)
	rep, err := audit.Run(ctx, src, audit.Options{Origin: origin, Verifier: verifier})
	if err != nil {
		return nil, err
	}
	res := newAuditResult("url", base, origin, pinned, rep)
	if rep.Divergence != nil {
		if grown, err := src.Grown(ctx); err == nil && grown {
			res.Note = fmt.Sprintf("the server's log grew past size %d during the audit: a divergence in the stored balances may be that new traffic; audit again while the server takes no writes", rep.Size)
		}
	}
	return res, nil
}

func newAuditResult(source, location, origin string, pinned bool, rep *audit.Report) *auditResult {
	res := &auditResult{
		Source: source, Location: location, LogOrigin: origin, KeyPinned: pinned,
		Entries: rep.Size, Checkpoints: rep.Checkpoints, Latest: rep.Latest, Batches: rep.Batches,
		Assets: rep.Assets, Accounts: rep.Accounts, Transfers: rep.Transfers, Expiries: rep.Expiries,
		Docs: rep.Docs, Pending: rep.Pending, Stored: rep.Stored, RecordsListed: rep.Listed,
		OK: rep.Divergence == nil,
	}
	if d := rep.Divergence; d != nil {
		res.Divergence = &auditDivergence{Where: d.Where, What: d.What}
	}
	return res
}

func printAudit(w io.Writer, r *auditResult) error {
	fmt.Fprintf(w, "Audit of %s (%s), log %s\n", r.Location, r.Source, r.LogOrigin)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  log entries\t%d\n", r.Entries)
	fmt.Fprintf(tw, "  checkpoints\t%d (latest at size %d)\n", r.Checkpoints, r.Latest)
	fmt.Fprintf(tw, "  batches\t%d\n", r.Batches)
	fmt.Fprintf(tw, "  assets\t%d\n", r.Assets)
	fmt.Fprintf(tw, "  accounts\t%d\n", r.Accounts)
	fmt.Fprintf(tw, "  transfers\t%d (%d pending still active)\n", r.Transfers, r.Pending)
	fmt.Fprintf(tw, "  expiries\t%d\n", r.Expiries)
	if r.Docs > 0 {
		fmt.Fprintf(tw, "  docs\t%d\n", r.Docs)
	}
	fmt.Fprintf(tw, "  stored accounts\t%d\n", r.Stored)
	if r.RecordsListed {
		fmt.Fprintf(tw, "  stored records\tall checked to lie in logged batches\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case r.KeyPinned:
	case r.Source == "data-dir":
		fmt.Fprintln(w, "  (log key read from the data directory, not pinned: pass --log-key to check against a key you hold)")
	default:
		fmt.Fprintln(w, "  (log key fetched from the server, not pinned: pass --log-key to check against a key you hold)")
	}
	if d := r.Divergence; d != nil {
		fmt.Fprintf(w, "DIVERGENCE at %s: %s\n", d.Where, d.What)
		if r.Note != "" {
			fmt.Fprintf(w, "note: %s\n", r.Note)
		}
		return nil
	}
	_, err := fmt.Fprintln(w, "OK: the ledger matches its evidence log")
	return err
}
