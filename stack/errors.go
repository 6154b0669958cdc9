package stack

import (
	"errors"
	"fmt"

	"github.com/posixshm/posixshm/segment"
)

// Sentinel errors; test with errors.Is. Functions wrap them with details.
var (
	// ErrFull is returned by Push when the stack holds Cap items.
	ErrFull = errors.New("stack: full")
	// ErrEmpty is returned by Pop and Peek when the stack holds no item.
	ErrEmpty = errors.New("stack: empty")
	// ErrTooLarge is returned when an encoded value exceeds the stack's
	// slot size, or a capacity or slot size exceeds its limit.
	ErrTooLarge = errors.New("stack: value too large")
	// ErrMismatch is returned when New or Open finds an object of that name
	// with another element type, capacity, slot size or layout version. The
	// message names both sides. It wraps segment.ErrMismatch.
	ErrMismatch = fmt.Errorf("stack: mismatch: %w", segment.ErrMismatch)
	// ErrCorrupt is returned when shared memory holds something no correct
	// process writes: a length beyond the slot, an offset outside the
	// heap, a header that disagrees with the directory. It wraps
	// segment.ErrCorrupt.
	ErrCorrupt = fmt.Errorf("stack: corrupt: %w", segment.ErrCorrupt)
	// ErrInvalidOption is returned for an option value out of range.
	ErrInvalidOption = errors.New("stack: invalid option")
)
