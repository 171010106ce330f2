package jsonscan

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// TestSkip checks Skip against encoding/json's grammar on values that
// sit at its edges.
func TestSkip(t *testing.T) {
	for _, in := range []string{
		`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e`, `1e-`, `-1.25e-3`, `+1`,
		`""`, `"a\"b"`, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"tab	"`, "\"\x01\"", `"\/\b\f\n\r\t"`, `"unterminated`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`,
		`{}`, `{"a":1}`, `{"a":1,}`, `{a:1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":{"b":[1,2,{"c":null}]}}`,
		`[]`, `[1,]`, `[,1]`, `[1 2]`, ` [ 1 , "x" , [ ] ] `, `[`, `]`, ``, ` `,
	} {
		s := New([]byte(in))
		got := s.Skip() && s.End()
		if want := json.Valid([]byte(in)); got != want {
			t.Errorf("%q: Skip %v, encoding/json %v", in, got, want)
		}
	}
	deep := make([]byte, 0, 2*(maxDepth+2))
	for range maxDepth + 2 {
		deep = append(deep, '[')
	}
	for range maxDepth + 2 {
		deep = append(deep, ']')
	}
	if New(deep).Skip() {
		t.Errorf("Skip took %d levels of nesting, more than %d", maxDepth+2, maxDepth)
	}
}

// TestScalars checks the typed readers at their limits.
func TestScalars(t *testing.T) {
	var i int64
	for in, want := range map[string]int64{`9223372036854775807`: math.MaxInt64, `-9223372036854775808`: math.MinInt64, `0`: 0, ` 42`: 42} {
		if !New([]byte(in)).Int64(&i) || i != want {
			t.Errorf("Int64(%s) = %d, want %d", in, i, want)
		}
	}
	for _, in := range []string{`9223372036854775808`, `-9223372036854775809`, `1.0`, `1e3`, `01`, `-`, `"1"`} {
		if New([]byte(in)).Int64(&i) {
			t.Errorf("Int64(%s) accepted", in)
		}
	}
	var u uint8
	if !New([]byte(`255`)).Uint8(&u) || u != 255 || New([]byte(`256`)).Uint8(&u) || New([]byte(`-1`)).Uint8(&u) {
		t.Error("Uint8 limits")
	}
	var b bool
	if !New([]byte(`true`)).Bool(&b) || !b || !New([]byte(`false`)).Bool(&b) || b || New([]byte(`nul`)).Null() {
		t.Error("literals")
	}
	var str string
	if New([]byte(`"a\nb"`)).Str(&str) || !New([]byte(`"ab"`)).Str(&str) || str != "ab" {
		t.Error("Str takes plain strings only")
	}
}

// TestObject checks that Object gives up on a repeated member and on
// more than MaxMembers, and reads members in order otherwise.
func TestObject(t *testing.T) {
	read := func(in string) ([]string, bool) {
		s := New([]byte(in))
		var names []string
		ok := s.Object(func(name []byte) bool {
			names = append(names, string(name))
			return s.Skip()
		})
		return names, ok && s.End()
	}
	if names, ok := read(`{"a":1,"b":[2],"c":{"a":1}}`); !ok || len(names) != 3 || names[2] != "c" {
		t.Errorf("members %v, ok %v", names, ok)
	}
	for _, in := range []string{`{"a":1,"b":2,"a":3}`, `{"":1,"":2}`, `{"ab":1,"cb":2,"ab":3}`,
		`{"x":1,"a":2,"b":3,"c":4,"d":5,"e":6,"f":7,"g":8,"h":9,"x":0}`} {
		if _, ok := read(in); ok {
			t.Errorf("a repeated member was taken: %s", in)
		}
	}
	if names, ok := read(`{"ab":1,"cb":2,"":3,"b":4}`); !ok || len(names) != 4 {
		t.Errorf("members of one length and last byte: %v, ok %v", names, ok)
	}
	many := []byte{'{'}
	for i := range MaxMembers + 1 {
		if i > 0 {
			many = append(many, ',')
		}
		many = append(many, '"', byte('a'+i/26), byte('a'+i%26), '"', ':', '0')
	}
	many = append(many, '}')
	if _, ok := read(string(many)); ok {
		t.Errorf("an object of %d members was taken", MaxMembers+1)
	}
}

