package hashmap

import (
	"errors"
	"fmt"

	"github.com/posixshm/posixshm/segment"
)

var (
	// ErrFull is returned by Store, LoadOrStore and Swap when inserting a new
	// key would exceed the map's capacity (MaxEntries at creation).
	// Replacing the value of a key already present never fails with it.
	ErrFull = errors.New("hashmap: full")

	// ErrTooLarge is returned when a key plus its encoded value exceeds the
	// map's MaxRecordSize, or the allocator cannot provide a block that large.
	ErrTooLarge = errors.New("hashmap: key and value too large")

	// ErrCorrupt is returned when the map's shared memory holds something no
	// correct writer leaves: a slot state or record offset out of range, a
	// record whose lengths overrun its limits, a header that does not match
	// the directory. It wraps segment.ErrCorrupt.
	ErrCorrupt = fmt.Errorf("hashmap: corrupt: %w", segment.ErrCorrupt)

	// ErrMismatch is returned by New and Open when the named object exists
	// with another capacity, key type or value type. It wraps
	// segment.ErrMismatch, which the segment returns for another kind or
	// layout version.
	ErrMismatch = fmt.Errorf("hashmap: mismatch: %w", segment.ErrMismatch)
)
