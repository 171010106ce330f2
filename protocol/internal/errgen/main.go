// Command errgen turns the ACT error-code registry (protocol/errors.json)
// into the Go constants file (protocol/errors_codes.go) and the
// specification's table (docs/protocol/errors.md). It is run by
// `go generate ./protocol/`; a test in this package fails when either
// generated file is stale.
//
// Usage (from protocol/):
//
//	go run ./internal/errgen -registry errors.json -go errors_codes.go -md ../docs/protocol/errors.md
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Limits, units last.
const (
	registryBytesMax = 1 << 20
	codesMax         = 500
	meaningBytesMax  = 1000
)

// entry is one registered code as written in errors.json.
type entry struct {
	Code       string   `json:"code"`
	Status     int      `json:"status"`
	Type       string   `json:"type"`
	AP2        string   `json:"ap2"`
	ReturnedBy []string `json:"returned_by"`
	Meaning    string   `json:"meaning"`
}

// registry is errors.json.
type registry struct {
	Comment string  `json:"comment"`
	Codes   []entry `json:"codes"`
}

// statusOfType is the one HTTP status of each wire error type
// (protocol.Error.Type, see protocol/ledgerapi.go).
var statusOfType = map[string]int{
	"invalid_request":      400,
	"authentication":       401,
	"permission":           403,
	"not_found":            404,
	"method_not_allowed":   405,
	"conflict":             409,
	"request_too_large":    413,
	"unsupported_media":    415,
	"idempotency_mismatch": 422,
	"rejected":             422,
	"unavailable":          503,
	"internal":             500,
}

var (
	parties  = map[string]bool{"user": true, "agent": true, "merchant": true, "vendor": true, "platform": true}
	ap2Codes = map[string]bool{"": true, "invalid_credential": true, "unresolved_constraint": true,
		"invalid_mandate": true, "mandates_not_supported": true}
	codeRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
)

// parse decodes and checks the registry: codes unique snake_case, each
// type known and its status the type's status, parties and AP2 codes
// known, a meaning for every code.
func parse(data []byte) (*registry, error) {
	if len(data) > registryBytesMax {
		return nil, fmt.Errorf("errgen: registry is %d bytes, limit %d", len(data), registryBytesMax)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r registry
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("errgen: decode registry: %w", err)
	}
	if len(r.Codes) == 0 || len(r.Codes) > codesMax {
		return nil, fmt.Errorf("errgen: registry has %d codes, want 1..%d", len(r.Codes), codesMax)
	}
	seen := map[string]bool{}
	seenName := map[string]string{}
	for i, e := range r.Codes {
		at := fmt.Sprintf("codes[%d] (%q)", i, e.Code)
		if !codeRE.MatchString(e.Code) {
			return nil, fmt.Errorf("errgen: %s: code is not snake_case", at)
		}
		if seen[e.Code] {
			return nil, fmt.Errorf("errgen: %s: duplicate code", at)
		}
		seen[e.Code] = true
		name := goName(e.Code)
		if other, ok := seenName[name]; ok {
			return nil, fmt.Errorf("errgen: %s: Go name %s also used by %q", at, name, other)
		}
		seenName[name] = e.Code
		st, ok := statusOfType[e.Type]
		if !ok {
			return nil, fmt.Errorf("errgen: %s: unknown type %q", at, e.Type)
		}
		if st != e.Status {
			return nil, fmt.Errorf("errgen: %s: status %d, but type %s is always %d", at, e.Status, e.Type, st)
		}
		if !ap2Codes[e.AP2] {
			return nil, fmt.Errorf("errgen: %s: unknown AP2 code %q", at, e.AP2)
		}
		if len(e.ReturnedBy) == 0 {
			return nil, fmt.Errorf("errgen: %s: returned_by is empty", at)
		}
		for _, p := range e.ReturnedBy {
			if !parties[p] {
				return nil, fmt.Errorf("errgen: %s: unknown party %q", at, p)
			}
		}
		if e.Meaning == "" || len(e.Meaning) > meaningBytesMax || strings.ContainsAny(e.Meaning, "\n\r\t") {
			return nil, fmt.Errorf("errgen: %s: meaning must be one line of 1..%d bytes", at, meaningBytesMax)
		}
	}
	return &r, nil
}

// initialisms are the words written in capitals in Go names.
var initialisms = map[string]string{"jws": "JWS", "id": "ID", "http": "HTTP", "json": "JSON", "url": "URL", "ap2": "AP2"}

