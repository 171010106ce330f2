package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func sampleEntry() Entry {
	prev := HashBytes([]byte("previous"))
	return Entry{
		Kind:  KindTransferChain,
		ID:    "evt_01JDZ0000000000000000000",
		Shard: 3,
		Seq:   42,
		Time:  time.Date(2026, 11, 29, 12, 0, 0, 123456789, time.UTC),
		Subjects: []Subject{
			{Type: "transfer", ID: "tr_1"},
			{Type: "account", ID: "acct_2"},
		},
		Hashes: []ObjectHash{{Name: "transfer", SHA256: HashBytes([]byte("signed transfer"))}},
		Prev:   &prev,
	}
}

// genEntry returns the canonical bytes of a varied entry number i.
func genEntry(t testing.TB, i int) []byte {
	t.Helper()
	e := Entry{
		Kind:  KindTransferChain,
		ID:    fmt.Sprintf("evt_%08d", i),
		Shard: uint32(i % 4),
		Seq:   uint64(i),
		Time:  time.UnixMicro(1_790_000_000_000_000 + int64(i)),
	}
	if i%3 == 0 {
		e.Subjects = []Subject{{Type: "account", ID: fmt.Sprintf("acct_%d", i%17)}}
	}
	if i%5 == 0 {
		e.Kind = KindRiskDecision
		e.Hashes = []ObjectHash{{Name: "request", SHA256: HashBytes([]byte{byte(i)})}}
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatalf("marshal entry %d: %v", i, err)
	}
	return b
}

func genEntries(t testing.TB, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = genEntry(t, i)
	}
	return out
}

func TestEntryGolden(t *testing.T) {
	e := sampleEntry()
	got, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "apay-evidence/v1\n" +
		`{"hashes":[{"name":"transfer","sha256":"` + HashBytes([]byte("signed transfer")).String() + `"}],` +
		`"id":"evt_01JDZ0000000000000000000","kind":"transfer_chain",` +
		`"prev":"` + HashBytes([]byte("previous")).String() + `",` +
		`"seq":42,"shard":3,"subjects":[{"id":"tr_1","type":"transfer"},{"id":"acct_2","type":"account"}],` +
		`"ts":1795953600123456,"v":1}`
	if string(got) != want {
		t.Fatalf("Marshal:\n got %s\nwant %s", got, want)
	}
	if !json.Valid(got[len(EntryPrefix):]) {
		t.Fatal("body is not valid JSON")
	}
}

func TestEntryRoundTrip(t *testing.T) {
	cases := map[string]Entry{
		"sample":  sampleEntry(),
		"minimal": {Kind: KindAgentKey, ID: "k", Time: time.UnixMicro(0)},
		"batch": {Kind: KindBatch, ID: "b_1", Seq: IntMax, Shard: 1<<32 - 1, Time: time.UnixMicro(IntMax),
			Batch: &BatchInfo{Root: HashBytes([]byte("r")), Count: 8189}},
		"batch range": {Kind: KindBatch, ID: "b_2", Time: time.UnixMicro(9),
			Batch: &BatchInfo{Root: HashBytes([]byte("r")), Count: 3, From: 1<<63 + 5, To: 1<<64 - 1}},
		"meter": {Kind: KindMeterBatch, ID: "m_1", Time: time.UnixMicro(5),
			Batch: &BatchInfo{Root: HashBytes([]byte("m")), Count: 1}},
		"new kind": {Kind: "future_kind", ID: "x-1.2:3/4+5=", Time: time.UnixMicro(7)},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseEntry(b)
			if err != nil {
				t.Fatalf("ParseEntry(%s): %v", b, err)
			}
			b2, err := got.Marshal()
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("re-marshal: %v\n got %s\nwant %s", err, b2, b)
			}
			if got.Time.UnixMicro() != e.Time.UnixMicro() || got.ID != e.ID || got.Kind != e.Kind ||
				(e.Batch != nil && *got.Batch != *e.Batch) {
				t.Fatalf("got %+v, want %+v", got, e)
			}
		})
	}
}

