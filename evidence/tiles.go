package evidence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Tile geometry (c2sp.org/tlog-tiles).
const (
	// TileHeight is the number of tree levels one tile spans.
	TileHeight = 8
	// TileWidth is the number of hashes in a full tile, and of entries in a full bundle.
	TileWidth = 1 << TileHeight
	// HashSizeBytes is the size of one hash in a tile.
	HashSizeBytes = 32
)

// ErrNotFound is returned by TileReader methods when no tile or bundle is stored.
var ErrNotFound = errors.New("evidence: not found")

// TileReader reads tiles and entry bundles. Implementations return the
// latest stored version; err wraps ErrNotFound if nothing is stored.
type TileReader interface {
	// ReadTile returns the hashes of hash tile (level, index), 32 bytes each.
	ReadTile(ctx context.Context, level, index uint64) ([]byte, error)
	// ReadEntryBundle returns entry bundle index.
	ReadEntryBundle(ctx context.Context, index uint64) ([]byte, error)
}

// TileWriter stores tiles and bundles. A write replaces the stored version
// (tiles only grow: the new content always extends the old). A store driver
// hands the Log a TileWriter bound to the transaction of the engine batch.
type TileWriter interface {
	// WriteTile stores hash tile (level, index) of width len(hashes)/32.
	WriteTile(ctx context.Context, level, index uint64, hashes []byte) error
	// WriteEntryBundle stores entry bundle index holding width entries.
	WriteEntryBundle(ctx context.Context, index uint64, width int, bundle []byte) error
}

// TileStore is a TileReader and TileWriter.
type TileStore interface {
	TileReader
	TileWriter
}

// formatIndex writes n as tlog-tiles path elements: x001/x234/067.
func formatIndex(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// TilePath returns the tlog-tiles path of hash tile (level, index) of the
// given width (1..TileWidth), e.g. "tile/0/x001/234.p/5".
func TilePath(level, index uint64, width int) string {
	p := "tile/" + strconv.FormatUint(level, 10) + "/" + formatIndex(index)
	if width < TileWidth {
		p += ".p/" + strconv.Itoa(width)
	}
	return p
}

// EntryBundlePath returns the tlog-tiles path of entry bundle index of the
// given width, e.g. "tile/entries/x001/234.p/5".
func EntryBundlePath(index uint64, width int) string {
	p := "tile/entries/" + formatIndex(index)
	if width < TileWidth {
		p += ".p/" + strconv.Itoa(width)
	}
	return p
}

// ParseTilePath parses a path made by TilePath or EntryBundlePath; level is -1
// for an entry bundle.
func ParseTilePath(p string) (level int, index uint64, width int, err error) {
	bad := fmt.Errorf("evidence: bad tile path %q", p)
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return 0, 0, 0, bad
	}
	head, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	if head == "entries" {
		level = -1
	} else {
		l, err := strconv.ParseUint(head, 10, 8)
		if err != nil || strconv.FormatUint(l, 10) != head {
			return 0, 0, 0, bad
		}
		level = int(l)
	}
	width = TileWidth
	if i := strings.Index(rest, ".p/"); i >= 0 {
		w, err := strconv.Atoi(rest[i+3:])
		if err != nil || w < 1 || w >= TileWidth || strconv.Itoa(w) != rest[i+3:] {
			return 0, 0, 0, bad
		}
		width, rest = w, rest[:i]
	}
	elems := strings.Split(rest, "/")
	for i, e := range elems {
		if i < len(elems)-1 {
			var ok bool
			if e, ok = strings.CutPrefix(e, "x"); !ok {
				return 0, 0, 0, bad
			}
		}
		if len(e) != 3 || e[0] < '0' || e[0] > '9' || e[1] < '0' || e[1] > '9' || e[2] < '0' || e[2] > '9' {
			return 0, 0, 0, bad
		}
		if index > (1<<64-1)/1000 {
			return 0, 0, 0, bad
		}
		index = index*1000 + uint64(e[0]-'0')*100 + uint64(e[1]-'0')*10 + uint64(e[2]-'0')
	}
	if formatIndex(index) != rest {
		return 0, 0, 0, bad // non-canonical, e.g. x000/005
	}
	return level, index, width, nil
}

// AppendBundleEntry appends one entry to a bundle: big-endian uint16 length, then the bytes.
func AppendBundleEntry(bundle, entry []byte) ([]byte, error) {
	if len(entry) > EntryMaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidEntry, len(entry), EntryMaxBytes)
	}
	bundle = binary.BigEndian.AppendUint16(bundle, uint16(len(entry)))
	return append(bundle, entry...), nil
}

// SplitBundle returns the entries of a bundle (sub-slices of bundle).
func SplitBundle(bundle []byte) ([][]byte, error) {
	var out [][]byte
	for len(bundle) > 0 {
		if len(bundle) < 2 {
			return nil, errors.New("evidence: truncated bundle length")
		}
		n := int(binary.BigEndian.Uint16(bundle))
		if len(bundle) < 2+n {
			return nil, errors.New("evidence: truncated bundle entry")
		}
		out = append(out, bundle[2:2+n:2+n])
		bundle = bundle[2+n:]
		if len(out) > TileWidth {
			return nil, fmt.Errorf("evidence: bundle holds more than %d entries", TileWidth)
		}
	}
	return out, nil
}

// MemStore is an in-memory TileStore for tests and tools. It is safe for
// concurrent use.
type MemStore struct {
	mu      sync.Mutex
	tiles   map[[2]uint64][]byte
	bundles map[uint64][]byte
	// Writes counts WriteTile and WriteEntryBundle calls.
	Writes int
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{tiles: map[[2]uint64][]byte{}, bundles: map[uint64][]byte{}}
}

// ReadTile implements TileReader.
func (m *MemStore) ReadTile(_ context.Context, level, index uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tiles[[2]uint64{level, index}]
	if !ok {
		return nil, fmt.Errorf("%w: tile %s", ErrNotFound, TilePath(level, index, TileWidth))
	}
	return t, nil
}

// ReadEntryBundle implements TileReader.
func (m *MemStore) ReadEntryBundle(_ context.Context, index uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.bundles[index]
	if !ok {
		return nil, fmt.Errorf("%w: bundle %s", ErrNotFound, EntryBundlePath(index, TileWidth))
	}
	return b, nil
}

// WriteTile implements TileWriter.
func (m *MemStore) WriteTile(_ context.Context, level, index uint64, hashes []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tiles[[2]uint64{level, index}] = append([]byte(nil), hashes...)
	m.Writes++
	return nil
}

// WriteEntryBundle implements TileWriter.
func (m *MemStore) WriteEntryBundle(_ context.Context, index uint64, _ int, bundle []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bundles[index] = append([]byte(nil), bundle...)
	m.Writes++
	return nil
}
