package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/agentpay/agentpay/ledger"
)

// History rows hold an account's transfer timestamps, ascending, as a
// delta stream: the first as a uvarint, then each difference to the
// previous one as a uvarint. Timestamps a few microseconds apart take 2 or
// 3 bytes instead of 8, which keeps the history a small part of what a
// commit writes.

// maxVarintLen is the longest uvarint of a uint64.
const maxVarintLen = binary.MaxVarintLen64

// errTimestamps is wrapped by the errors of malformed delta streams.
var errTimestamps = errors.New("malformed timestamp list")

// appendTimestamps appends ascending timestamps from tss to dst as a delta
// stream of at most limit bytes (limit >= maxVarintLen takes at least one)
// and returns the extended dst and how many timestamps it took.
func appendTimestamps(dst []byte, tss []uint64, limit int) ([]byte, int) {
	start := len(dst)
	var prev uint64
	for i, ts := range tss {
		if len(dst)-start+maxVarintLen > limit {
			return dst, i
		}
		dst = binary.AppendUvarint(dst, ts-prev)
		prev = ts
	}
	return dst, len(tss)
}

// eachTimestamp calls fn for every timestamp of a delta stream, in order,
// until fn returns false. It fails on a truncated stream or one whose
// timestamps do not increase.
func eachTimestamp(b []byte, fn func(ts uint64) bool) error {
	var ts uint64
	for i := 0; len(b) > 0; i++ {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad uvarint at timestamp %d", errTimestamps, i)
		}
		if (i > 0 && d == 0) || ts+d < ts {
			return fmt.Errorf("%w: timestamp %d does not follow %d", errTimestamps, i, ts)
		}
		ts += d
		b = b[n:]
		if !fn(ts) {
			return nil
		}
	}
	return nil
}

// A level-0 history row's entries are records of: account id (16 bytes),
// the length of its delta stream (2 bytes, big-endian), the delta stream.
// Records are sorted by account; a busy account's timestamps continue in
// the next row.

// l0RecordHeader is the account id and stream length before a stream.
const l0RecordHeader = 18

// parseL0 calls fn for every record of a level-0 entries blob with the
// record's delta stream at entries[off:end].
func parseL0(entries []byte, fn func(account ledger.ID, off, end int) error) error {
	for p := 0; p < len(entries); {
		if len(entries)-p < l0RecordHeader {
			return fmt.Errorf("level-0 history entries truncated at byte %d of %d", p, len(entries))
		}
		n := int(binary.BigEndian.Uint16(entries[p+16:]))
		end := p + l0RecordHeader + n
		if n == 0 || end > len(entries) {
			return fmt.Errorf("level-0 history record of %d bytes at byte %d of %d", n, p, len(entries))
		}
		if err := fn(ledger.ID(entries[p:p+16]), p+l0RecordHeader, end); err != nil {
			return err
		}
		p = end
	}
	return nil
}
