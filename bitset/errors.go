package bitset

import (
	"errors"

	"github.com/posixshm/posixshm/segment"
)

// ErrInvalidSize is returned by New when the size is negative, larger than
// MaxLen, or zero for a bitset that does not exist yet.
var ErrInvalidSize = errors.New("bitset: invalid size")

// ErrMismatch is returned when the object found under a name is not a bitset
// of this layout version, or has another size than the one asked for, and by
// the bulk operations when the two bitsets differ in size. The message names
// both sides. It is segment.ErrMismatch, so either sentinel matches.
var ErrMismatch = segment.ErrMismatch

// ErrCorrupt is returned when a bitset's header in shared memory is
// inconsistent (bad magic, a length that does not fit its block, a length
// that differs from the directory's). It is segment.ErrCorrupt.
var ErrCorrupt = segment.ErrCorrupt

// ErrNotFound is returned by Open, and by New with size 0, when no object
// has that name. It is segment.ErrNotFound.
var ErrNotFound = segment.ErrNotFound
