package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentpay/agentpay/evidence"
	"github.com/agentpay/agentpay/evidence/ledgerlog"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/store"
	"github.com/agentpay/agentpay/store/sqlite"
)

// witnessFlag is the repeatable --witness name=vkey[@url].
type witnessFlag struct{ ws *[]ledgerlog.Witness }

func (f *witnessFlag) String() string {
	if f.ws == nil {
		return ""
	}
	var parts []string
	for _, w := range *f.ws {
		parts = append(parts, w.VKey)
	}
	return strings.Join(parts, ",")
}

func (f *witnessFlag) Type() string { return "name=vkey[@url]" }

func (f *witnessFlag) Set(v string) error {
	w, err := parseWitness(v)
	if err != nil {
		return err
	}
	*f.ws = append(*f.ws, w)
	return nil
}

// parseWitness parses name=vkey[@url]; name must be the vkey's key name.
func parseWitness(v string) (ledgerlog.Witness, error) {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return ledgerlog.Witness{}, fmt.Errorf("witness %q: want name=vkey[@url]", v)
	}
	vkey, u := rest, ""
	for _, scheme := range []string{"@https://", "@http://"} {
		if i := strings.LastIndex(rest, scheme); i >= 0 {
			vkey, u = rest[:i], rest[i+1:]
			break
		}
	}
	verifier, err := evidence.NewCosignatureVerifier(vkey)
	if err != nil {
		return ledgerlog.Witness{}, fmt.Errorf("witness %q: %w", name, err)
	}
	if verifier.Name() != name {
		return ledgerlog.Witness{}, fmt.Errorf("witness %q: the key is named %q; use %s=...", name, verifier.Name(), verifier.Name())
	}
	if u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			return ledgerlog.Witness{}, fmt.Errorf("witness %q: bad URL %q", name, u)
		}
	}
	return ledgerlog.Witness{VKey: vkey, URL: u}, nil
}

// newLogCommand is "agentpay log": evidence log tools.
func newLogCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "log", Short: "Evidence log tools (export checkpoints for anchoring)"}
	var server, dataDir string
	var after uint64
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the stored checkpoints, with their witness cosignatures, one signed note after another",
		Long: `Print every stored checkpoint of the evidence log with a size above --after,
in size order, each a C2SP signed note (the log's signature, then its witness
cosignatures), separated by an empty line, for anchoring elsewhere. Read them
from a running server (--server, default --url; public, no API key) or from a
data directory (--data-dir; stop the server first or copy the directory).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if dataDir != "" {
				return exportFromDataDir(cmd, dataDir, after, out)
			}
			if server == "" {
				server = cf.url
			}
			return exportFromServer(cmd, server, after, out)
		},
	}
	export.Flags().StringVar(&server, "server", "", "server URL (default --url)")
	export.Flags().StringVar(&dataDir, "data-dir", "", "read the store in this data directory instead of a server")
	export.Flags().Uint64Var(&after, "after", 0, "export checkpoints with a size above this one")
	export.MarkFlagsMutuallyExclusive("server", "data-dir")
	cmd.AddCommand(export)
	return cmd
}

func writeNotes(w io.Writer, first bool, notes ...[]byte) error {
	for _, n := range notes {
		if !first {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		first = false
		if _, err := w.Write(n); err != nil {
			return err
		}
	}
	return nil
}

func exportFromServer(cmd *cobra.Command, server string, after uint64, out io.Writer) error {
	base := strings.TrimSuffix(server, "/")
	first := true
	for {
		var list protocol.LogCheckpointList
		u := base + "/v1/log/checkpoints?limit=" + strconv.Itoa(protocol.PageLimitMax) + "&after=" + strconv.FormatUint(after, 10)
		if err := getJSON(cmd.Context(), u, &list); err != nil {
			return fmt.Errorf("log export: %w", err)
		}
		for _, cp := range list.Data {
			if err := writeNotes(out, first, []byte(cp.Note)); err != nil {
				return err
			}
			first = false
		}
		if list.NextCursor == "" {
			return nil
		}
		next, err := strconv.ParseUint(list.NextCursor, 10, 64)
		if err != nil || next <= after {
			return fmt.Errorf("log export: bad next_cursor %q", list.NextCursor)
		}
		after = next
	}
}

func exportFromDataDir(cmd *cobra.Command, dir string, after uint64, out io.Writer) error {
	ctx := cmd.Context()
	path := filepath.Join(dir, databaseFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("log export: %w", err)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return fmt.Errorf("log export: open store: %w", err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("log export: migrate store: %w", err)
	}
	first := true
	for {
		cps, err := st.ListCheckpoints(ctx, after, store.PageLimitMax)
		if err != nil {
			return fmt.Errorf("log export: %w", err)
		}
		for _, cp := range cps {
			sigs, err := st.Cosignatures(ctx, cp.Size)
			if err != nil {
				return fmt.Errorf("log export: %w", err)
			}
			n, err := evidence.AttachCosignatures(cp.Note, sigs)
			if err != nil {
				return fmt.Errorf("log export: %w", err)
			}
			if err := writeNotes(out, first, n); err != nil {
				return err
			}
			first = false
			after = cp.Size
		}
		if len(cps) < store.PageLimitMax {
			return nil
		}
	}
}

// getJSON GETs a public API URL and decodes its JSON body.
func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "agentpay-cli/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e protocol.Error
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			return fmt.Errorf("GET %s: %d %s: %s", u, resp.StatusCode, e.Code, e.Message)
		}
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return json.Unmarshal(body, v)
}
