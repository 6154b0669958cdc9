package main

import (
	"fmt"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

// openMap opens the map called name in seg as raw bytes.
func openMap(seg *segment.Segment, name string) (*hashmap.Raw, error) {
	obj, err := lookupObject(seg, name)
	if err != nil {
		return nil, err
	}
	if obj.Kind != segment.KindHashMap {
		return nil, fmt.Errorf("segment %s: object %q is a %v, not a hashmap (get, put and del edit maps; use shmctl dump for other objects)", seg.Name(), name, obj.Kind)
	}
	r, err := hashmap.OpenRaw(seg, name)
	if err != nil {
		return nil, explain(fmt.Errorf("segment %s: map %q: %w", seg.Name(), name, err))
	}
	return r, nil
}
