package alloc

import (
	"errors"
	"fmt"

	"github.com/posixshm/posixshm/segment"
)

var (
	// ErrOutOfMemory is returned by Alloc when the heap has no free block of
	// the needed size and no unclaimed chunk to cut one from.
	ErrOutOfMemory = errors.New("alloc: out of memory")
	// ErrTooLarge is returned by Alloc for a size over MaxAlloc.
	ErrTooLarge = errors.New("alloc: allocation too large")
	// ErrInvalidFree is returned by Free and Publish for an offset that is
	// not a live block: never allocated, already free, or not a block start.
	ErrInvalidFree = errors.New("alloc: invalid free")
	// ErrCorrupt is returned when the allocator's shared state is
	// inconsistent. It wraps segment.ErrCorrupt.
	ErrCorrupt = fmt.Errorf("alloc: corrupt heap: %w", segment.ErrCorrupt)
)