func TestEntryValidateRejects(t *testing.T) {
	h := HashBytes(nil)
	base := func() Entry { return Entry{Kind: KindCapture, ID: "c_1", Time: time.UnixMicro(1)} }
	cases := map[string]func(*Entry){
		"empty kind":      func(e *Entry) { e.Kind = "" },
		"upper kind":      func(e *Entry) { e.Kind = "Capture" },
		"long kind":       func(e *Entry) { e.Kind = Kind(strings.Repeat("a", KindMaxBytes+1)) },
		"empty id":        func(e *Entry) { e.ID = "" },
		"quote in id":     func(e *Entry) { e.ID = `a"b` },
		"space in id":     func(e *Entry) { e.ID = "a b" },
		"non-ascii id":    func(e *Entry) { e.ID = "café" },
		"long id":         func(e *Entry) { e.ID = strings.Repeat("a", StringMaxBytes+1) },
		"seq too big":     func(e *Entry) { e.Seq = IntMax + 1 },
		"negative time":   func(e *Entry) { e.Time = time.UnixMicro(-1) },
		"bad subject":     func(e *Entry) { e.Subjects = []Subject{{Type: "account", ID: "<x>"}} },
		"bad hash name":   func(e *Entry) { e.Hashes = []ObjectHash{{Name: "", SHA256: h}} },
		"too many refs":   func(e *Entry) { e.Subjects = make([]Subject, RefsMaxCount+1) },
		"batch no info":   func(e *Entry) { e.Kind = KindBatch },
		"info not batch":  func(e *Entry) { e.Batch = &BatchInfo{Root: h, Count: 1} },
		"batch count 0":   func(e *Entry) { e.Kind, e.Batch = KindBatch, &BatchInfo{Root: h} },
		"batch count big": func(e *Entry) { e.Kind, e.Batch = KindBatch, &BatchInfo{Root: h, Count: IntMax + 1} },
		"batch from > to": func(e *Entry) { e.Kind, e.Batch = KindBatch, &BatchInfo{Root: h, Count: 1, From: 9, To: 8} },
		"batch from 0":    func(e *Entry) { e.Kind, e.Batch = KindBatch, &BatchInfo{Root: h, Count: 1, To: 8} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := base()
			mutate(&e)
			if _, err := e.Marshal(); !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("Marshal err = %v, want ErrInvalidEntry", err)
			}
		})
	}
}

func TestEntryTooLarge(t *testing.T) {
	e := Entry{Kind: KindCapture, ID: "c", Time: time.UnixMicro(1)}
	for i := 0; i < RefsMaxCount; i++ {
		e.Subjects = append(e.Subjects, Subject{Type: strings.Repeat("t", StringMaxBytes), ID: strings.Repeat("i", StringMaxBytes)})
		e.Hashes = append(e.Hashes, ObjectHash{Name: strings.Repeat("n", StringMaxBytes), SHA256: HashBytes(nil)})
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatalf("largest entry: %v", err) // 64 refs of 128-byte strings still fit
	}
	if len(b) > EntryMaxBytes {
		t.Fatalf("len %d > %d", len(b), EntryMaxBytes)
	}
	if _, err := ParseEntry(append(b, make([]byte, EntryMaxBytes)...)); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("oversized ParseEntry err = %v", err)
	}
}

