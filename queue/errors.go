package queue

import (
	"errors"
	"fmt"

	"github.com/posixshm/posixshm/segment"
)

// Sentinel errors; test with errors.Is. Functions wrap them with details.
var (
	// ErrFull is returned by Push when every slot holds an item.
	ErrFull = errors.New("queue: full")
	// ErrEmpty is returned by Pop when no item is ready.
	ErrEmpty = errors.New("queue: empty")
	// ErrTooLarge is returned when an encoded value exceeds the queue's
	// largest value (MaxValueSize), or a capacity or slot size exceeds its limit.
	ErrTooLarge = errors.New("queue: value too large")
	// ErrMismatch is returned when New or Open finds an object of that name
	// with another element type, capacity, slot size or layout version. The
	// message names both sides. It wraps segment.ErrMismatch.
	ErrMismatch = fmt.Errorf("queue: mismatch: %w", segment.ErrMismatch)
	// ErrCorrupt is returned when shared memory holds something no correct
	// process writes: a length beyond the slot, an offset outside the
	// heap, a header that disagrees with the directory. It wraps
	// segment.ErrCorrupt.
	ErrCorrupt = fmt.Errorf("queue: corrupt: %w", segment.ErrCorrupt)
	// ErrInvalidOption is returned for an option value out of range.
	ErrInvalidOption = errors.New("queue: invalid option")
)
