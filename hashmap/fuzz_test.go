package hashmap_test

import (
	"fmt"
	"testing"

	"github.com/posixshm/posixshm/hashmap"
)

// FuzzCorruptSlots writes random words into the slot array (and records
// they point at) and runs every operation: errors are fine, panics and
// endless probing are not.
func FuzzCorruptSlots(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x02\x00\x00\x00"), uint8(0))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), uint8(3))
	f.Add([]byte("\x01\x00\x00\x00\x24\x00\x00\x10\x04\x00\x00\x00\x05\x00\x00\x00"), uint8(7))
	seg := newSeg(f, 4<<20)
	f.Fuzz(func(t *testing.T, data []byte, start uint8) {
		name := fmt.Sprintf("fz%x", len(data)*256+int(start))
		m, err := hashmap.New[string, string](seg, "fuzz", hashmap.MaxEntries(6))
		if err != nil {
			t.Fatal(err)
		}
		m.Clear()
		for i := range 4 {
			m.Store(fmt.Sprint("k", i), "value")
		}
		words := m.SlotWords()
		for i := 0; i+8 <= len(data); i += 8 {
			var w uint64
			for j := range 8 {
				w |= uint64(data[i+j]) << (8 * j)
			}
			// Keep corrupted words away from pending/claim states of
			// live writers? No: any word may appear; only bound the
			// record offset now and then to hit real blocks.
			if data[i]&1 == 1 && len(words) > 0 {
				w = w&^0xffffffff | words[int(data[i])%len(words)]&0xffffffff
			}
			m.SetSlot((int(start)+i/8)%len(words), w)
		}
		_ = name
		for i := range 6 {
			k := fmt.Sprint("k", i)
			m.Load(k)
			m.LoadOrStore(k, "x")
			m.CompareAndSwap(k, "value", "y")
			m.Swap(k, "z")
			m.LoadAndDelete(k)
			m.Store(k, "w")
			m.Delete(k)
			m.CompareAndDelete(k, "w")
		}
		for range m.All() {
		}
		m.Stats()
		// Restore a sane table for the next input; leaked blocks are fine here.
		for i := range words {
			m.SetSlot(i, 0)
		}
	})
}