func TestParseEntryRejectsNonCanonical(t *testing.T) {
	e := sampleEntry()
	good, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	cases := map[string]string{
		"no prefix":       strings.TrimPrefix(s, EntryPrefix),
		"v2 prefix":       strings.Replace(s, "apay-evidence/v1", "apay-evidence/v2", 1),
		"space":           strings.Replace(s, `"seq":42`, `"seq": 42`, 1),
		"trailing space":  s + " ",
		"trailing data":   s + "{}",
		"newline":         s + "\n",
		"key order":       strings.Replace(s, `"seq":42,"shard":3`, `"shard":3,"seq":42`, 1),
		"upper hex":       strings.Replace(s, HashBytes([]byte("previous")).String(), strings.ToUpper(HashBytes([]byte("previous")).String()), 1),
		"short hex":       strings.Replace(s, HashBytes([]byte("previous")).String(), "abcd", 1),
		"unknown field":   strings.Replace(s, `"v":1}`, `"v":1,"x":1}`, 1),
		"duplicate key":   strings.Replace(s, `"v":1}`, `"v":1,"v":1}`, 1),
		"case key":        strings.Replace(s, `"v":1}`, `"V":1}`, 1),
		"version 2":       strings.Replace(s, `"v":1}`, `"v":2}`, 1),
		"float":           strings.Replace(s, `"seq":42`, `"seq":42.0`, 1),
		"exponent":        strings.Replace(s, `"seq":42`, `"seq":4.2e1`, 1),
		"leading zero":    strings.Replace(s, `"seq":42`, `"seq":042`, 1),
		"negative":        strings.Replace(s, `"seq":42`, `"seq":-42`, 1),
		"escaped char":    strings.Replace(s, `"tr_1"`, `"tr\u005f1"`, 1),
		"missing seq":     strings.Replace(s, `"seq":42,`, ``, 1),
		"empty subjects":  strings.Replace(s, `"subjects":[{"id":"tr_1","type":"transfer"},{"id":"acct_2","type":"account"}],`, `"subjects":[],`, 1),
		"null prev":       strings.Replace(s, `"prev":"`+HashBytes([]byte("previous")).String()+`"`, `"prev":null`, 1),
		"not an object":   EntryPrefix + "[]",
		"empty":           "",
		"prefix only":     EntryPrefix,
		"bad batch":       strings.Replace(s, `{"hashes"`, `{"batch":{"count":1,"root":"00"},"hashes"`, 1),
		"batch on kind":   strings.Replace(s, `{"hashes"`, `{"batch":{"count":1,"root":"`+HashBytes(nil).String()+`"},"hashes"`, 1),
		"batch from only": strings.Replace(s, `{"hashes"`, `{"batch":{"count":1,"from":"5","root":"`+HashBytes(nil).String()+`"},"hashes"`, 1),
		"subject order":   strings.Replace(s, `{"id":"tr_1","type":"transfer"}`, `{"type":"transfer","id":"tr_1"}`, 1),
		"invalid id char": strings.Replace(s, `"tr_1"`, `"tr 1"`, 1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if in == s {
				t.Fatal("case does not change the input")
			}
			if _, err := ParseEntry([]byte(in)); !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("ParseEntry(%q) err = %v, want ErrInvalidEntry", in, err)
			}
		})
	}
}

func TestLeafHash(t *testing.T) {
	// RFC 6962: leaf hash of the empty input.
	if got, want := LeafHash(nil).String(), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"; got != want {
		t.Fatalf("LeafHash(nil) = %s, want %s", got, want)
	}
}

func FuzzParseEntry(f *testing.F) {
	e := sampleEntry()
	b, _ := e.Marshal()
	f.Add(b)
	f.Add(genEntry(f, 0))
	f.Add(genEntry(f, 5))
	be := Entry{Kind: KindBatch, ID: "b", Time: time.UnixMicro(1), Batch: &BatchInfo{Count: 3}}
	b, _ = be.Marshal()
	f.Add(b)
	f.Add([]byte(EntryPrefix + "{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := ParseEntry(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("error %v does not wrap ErrInvalidEntry", err)
			}
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("accepted entry does not marshal: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("accepted non-canonical input:\n in %q\nout %q", in, out)
		}
		if !json.Valid(in[len(EntryPrefix):]) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
	})
}

func TestVerifyChain(t *testing.T) {
	var chain [][]byte
	var prev *Hash
	for i := 0; i < 5; i++ {
		e := Entry{Kind: KindCapture, ID: fmt.Sprintf("evt_%d", i), Time: time.UnixMicro(int64(i)), Prev: prev,
			Subjects: []Subject{{Type: "wallet", ID: "wal_1"}}}
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, b)
		h := LeafHash(b)
		prev = &h
	}
	if err := VerifyChain(chain, nil); err != nil {
		t.Fatal(err)
	}
	first := LeafHash(chain[0])
	if err := VerifyChain(chain[1:], &first); err != nil {
		t.Fatalf("continuing chain: %v", err)
	}
	if err := VerifyChain(chain[1:], prev); !errors.Is(err, ErrChain) {
		t.Fatalf("wrong anchor err = %v", err)
	}
	deleted := append(append([][]byte{}, chain[:2]...), chain[3:]...)
	if err := VerifyChain(deleted, nil); !errors.Is(err, ErrChain) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("deleted entry err = %v", err)
	}
	swapped := [][]byte{chain[0], chain[2], chain[1], chain[3]}
	if err := VerifyChain(swapped, nil); !errors.Is(err, ErrChain) {
		t.Fatalf("reordered err = %v", err)
	}
	if err := VerifyChain([][]byte{chain[0], []byte("junk")}, nil); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("junk err = %v", err)
	}
}

func TestParseHash(t *testing.T) {
	h := HashBytes([]byte("x"))
	if got, err := ParseHash(h.String()); err != nil || got != h {
		t.Fatalf("ParseHash round trip: %v", err)
	}
	for _, bad := range []string{"", "00", strings.ToUpper(h.String()), h.String() + "00", "zz" + h.String()[2:]} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}
