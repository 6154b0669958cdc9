//go:build linux

package segment

import "errors"

// Sentinel errors. Functions wrap them with details (the name, both sides of a
// mismatch); test with errors.Is.
var (
	// ErrExist is returned by Create when a segment of that name already exists.
	ErrExist = errors.New("segment: already exists")
	// ErrNotExist is returned by Open when no segment has that name.
	ErrNotExist = errors.New("segment: does not exist")
	// ErrInvalidName is returned when a segment or object name breaks the naming rules.
	ErrInvalidName = errors.New("segment: invalid name")
	// ErrInvalidSize is returned when a requested size is too small or too large.
	ErrInvalidSize = errors.New("segment: invalid size")
	// ErrForeign is returned when a file is not a posixshm segment (wrong magic, not a regular file).
	ErrForeign = errors.New("segment: not a posixshm segment")
	// ErrVersion is returned when a segment's layout version, word size or byte
	// order differs from what this library reads.
	ErrVersion = errors.New("segment: incompatible layout")
	// ErrCorrupt is returned when bytes read from shared memory are inconsistent:
	// an offset out of bounds, a bad checksum, a file shorter than its header says.
	ErrCorrupt = errors.New("segment: corrupt")
	// ErrNotReady is returned when a segment's creator died or is still
	// initialising after the wait allowed by InitTimeout.
	ErrNotReady = errors.New("segment: not initialised")
	// ErrNoSpace is returned when the file system cannot reserve the segment's pages.
	ErrNoSpace = errors.New("segment: no space to reserve the segment")
	// ErrClosed is returned by methods of a closed Segment.
	ErrClosed = errors.New("segment: closed")
	// ErrNotFound is returned by Lookup and Delete when no object has that name.
	ErrNotFound = errors.New("segment: object not found")
	// ErrMismatch is returned when an object exists with another kind or layout version.
	ErrMismatch = errors.New("segment: object mismatch")
	// ErrDirectoryFull is returned when every directory entry is in use.
	ErrDirectoryFull = errors.New("segment: directory full")
	// ErrRegistryFull is returned when every process-registry slot is held by a live handle.
	ErrRegistryFull = errors.New("segment: process registry full")
	// ErrReadOnly is returned by operations that write, on a segment opened ReadOnly.
	ErrReadOnly = errors.New("segment: opened read-only")
	// ErrBusy is returned when a lock held by a live process was not released in time.
	ErrBusy = errors.New("segment: busy")
)