// goName is the constant name of a code: "jws_malformed" → "CodeJWSMalformed".
func goName(code string) string {
	var b strings.Builder
	b.WriteString("Code")
	for _, w := range strings.Split(code, "_") {
		if up, ok := initialisms[w]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// wrap breaks text into lines of at most width bytes (a longer word
// stays whole).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// goSource is the generated Go file, gofmt-formatted.
func goSource(r *registry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by protocol/internal/errgen from errors.json; DO NOT EDIT.\n\n")
	b.WriteString("package protocol\n\n")
	b.WriteString("// The registered ACT error codes (errors.json; the table is\n")
	b.WriteString("// docs/protocol/errors.md). Each comment gives the HTTP status, the\n")
	b.WriteString("// parties that return the code and its meaning.\n")
	b.WriteString("const (\n")
	for i, e := range r.Codes {
		if i > 0 {
			b.WriteString("\n")
		}
		head := fmt.Sprintf("%s (%d %s; returned by %s): %s", goName(e.Code), e.Status, e.Type,
			strings.Join(e.ReturnedBy, ", "), e.Meaning)
		for _, l := range wrap(head, 72) {
			b.WriteString("\t// " + l + "\n")
		}
		fmt.Fprintf(&b, "\t%s Code = %q\n", goName(e.Code), e.Code)
	}
	b.WriteString(")\n\n")
	b.WriteString("// registeredCodes lists every code in registry order.\n")
	b.WriteString("var registeredCodes = [...]CodeInfo{\n")
	for _, e := range r.Codes {
		rb := make([]string, len(e.ReturnedBy))
		for i, p := range e.ReturnedBy {
			rb[i] = strconv.Quote(p)
		}
		fmt.Fprintf(&b, "\t{Code: %s, Status: %d, Type: %q, AP2: %q, ReturnedBy: %q, Meaning: %q},\n",
			goName(e.Code), e.Status, e.Type, e.AP2, strings.Join(e.ReturnedBy, ", "), e.Meaning)
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("errgen: format Go source: %w", err)
	}
	return src, nil
}

// markdown is the generated specification table.
func markdown(r *registry) []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Code generated by protocol/internal/errgen from protocol/errors.json; DO NOT EDIT. -->\n\n")
	b.WriteString("# ACT error codes\n\n")
	b.WriteString("Every failure an ACT verifier reports carries one of these codes: in a\n")
	b.WriteString("receipt's `error` claim, and in an HTTP error body\n")
	b.WriteString("`{\"type\",\"code\",\"message\",\"param\"}` with the status and type below. The\n")
	b.WriteString("registry is `protocol/errors.json`; this table and the Go constants\n")
	b.WriteString("(`protocol/errors_codes.go`) are generated from it by\n")
	b.WriteString("`go generate ./protocol/`. A code keeps its meaning forever; new codes are\n")
	b.WriteString("added at the end of a group. The AP2 column is the AP2 v0.2 receipt error\n")
	b.WriteString("code to use when answering an AP2 client (empty: AP2 has none).\n\n")
	b.WriteString("| code | HTTP | type | returned by | AP2 | meaning |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	esc := strings.NewReplacer("|", `\|`)
	for _, e := range r.Codes {
		ap2 := ""
		if e.AP2 != "" {
			ap2 = "`" + e.AP2 + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %d | `%s` | %s | %s | %s |\n", e.Code, e.Status, e.Type,
			strings.Join(e.ReturnedBy, ", "), ap2, esc.Replace(e.Meaning))
	}
	return b.Bytes()
}

// generate reads the registry at path and returns both generated files.
func generate(path string) (goSrc, md []byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("errgen: %w", err)
	}
	r, err := parse(data)
	if err != nil {
		return nil, nil, err
	}
	goSrc, err = goSource(r)
	if err != nil {
		return nil, nil, err
	}
	return goSrc, markdown(r), nil
}

func main() {
	reg := flag.String("registry", "errors.json", "the registry")
	goOut := flag.String("go", "errors_codes.go", "the Go file to write")
	mdOut := flag.String("md", "../docs/protocol/errors.md", "the Markdown file to write")
	flag.Parse()
	if err := run(*reg, *goOut, *mdOut); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(reg, goOut, mdOut string) error {
	if reg == "" || goOut == "" || mdOut == "" {
		return errors.New("errgen: -registry, -go and -md are required")
	}
	goSrc, md, err := generate(reg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(goOut, goSrc, 0o644); err != nil {
		return fmt.Errorf("errgen: %w", err)
	}
	if err := os.WriteFile(mdOut, md, 0o644); err != nil {
		return fmt.Errorf("errgen: %w", err)
	}
	return nil
}
