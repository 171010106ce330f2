package evidence

import (
	"bytes"
	"testing"
)

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/0/x001/234.p/5", "tile/entries/x001/x234/067.p/3", "tile/3/x000/001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		level, index, width, err := ParseTilePath(p)
		if err != nil {
			return
		}
		var again string
		if level < 0 {
			again = EntryBundlePath(index, width)
		} else {
			again = TilePath(uint64(level), index, width)
		}
		if again != p {
			t.Fatalf("ParseTilePath(%q) = %d, %d, %d; formats back as %q", p, level, index, width, again)
		}
	})
}

func FuzzSplitBundle(f *testing.F) {
	b, _ := AppendBundleEntry(nil, []byte("one"))
	b, _ = AppendBundleEntry(b, nil)
	f.Add(b)
	f.Add([]byte{0, 5, 'a'})
	f.Fuzz(func(t *testing.T, in []byte) {
		es, err := SplitBundle(in)
		if err != nil {
			return
		}
		var out []byte
		for _, e := range es {
			if out, err = AppendBundleEntry(out, e); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("bundle %x re-encodes as %x", in, out)
		}
	})
}
