package hashmap_test

import (
	"testing"

	"github.com/posixshm/posixshm/hashmap"
)

// Other processes depend on these offsets: changing one needs a new
// LayoutVersion.
func TestLayoutPinned(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"header size", hashmap.HeaderSize, 128},
		{"header.seed", hashmap.SeedOffset, 48},
		{"header.maxRecord", hashmap.MaxRecOffset, 56},
		{"header.live", hashmap.LiveOffset, 64},
		{"header.repaired", hashmap.RepairedOffset, 72},
		{"header.highWater", hashmap.HighWaterOff, 80},
		{"record header size", hashmap.RecordHdrSize, 16},
		{"record.keyLen", hashmap.RecordKeyLen, 0},
		{"record.valLen", hashmap.RecordValLen, 4},
		{"record.ownerSlot", hashmap.RecordOwnerOff, 8},
		{"record.ownerGen", hashmap.RecordOwnerGen, 12},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
