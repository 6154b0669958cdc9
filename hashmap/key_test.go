package hashmap_test

import (
	"errors"
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/hashmap"
)

// TestIntegerKeys: integer keys of every width store, load, delete and
// iterate as themselves, extremes and named types included.
func TestIntegerKeys(t *testing.T) {
	seg := newSeg(t, 4<<20)
	type userID int64
	m, err := hashmap.New[userID, string](seg, "users")
	if err != nil {
		t.Fatal(err)
	}
	want := map[userID]string{}
	for _, k := range []userID{0, 1, -1, 42, math.MaxInt64, math.MinInt64, 1 << 32, -(1 << 40)} {
		v := "user-" + string(rune('a'+len(want)))
		if err := m.Store(k, v); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	for k, v := range want {
		if got, ok, err := m.Load(k); !ok || err != nil || got != v {
			t.Fatalf("Load(%d) = %q %v %v, want %q", k, got, ok, err, v)
		}
	}
	if _, ok, _ := m.Load(7); ok {
		t.Fatal("Load of an absent key found it")
	}
	if got := maps.Collect(m.All()); !maps.Equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	if v, loaded, err := m.LoadAndDelete(-1); !loaded || err != nil || v != want[-1] {
		t.Fatalf("LoadAndDelete(-1) = %q %v %v", v, loaded, err)
	}
	if _, ok, _ := m.Load(-1); ok {
		t.Fatal("deleted key still loads")
	}

	m8, err := hashmap.New[uint8, int64](seg, "small")
	if err != nil {
		t.Fatal(err)
	}
	for k := range 256 {
		if err := m8.Store(uint8(k), int64(k)*3); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for k, v := range m8.All() {
		if v != int64(k)*3 {
			t.Fatalf("All: %d -> %d", k, v)
		}
		n++
	}
	if n != 256 {
		t.Fatalf("All yielded %d keys, want 256", n)
	}
}

// TestIntegerKeyAttach: a map is opened only with keys that store as its
// creator's did. Integers of one width and sign share a map whatever their
// Go type; other widths, signs and strings are refused, naming both sides.
func TestIntegerKeyAttach(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[int64, int64](seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store(-5, 25); err != nil {
		t.Fatal(err)
	}
	type count int64
	same, err := hashmap.Open[count, int64](seg, "m")
	if err != nil {
		t.Fatalf("Open with a named int64 key: %v", err)
	}
	if v, ok, _ := same.Load(-5); !ok || v != 25 {
		t.Fatalf("Load through the named type = %d %v", v, ok)
	}
	for name, open := range map[string]func() error{
		"uint64": func() error { _, err := hashmap.Open[uint64, int64](seg, "m"); return err },
		"int32":  func() error { _, err := hashmap.Open[int32, int64](seg, "m"); return err },
		"string": func() error { _, err := hashmap.Open[string, int64](seg, "m"); return err },
	} {
		if err := open(); !errors.Is(err, hashmap.ErrMismatch) || !strings.Contains(err.Error(), "found keys int64") {
			t.Errorf("Open with %s keys: %v, want ErrMismatch naming the map's int64 keys", name, err)
		} else {
			t.Log(err)
		}
	}
}

// TestIntegerKeyForeignRecord: a record whose key is not 8 bytes (written
// through Raw, as a buggy tool might) is never a match for an int64 key
// and All skips it; the map's own keys are unaffected.
func TestIntegerKeyForeignRecord(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[int64, int64](seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store(1, 10); err != nil {
		t.Fatal(err)
	}
	raw, err := hashmap.OpenRaw(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	val, _, err := raw.Load([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	if err != nil || len(val) != 8 {
		t.Fatalf("Raw.Load of key 1 = %v, %v: want its 8 value bytes", val, err)
	}
	if err := raw.Store([]byte{1, 0, 0}, val); err != nil {
		t.Fatal(err)
	}
	if got := maps.Collect(m.All()); len(got) != 1 || got[1] != 10 {
		t.Fatalf("All = %v, want only 1:10", got)
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (the foreign record counts)", m.Len())
	}
}

// TestIntegerKeyNoAlloc: an integer key's bytes are read in place, so Load
// and Store of a word value allocate nothing, as with string keys.
func TestIntegerKeyNoAlloc(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[int64, int64](seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store(42, 1); err != nil {
		t.Fatal(err)
	}
	k := int64(42)
	if n := testing.AllocsPerRun(100, func() {
		if _, ok, err := m.Load(k); !ok || err != nil {
			t.Fatal("Load lost the key")
		}
	}); n != 0 {
		t.Errorf("Load allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := m.Store(k, 2); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Store allocates %v times per call", n)
	}
}