// FuzzSkip checks Skip against encoding/json: what Skip takes (as a whole
// input) is valid JSON, and valid JSON too short to nest past Skip's
// limit is taken.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9",true,null]}`, `"\"`, `[1,]`, `-0.0E+1`, ` {} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := New(in)
		got := s.Skip() && s.End()
		valid := json.Valid(in)
		if got && !valid {
			t.Fatalf("Skip took %q, which encoding/json refuses", in)
		}
		if valid && !got && len(in) <= maxDepth {
			t.Fatalf("Skip refused %q, which encoding/json takes", in)
		}
	})
}

// rawWant is Raw's definition: after white space, a quote and the bytes
// up to the next quote, if none of them is a backslash or a control
// character.
func rawWant(in []byte) ([]byte, bool) {
	in = bytes.TrimLeft(in, " \t\n\r")
	if len(in) == 0 || in[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(in); i++ {
		switch c := in[i]; {
		case c == '"':
			return in[1:i], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func checkRaw(t testing.TB, in []byte) {
	t.Helper()
	got, ok := New(in).Raw()
	want, wantOK := rawWant(in)
	if ok != wantOK || string(got) != string(want) {
		t.Fatalf("Raw(%q) = %q, %v; want %q, %v", in, got, ok, want, wantOK)
	}
}

// TestRaw: Raw reads eight bytes at a time; every byte value at every
// position of strings of 7 to 24 bytes is judged as byte by byte.
func TestRaw(t *testing.T) {
	base := []byte("eyJhbGciOiJFZERTQSIsImtp")
	for _, n := range []int{7, 8, 9, 16, 23, 24} {
		for p := range n {
			for c := range 256 {
				b := append([]byte{'"'}, base[:n]...)
				b[1+p] = byte(c)
				checkRaw(t, append(b, '"', ','))
			}
		}
	}
}

func FuzzRaw(f *testing.F) {
	f.Add([]byte(`"eyJhbGciOiJFZERTQSIsImtpZCI6ImdVRVZucUJZbnNZd3E1Q21vV0pNNVAyU0RCMEs0ZXROWTJ5dWUtRFBycDQi"`))
	f.Add([]byte("\"caf\u00e9 \x7f\x1f\\\\\""))
	f.Add([]byte(`"abc`))
	f.Fuzz(func(t *testing.T, in []byte) { checkRaw(t, in) })
}

// TestStrShared: a shared scanner's strings are the input's bytes (they
// change with it), a copying scanner's are not; both read the same
// values, empty strings included, and refuse the same strings.
func TestStrShared(t *testing.T) {
	in := []byte(`["abc",""]`)
	var copied, shared, empty string
	c, s := New(in), NewShared(in)
	for _, sc := range []*Scanner{c, s} {
		if !sc.Next('[') {
			t.Fatal("no array")
		}
	}
	if !c.Str(&copied) || !s.Str(&shared) || copied != "abc" || shared != "abc" {
		t.Fatalf("read %q and %q, want abc", copied, shared)
	}
	if !s.Next(',') || !s.Str(&empty) || empty != "" {
		t.Fatalf("shared empty string: %q", empty)
	}
	in[3] = 'X'
	if copied != "abc" || shared != "aXc" {
		t.Fatalf("after the input changed: copied %q (want abc), shared %q (want aXc)", copied, shared)
	}
	if NewShared([]byte(`"a\nb"`)).Str(&shared) {
		t.Fatal("a shared scanner took an escaped string")
	}
}

// FuzzObject checks that Object gives up on an object whose member names
// repeat and takes one whose plain names do not.
func FuzzObject(f *testing.F) {
	f.Add([]byte("a,b,a"))
	f.Add([]byte(",,"))
	f.Add([]byte("ab,cb,ab"))
	f.Fuzz(func(t *testing.T, in []byte) {
		names := bytes.Split(in, []byte(","))
		if len(names) > MaxMembers {
			return
		}
		obj := []byte{'{'}
		seen, repeated := map[string]bool{}, false
		for i, n := range names {
			if bytes.ContainsAny(n, "\"\\") || bytes.ContainsFunc(n, func(r rune) bool { return r < 0x20 }) {
				return
			}
			if i > 0 {
				obj = append(obj, ',')
			}
			obj = append(append(append(obj, '"'), n...), `":0`...)
			repeated = repeated || seen[string(n)]
			seen[string(n)] = true
		}
		obj = append(obj, '}')
		s := New(obj)
		ok := s.Object(func([]byte) bool { return s.Skip() }) && s.End()
		if ok == repeated {
			t.Fatalf("%s: taken %v, repeated %v", obj, ok, repeated)
		}
	})
}
