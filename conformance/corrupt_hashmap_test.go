package conformance_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

// corruptHashmapWrites: the campaign runs hashmap writes too.
const corruptHashmapWrites = true

// Regression (issue 7), found by TestCorruptionCampaign (region "cells",
// e.g. flips @197174 0x00->0x80): a single flipped bit in a hashmap slot
// word (its pending bit, on a live slot whose record names a live
// attachment) made Clear, Store and Delete on that slot wait forever in
// table.await, whose wait was bounded only when the record's owner was
// dead. Now a pending word that no process holds an intent for is reported
// as corrupt (segment.HasIntent). This test flips each bit of the map's
// block in turn and runs Clear, Store and Delete under a 3s watchdog.
func TestCorruptHashmapAwaitLiveOwner(t *testing.T) {
	name := fmt.Sprintf("/psm-conf-corrupt-%d", time.Now().UnixNano())
	t.Cleanup(func() { segment.Remove(name) })
	seg, err := segment.Create(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	m, err := hashmap.New[string, []byte](seg, "cm", hashmap.MaxEntries(16))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		m.Store(fmt.Sprint("k", i), make([]byte, 10+i*30))
	}
	obj, err := seg.Lookup("cm")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := seg.Bytes(0, uint64(seg.Size()))
	if err != nil {
		t.Fatal(err)
	}
	snap := append([]byte(nil), mem...)
	var r corruptRunner
	for at := uint64(obj.Offset); at < uint64(obj.Offset)+obj.Size; at++ {
		for bit := range 8 {
			copy(mem, snap)
			mem[at] ^= 1 << bit
			m2, err := hashmap.Open[string, []byte](seg, "cm")
			if err != nil {
				continue
			}
			for _, op := range []corruptOp{
				{"Clear", func() error { return m2.Clear() }},
				{"Store", func() error { return m2.Store("k1", []byte("v")) }},
				{"Delete", func() error { return m2.Delete("k2") }},
			} {
				if outcome, _ := r.run(op); outcome == "hang" {
					t.Fatalf("hashmap.%s hangs after bit %d of byte %d (offset %d in the map's block) flipped", op.name, bit, at, at-uint64(obj.Offset))
				}
			}
		}
	}
	copy(mem, snap)
}
