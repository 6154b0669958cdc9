//go:build linux

package segment

import (
	"fmt"
	"unicode/utf8"
)

// maxSegmentName is NAME_MAX for the file under /dev/shm, plus the leading slash.
const maxSegmentName = 255

// shmDir is where Linux keeps POSIX shared memory objects (glibc's shm_open
// opens files here).
const shmDir = "/dev/shm"

// checkSegmentName validates a POSIX shared memory name: one leading slash,
// no other slash, no NUL, not "." or "..", at most 255 bytes after the slash.
// Rejecting these keeps a name from reaching outside /dev/shm.
func checkSegmentName(name string) error {
	switch {
	case len(name) < 2 || name[0] != '/':
		return fmt.Errorf("%w: %q: must be a slash followed by at least one character, like \"/my_shared_mem\"", ErrInvalidName, name)
	case len(name)-1 > maxSegmentName:
		return fmt.Errorf("%w: %q: %d bytes after the slash, the limit is %d", ErrInvalidName, name[:32]+"...", len(name)-1, maxSegmentName)
	case name == "/." || name == "/..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for i := 1; i < len(name); i++ {
		switch name[i] {
		case '/':
			return fmt.Errorf("%w: %q: only the leading slash is allowed", ErrInvalidName, name)
		case 0:
			return fmt.Errorf("%w: %q: contains NUL", ErrInvalidName, name)
		}
	}
	return nil
}

// checkObjectName validates an object name: 1 to MaxObjectName bytes of
// UTF-8 without NUL.
func checkObjectName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: object name is empty", ErrInvalidName)
	case len(name) > MaxObjectName:
		return fmt.Errorf("%w: object name %q is %d bytes, the limit is %d", ErrInvalidName, name, len(name), MaxObjectName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: object name %q is not UTF-8", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == 0 {
			return fmt.Errorf("%w: object name %q contains NUL", ErrInvalidName, name)
		}
	}
	return nil
}
