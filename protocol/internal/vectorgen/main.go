// Command vectorgen writes the ACT conformance test vectors
// (protocol/testdata/vectors) deterministically: go generate ./protocol/
// or go run ./protocol/internal/vectorgen -out protocol/testdata/vectors.
// It removes .json files of the directory that it no longer generates.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/agentpay/agentpay/protocol/internal/actvectors"
)

func main() {
	out := flag.String("out", "protocol/testdata/vectors", "directory to write the vector files to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "vectorgen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := actvectors.Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, keep := files[filepath.Base(p)]; !keep {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("vectorgen: wrote %d vectors to %s\n", len(names), dir)
	return nil
}
