package jsonout

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/agentpay/agentpay/protocol"
	"pgregory.net/rapid"
)

// TestWriterMatches: the writer's pieces are json.Marshal's bytes, for
// any decision (checks, limits, nil and empty slices), strings of any
// bytes and times of any year (json.Marshal refuses years past 9999, and
// so does the writer).
func TestWriterMatches(t *testing.T) {
	decisions := rapid.Make[protocol.Decision]()
	strs := rapid.SliceOf(rapid.OneOf(rapid.String(), rapid.StringMatching(`[ -~]{0,12}`),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) })))
	rapid.Check(t, func(t *rapid.T) {
		d := decisions.Draw(t, "decision")
		ss := strs.Draw(t, "strings")
		at := time.Unix(rapid.Int64Range(-1<<40, 1<<40).Draw(t, "sec"), 0).UTC()
		want, err := json.Marshal(struct {
			D  protocol.Decision `json:"d"`
			SS []string          `json:"ss"`
			At time.Time         `json:"at"`
		}{d, ss, at})
		w := New(nil)
		w.Open()
		w.Key("d")
		w.Decision(&d)
		w.Key("ss")
		w.Strs(ss)
		w.KTime("at", at)
		w.Close()
		if err := Check(w.B, w.OK, want, err); err != nil {
			t.Fatal(err)
		}
	})
}

// strMatches checks Str(s) against json.Marshal(s).
func strMatches(t testing.TB, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	w := New(nil)
	w.Str(s)
	if err != nil || string(w.B) != string(want) {
		t.Fatalf("Str(%q) = %s, json.Marshal: %s (%v)", s, w.B, want, err)
	}
}

// TestStrMatches: Str reads eight bytes at a time while none may need
// escaping; every byte value at every position of a 24-byte string (the
// first, a middle and the last block, and a tail) is written as
// json.Marshal writes it.
func TestStrMatches(t *testing.T) {
	base := []byte("eyJhbGciOiJFZERTQSIsImtp")
	for _, n := range []int{7, 8, 9, 16, 23, 24} {
		for p := range n {
			for c := range 256 {
				b := append([]byte(nil), base[:n]...)
				b[p] = byte(c)
				strMatches(t, string(b))
			}
		}
	}
}

func FuzzStr(f *testing.F) {
	f.Add("eyJhbGciOiJFZERTQSIsImtpZCI6ImdVRVZucUJZbnNZd3E1Q21vV0pNNVAyU0RCMEs0ZXROWTJ5dWUtRFBycDQi")
	f.Add("0.31 USD is within [0.00 USD, 10.00 USD] <&>")
	f.Add("caf\u00e9 \x7f\x00\"\\")
	f.Fuzz(func(t *testing.T, s string) { strMatches(t, s) })
}
