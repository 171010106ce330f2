package evidence

import (
	"bytes"
	"errors"
	"testing"
)

func TestChainHeadSignOpen(t *testing.T) {
	signer, verifier, _, _ := testKey(t, testOrigin, 1)
	_, other, _, _ := testKey(t, testOrigin, 2)
	leaves := []Hash{HashBytes([]byte("a")), HashBytes([]byte("b")), HashBytes([]byte("c"))}
	link := ChainStart("acct_1")
	for _, l := range leaves {
		link = ChainNext(link, l)
	}
	signed, err := SignChainHead(ChainHead{Origin: testOrigin, Account: "acct_1", Count: 3, Head: link}, signer)
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenChainHead(signed, testOrigin, verifier)
	if err != nil || h.Count != 3 || h.Head != link {
		t.Fatalf("open: %+v, %v", h, err)
	}
	if _, err := VerifyAccountChain("acct_1", nil, leaves, h); err != nil {
		t.Fatal(err)
	}
	// Continue from a trusted head at 1.
	one := ChainHead{Origin: testOrigin, Account: "acct_1", Count: 1, Head: ChainNext(ChainStart("acct_1"), leaves[0])}
	if _, err := VerifyAccountChain("acct_1", &one, leaves[1:], h); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func() error{
		"reordered": func() error {
			_, err := VerifyAccountChain("acct_1", nil, []Hash{leaves[1], leaves[0], leaves[2]}, h)
			return err
		},
		"other account": func() error { _, err := VerifyAccountChain("acct_2", nil, leaves, h); return err },
		"wrong trusted": func() error { _, err := VerifyAccountChain("acct_1", &one, leaves, h); return err },
	} {
		if err := fn(); !errors.Is(err, ErrChain) {
			t.Errorf("%s: %v, want ErrChain", name, err)
		}
	}
	if _, err := OpenChainHead(signed, testOrigin, other); !errors.Is(err, ErrChainHead) {
		t.Fatalf("other key: %v", err)
	}
	if _, err := OpenChainHead(signed, "x.example/log", verifier); !errors.Is(err, ErrChainHead) {
		t.Fatalf("other origin: %v", err)
	}
	forged := bytes.Replace(signed, []byte("\n3 "), []byte("\n4 "), 1)
	if _, err := OpenChainHead(forged, testOrigin, verifier); !errors.Is(err, ErrChainHead) {
		t.Fatalf("forged count: %v", err)
	}
	// Neither a receipt nor a checkpoint opens as a chain head.
	cp, _ := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 3, Root: link}, signer)
	if _, err := OpenChainHead(cp, testOrigin, verifier); !errors.Is(err, ErrChainHead) {
		t.Fatalf("checkpoint as chain head: %v", err)
	}
}

// FuzzOpenChainHead: any bytes either open as a canonical head signed by
// the key or fail with ErrChainHead; never a panic.
func FuzzOpenChainHead(f *testing.F) {
	signer, verifier, _, _ := testKey(f, testOrigin, 1)
	good, _ := SignChainHead(ChainHead{Origin: testOrigin, Account: "acct_1", Count: 2, Head: HashBytes(nil)}, signer)
	f.Add(good)
	f.Add([]byte(ChainHeader + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := OpenChainHead(b, testOrigin, verifier)
		if err != nil {
			if !errors.Is(err, ErrChainHead) {
				t.Fatalf("error %v does not wrap ErrChainHead", err)
			}
			return
		}
		again, err := SignChainHead(h, signer)
		if err != nil {
			t.Fatal(err)
		}
		if h2, err := OpenChainHead(again, testOrigin, verifier); err != nil || h2 != h {
			t.Fatalf("opened %q as %+v; re-signed it opens as %+v, %v", b, h, h2, err)
		}
	})
}
