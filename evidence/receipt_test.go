package evidence

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func sampleReceipt() Receipt {
	return Receipt{
		Origin: testOrigin, LogIndex: 41, EntryHash: HashBytes([]byte("entry")),
		Items: []ReceiptItem{
			{Type: "transfer", ID: "tr_01JDX", Timestamp: 1764400000123456789, LeafHash: HashBytes([]byte("a"))},
			{Type: "transfer", ID: "tr_01JDY", Timestamp: 1764400000123456790, LeafHash: HashBytes([]byte("b"))},
		},
	}
}

func TestReceiptSignOpen(t *testing.T) {
	signer, verifier, _, _ := testKey(t, testOrigin, 1)
	_, other, _, _ := testKey(t, testOrigin, 2)
	r := sampleReceipt()
	signed, err := SignReceipt(r, signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenReceipt(signed, testOrigin, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogIndex != r.LogIndex || got.EntryHash != r.EntryHash || len(got.Items) != 2 || got.Items[1] != r.Items[1] {
		t.Fatalf("opened %+v, want %+v", got, r)
	}
	if it, ok := got.Item("transfer", "tr_01JDY"); !ok || it != r.Items[1] {
		t.Fatalf("Item = %+v, %v", it, ok)
	}
	if _, ok := got.Item("transfer", "tr_nope"); ok {
		t.Fatal("Item found a record the receipt does not name")
	}
	// Another key, another origin, a changed record: refused.
	if _, err := OpenReceipt(signed, testOrigin, other); !errors.Is(err, ErrReceipt) {
		t.Fatalf("other key: %v, want ErrReceipt", err)
	}
	if _, err := OpenReceipt(signed, "other.example/log", verifier); !errors.Is(err, ErrReceipt) {
		t.Fatalf("other origin: %v, want ErrReceipt", err)
	}
	forged := bytes.Replace(signed, []byte(" 1764400000123456790 "), []byte(" 1764400000123456791 "), 1)
	if bytes.Equal(forged, signed) {
		t.Fatal("forgery did not change the receipt")
	}
	if _, err := OpenReceipt(forged, testOrigin, verifier); !errors.Is(err, ErrReceipt) {
		t.Fatalf("changed record: %v, want ErrReceipt", err)
	}
	// A receipt is never a checkpoint, and a checkpoint never a receipt.
	if _, _, err := OpenCheckpoint(signed, testOrigin, verifier); err == nil {
		t.Fatal("a receipt opened as a checkpoint")
	}
	cp, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 3, Root: HashBytes(nil)}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReceipt(cp, testOrigin, verifier); !errors.Is(err, ErrReceipt) {
		t.Fatalf("checkpoint as receipt: %v, want ErrReceipt", err)
	}
}

func TestParseReceiptRejects(t *testing.T) {
	good, err := sampleReceipt().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	cases := map[string]string{
		"empty":            "",
		"no newline":       strings.TrimSuffix(s, "\n"),
		"header":           strings.Replace(s, ReceiptHeader, "agentpay.dev/receipt/v2", 1),
		"no records":       strings.Join(strings.SplitAfter(s, "\n")[:3], ""),
		"leading zero":     strings.Replace(s, "\n41 ", "\n041 ", 1),
		"extra field":      strings.Replace(s, "tr_01JDX ", "tr_01JDX x ", 1),
		"bad id":           strings.Replace(s, "tr_01JDX", "tr 01JDX", 1),
		"short hash":       strings.Replace(s, HashB64(HashBytes([]byte("a"))), "AAAA", 1),
		"unpadded hash":    strings.Replace(s, HashB64(HashBytes([]byte("a"))), strings.TrimRight(HashB64(HashBytes([]byte("a"))), "="), 1),
		"double newline":   s + "\n",
		"negative ts":      strings.Replace(s, " 1764400000123456789 ", " -1764400000123456789 ", 1),
		"empty origin":     strings.Replace(s, testOrigin+"\n", "\n", 1),
		"trailing space":   strings.Replace(s, "\n41 ", "\n41  ", 1),
		"carriage returns": strings.ReplaceAll(s, "\n", "\r\n"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if in == s {
				t.Fatal("case does not change the input")
			}
			if _, err := ParseReceipt([]byte(in)); !errors.Is(err, ErrReceipt) {
				t.Fatalf("ParseReceipt(%q) = %v, want ErrReceipt", in, err)
			}
		})
	}
	if _, err := (Receipt{Origin: testOrigin}).Marshal(); !errors.Is(err, ErrReceipt) {
		t.Fatalf("Marshal without records: %v, want ErrReceipt", err)
	}
}

// FuzzParseReceipt: ParseReceipt never panics, and what it accepts
// re-marshals to the same bytes.
func FuzzParseReceipt(f *testing.F) {
	good, _ := sampleReceipt().Marshal()
	f.Add(good)
	f.Add([]byte(ReceiptHeader + "\nx\n0 " + HashB64(Hash{}) + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReceipt(b)
		if err != nil {
			if !errors.Is(err, ErrReceipt) {
				t.Fatalf("error %v does not wrap ErrReceipt", err)
			}
			return
		}
		again, err := r.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %q, re-marshals to %q, %v", b, again, err)
		}
	})
}
