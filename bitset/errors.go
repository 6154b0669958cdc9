package bitset

import (
	"errors"

	"github.com/posixshm/posixshm/segment"
)

// ErrInvalidSize is returned by New when the size is negative, larger than
// MaxLen, or zero for a bitset that does not exist yet.
var ErrInvalidSize = errors.New("bitset: invalid size")

// ErrMismatch is returned when the object found under a name is not a bitset
// of a layout version this package reads, or has another size than the one
// asked for, or has owners when Owned was not given (or none when it was),
// and by the bulk operations when the two bitsets differ in size. The
// message names both sides. It is segment.ErrMismatch, so either sentinel
// matches.
var ErrMismatch = segment.ErrMismatch

// ErrCorrupt is returned when a bitset's header in shared memory is
// inconsistent (bad magic, a length that does not fit its block, a length
// that differs from the directory's). It is segment.ErrCorrupt.
var ErrCorrupt = segment.ErrCorrupt

// ErrNotFound is returned by Open, and by New with size 0, when no object
// has that name. It is segment.ErrNotFound.
var ErrNotFound = segment.ErrNotFound

// ErrNoOwners is returned by ClaimOwned, ClaimAnyOwned, ReleaseOwned and
// ReleaseOrphans on a bitset created without the Owned option.
var ErrNoOwners = errors.New("bitset: no owners")

// ErrNotOwner is returned by ReleaseOwned when the bit is not held by this
// process's attachment. The message names who holds it, if anyone.
var ErrNotOwner = errors.New("bitset: bit not owned by this attachment")

// ErrFull is returned by ClaimAnyOwned when it finds no bit to claim.
var ErrFull = errors.New("bitset: no free bit")

// ErrReadOnly is returned by the owned operations on a bitset attached
// through a read-only segment handle, which has no registry slot to own
// bits with. It is segment.ErrReadOnly.
var ErrReadOnly = segment.ErrReadOnly
