package hashmap_test

import (
	"fmt"
	"testing"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

func TestStatsCounts(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[string, int64](seg, "stats", hashmap.MaxEntries(100))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if err := m.Store(fmt.Sprint("k", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := m.Store(fmt.Sprint("k", i), -1); err != nil { // replace
			t.Fatal(err)
		}
		if err := m.Delete(fmt.Sprint("k", i+40)); err != nil {
			t.Fatal(err)
		}
	}
	m.Delete("absent") // deletes nothing, counts nothing
	// A second attachment counts on its own line; the sums include both.
	other, err := segment.Open(seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	m2, err := hashmap.Open[string, int64](other, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m2.Swap("k0", 7); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	if st.Stores != 81 || st.Deletes != 20 || st.Live != 40 || st.HighWater != 60 {
		t.Fatalf("stats %+v", st)
	}
	// The type-less view tools use reports the same figures.
	raw, err := hashmap.OpenRaw(seg, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if rs := raw.Stats(); rs != st {
		t.Fatalf("Raw.Stats %+v, Map.Stats %+v", rs, st)
	}
}
