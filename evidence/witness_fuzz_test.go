package evidence

import (
	"bytes"
	"testing"
)

func FuzzParseAddCheckpointRequest(f *testing.F) {
	f.Add([]byte("old 0\n\norigin\n1\nAAAA\n\n— k sig\n"))
	f.Add([]byte("old 3\nypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=\n\nck\n"))
	f.Add([]byte("old 18446744073709551615\n\nx"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseAddCheckpointRequest(body)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("parsed request %+v does not marshal: %v", r, err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("ParseAddCheckpointRequest(%q) marshals back as %q", body, again)
		}
	})
}
