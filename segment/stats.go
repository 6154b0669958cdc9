//go:build linux

package segment

import (
	"fmt"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"
)

// Stats describes a segment as a whole; the alloc module's Stats says how
// its heap is used.
type Stats struct {
	Name             string
	Size             int64     // bytes mapped
	ReservedBytes    int64     // bytes the file system has backed with pages (fallocate reserves them all at creation)
	HeapBytes        uint64    // bytes of the heap region
	Created          time.Time // when the segment was created
	Objects          int       // named objects in the directory
	DirectoryEntries int       // capacity of the directory
	ProcessesLive    int       // attached handles whose process is alive
	ProcessesDead    int       // slots of processes that died and are not yet recovered
	ProcessSlots     int       // capacity of the registry
}

// Stats returns the segment's statistics. It takes no lock; the counts are
// a moment's view while other processes come and go.
func (s *Segment) Stats() (_ Stats, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	if s.Closed() {
		return Stats{}, ErrClosed
	}
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return Stats{}, fmt.Errorf("segment %s: stat: %w", s.name, err)
	}
	if uint64(st.Size) < s.size {
		return Stats{}, fmt.Errorf("%w: %s: the file is %d bytes but the header says %d (another process truncated it)", ErrTruncated, s.name, st.Size, s.size)
	}
	out := Stats{
		Name:             s.name,
		Size:             int64(s.size),
		ReservedBytes:    st.Blocks * 512,
		HeapBytes:        s.heapSize,
		Created:          s.Created(),
		Objects:          len(s.Objects()),
		DirectoryEntries: len(s.dir),
		ProcessSlots:     len(s.reg),
	}
	for _, p := range s.Processes() {
		if p.Alive {
			out.ProcessesLive++
		} else {
			out.ProcessesDead++
		}
	}
	return out, nil
}
