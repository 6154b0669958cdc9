package array

import (
	"errors"

	"github.com/posixshm/posixshm/segment"
)

// ErrInvalidLength is returned by New when the length is negative, larger
// than MaxLen, or zero for an array that does not exist yet.
var ErrInvalidLength = errors.New("array: invalid length")

// ErrMismatch is returned when the object found under a name is not an array
// of this layout version, or has another element type or length than the
// one asked for. The message names both sides ("want float64, found int64").
// It is segment.ErrMismatch, so either sentinel matches.
var ErrMismatch = segment.ErrMismatch

// ErrCorrupt is returned when an array's header in shared memory is
// inconsistent (bad magic, an unknown element type, a length that does not
// fit its block or differs from the directory's). It is segment.ErrCorrupt.
var ErrCorrupt = segment.ErrCorrupt

// ErrNotFound is returned by Open, and by New with length 0, when no object
// has that name. It is segment.ErrNotFound.
var ErrNotFound = segment.ErrNotFound
