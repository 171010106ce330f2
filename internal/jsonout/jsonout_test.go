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
