package alloc

import "github.com/posixshm/posixshm/segment"

// SegmentOf exposes the allocator's segment to tests.
func SegmentOf(a *Allocator) *segment.Segment { return a.seg }
