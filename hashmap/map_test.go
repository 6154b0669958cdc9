package hashmap_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/codec"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

func TestBasic(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[string, int64](seg, "m", hashmap.MaxEntries(100))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := m.Load("a"); ok || err != nil {
		t.Fatalf("Load on empty = %v, %v", ok, err)
	}
	must(m.Store("a", 1))
	if v, ok, _ := m.Load("a"); !ok || v != 1 {
		t.Fatalf("Load(a) = %v %v", v, ok)
	}
	must(m.Store("a", 2))
	if v, loaded, err := m.LoadOrStore("a", 9); !loaded || v != 2 || err != nil {
		t.Fatalf("LoadOrStore(a) = %v %v %v", v, loaded, err)
	}
	if v, loaded, err := m.LoadOrStore("b", 3); loaded || v != 3 || err != nil {
		t.Fatalf("LoadOrStore(b) = %v %v %v", v, loaded, err)
	}
	if prev, loaded, _ := m.Swap("b", 4); !loaded || prev != 3 {
		t.Fatalf("Swap(b) = %v %v", prev, loaded)
	}
	if prev, loaded, _ := m.Swap("c", 5); loaded || prev != 0 {
		t.Fatalf("Swap(c) = %v %v", prev, loaded)
	}
	if ok, _ := m.CompareAndSwap("c", 4, 6); ok {
		t.Fatal("CompareAndSwap with wrong old swapped")
	}
	if ok, _ := m.CompareAndSwap("c", 5, 6); !ok {
		t.Fatal("CompareAndSwap with right old did not swap")
	}
	if ok, _ := m.CompareAndDelete("c", 5); ok {
		t.Fatal("CompareAndDelete with wrong old deleted")
	}
	if ok, _ := m.CompareAndDelete("c", 6); !ok {
		t.Fatal("CompareAndDelete with right old did not delete")
	}
	if v, loaded, _ := m.LoadAndDelete("b"); !loaded || v != 4 {
		t.Fatalf("LoadAndDelete(b) = %v %v", v, loaded)
	}
	if _, loaded, _ := m.LoadAndDelete("b"); loaded {
		t.Fatal("LoadAndDelete of absent key loaded")
	}
	must(m.Delete("zzz"))
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
	got := maps.Collect(m.All())
	if len(got) != 1 || got["a"] != 2 {
		t.Fatalf("All = %v", got)
	}
	must(m.Clear())
	if m.Len() != 0 || len(maps.Collect(m.All())) != 0 {
		t.Fatalf("after Clear: Len %d", m.Len())
	}
	if n := inUse(t, seg); n != 1 {
		t.Errorf("blocks in use after Clear = %d, want 1 (the map itself)", n)
	}
}

func TestValueTypes(t *testing.T) {
	seg := newSeg(t, 4<<20)
	type user struct {
		Name string
		Tags []string
	}
	mu, err := hashmap.New[string, user](seg, "users")
	if err != nil {
		t.Fatal(err)
	}
	if err := mu.Store("user:123", user{"Ada", []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if u, ok, err := mu.Load("user:123"); !ok || err != nil || u.Name != "Ada" || u.Tags[0] != "x" {
		t.Fatalf("Load = %+v %v %v", u, ok, err)
	}
	mb, err := hashmap.New[[]byte, []byte](seg, "bytes")
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Store([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := mb.Load([]byte("k")); !ok || string(v) != "v" {
		t.Fatalf("Load = %q %v", v, ok)
	}
	ma, err := hashmap.New[string, map[string]any](seg, "any")
	if err != nil {
		t.Fatal(err)
	}
	if err := ma.Store("k", map[string]any{"n": int64(1)}); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := ma.Load("k"); !ok || v["n"] != int64(1) {
		t.Fatalf("Load = %v %v", v, ok)
	}
	// Empty key and value.
	if err := mb.Store(nil, nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := mb.Load([]byte{}); !ok || len(v) != 0 {
		t.Fatalf("Load(empty) = %q %v", v, ok)
	}
}

func TestErrors(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[string, string](seg, "m", hashmap.MaxEntries(4), hashmap.MaxRecordSize(100))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := m.Store(fmt.Sprint(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Store("x", "v"); !errors.Is(err, hashmap.ErrFull) {
		t.Fatalf("Store past capacity: %v, want ErrFull", err)
	}
	if err := m.Store("0", "replaced"); err != nil {
		t.Fatalf("replacing at capacity: %v", err)
	}
	if err := m.Store("0", string(make([]byte, 200))); !errors.Is(err, hashmap.ErrTooLarge) {
		t.Fatalf("big value: %v, want ErrTooLarge", err)
	}
	if m.Len() != 4 {
		t.Fatalf("Len = %d", m.Len())
	}
	// Attach mismatches name both sides.
	if _, err := hashmap.New[string, int64](seg, "m"); !errors.Is(err, hashmap.ErrMismatch) || !errors.Is(err, segment.ErrMismatch) {
		t.Fatalf("value type mismatch: %v", err)
	} else {
		t.Log(err)
	}
	if _, err := hashmap.New[string, string](seg, "m", hashmap.MaxEntries(5)); !errors.Is(err, hashmap.ErrMismatch) {
		t.Fatalf("capacity mismatch: %v", err)
	} else {
		t.Log(err)
	}
	if _, err := hashmap.New[[]byte, string](seg, "m"); !errors.Is(err, hashmap.ErrMismatch) {
		t.Fatalf("key type mismatch: %v", err)
	}
	if _, err := hashmap.Open[string, string](seg, "nope"); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("Open missing: %v", err)
	}
	m2, err := hashmap.Open[string, string](seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := m2.Load("0"); !ok || v != "replaced" {
		t.Fatalf("second handle Load = %q %v", v, ok)
	}
	if _, err := hashmap.New[string, string](seg, "m2", hashmap.MaxEntries(0)); err == nil {
		t.Fatal("MaxEntries(0) accepted")
	}
	if _, err := hashmap.New[string, string](seg, "m3", hashmap.ValueCodec(codec.Bytes())); err == nil {
		t.Fatal("wrong codec type accepted")
	}
}

// TestChurn inserts and deletes ten times the capacity in distinct keys,
// then fills the map to capacity: tombstones must have been reused or
// reclaimed, and no record leaked.
func TestChurn(t *testing.T) {
	seg := newSeg(t, 16<<20)
	const capacity = 1000
	m, err := hashmap.New[string, int64](seg, "churn", hashmap.MaxEntries(capacity))
	if err != nil {
		t.Fatal(err)
	}
	base := inUse(t, seg)
	live := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10*capacity; i++ {
		k := fmt.Sprintf("key-%d", i)
		if err := m.Store(k, int64(i)); err != nil {
			t.Fatalf("Store %d: %v (stats %+v)", i, err, m.Stats())
		}
		live[k] = true
		if len(live) > capacity/2 || rng.IntN(2) == 0 {
			for k := range live {
				if err := m.Delete(k); err != nil {
					t.Fatal(err)
				}
				delete(live, k)
				break
			}
		}
	}
	for k := range live {
		m.Delete(k)
	}
	st := m.Stats()
	t.Logf("after churn: %+v", st)
	if st.Live != 0 || m.Len() != 0 {
		t.Fatalf("after deleting everything: %+v", st)
	}
	if n := inUse(t, seg); n != base {
		t.Fatalf("blocks in use %d, want %d: records leaked", n, base)
	}
	for i := 0; i < capacity; i++ {
		if err := m.Store(fmt.Sprintf("fill-%d", i), int64(i)); err != nil {
			t.Fatalf("fill %d: %v (stats %+v)", i, err, m.Stats())
		}
	}
	if err := m.Store("one-more", 1); !errors.Is(err, hashmap.ErrFull) {
		t.Fatalf("Store past capacity: %v", err)
	}
	for i := 0; i < capacity; i++ {
		if v, ok, err := m.Load(fmt.Sprintf("fill-%d", i)); !ok || err != nil || v != int64(i) {
			t.Fatalf("Load fill-%d = %v %v %v", i, v, ok, err)
		}
	}
	t.Logf("full: %+v", m.Stats())
}

// TestHammer runs random operations from many goroutines on a small key set,
// each goroutine owning its value space, and checks the invariants that hold
// under any interleaving; then a sequential run against a model.
func TestHammer(t *testing.T) {
	for _, procs := range []int{1, 4, 16} {
		t.Run(fmt.Sprint("GOMAXPROCS=", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			hammer(t, 8, 32)
		})
	}
}

func hammer(t *testing.T, goroutines, keys int) {
	seg := newSeg(t, 32<<20)
	m, err := hashmap.New[string, string](seg, "h", hashmap.MaxEntries(keys))
	if err != nil {
		t.Fatal(err)
	}
	base := inUse(t, seg)
	ops := 20000
	if testing.Short() {
		ops = 2000
	}
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			check := func(k, v string) error {
				// Every value is "k/writer/seq": a torn or mixed value fails.
				var kk string
				var w, s int
				if _, err := fmt.Sscanf(v, "%s %d %d", &kk, &w, &s); err != nil || kk != k {
					return fmt.Errorf("key %q holds foreign value %q", k, v)
				}
				return nil
			}
			for i := range ops {
				k := fmt.Sprint("k", rng.IntN(keys))
				v := fmt.Sprintf("%s %d %d", k, g, i)
				var err error
				var got string
				var ok bool
				switch rng.IntN(8) {
				case 0:
					err = m.Store(k, v)
				case 1:
					got, ok, err = m.Load(k)
				case 2:
					got, ok, err = m.LoadOrStore(k, v)
				case 3:
					got, ok, err = m.LoadAndDelete(k)
				case 4:
					err = m.Delete(k)
				case 5:
					got, ok, err = m.Swap(k, v)
				case 6:
					old, _, _ := m.Load(k)
					_, err = m.CompareAndSwap(k, old, v)
				case 7:
					old, _, _ := m.Load(k)
					_, err = m.CompareAndDelete(k, old)
				}
				if err != nil {
					errc <- err
					return
				}
				if ok {
					if err := check(k, got); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := m.Stats()
	if st.InFlight != 0 || st.Live != st.Counter || st.Live != len(collect(m)) || m.LiveMark() != 0 || st.HighWater > keys {
		t.Fatalf("at rest: %+v, All yields %d, live word mark %d", st, len(collect(m)), m.LiveMark())
	}
	if n := inUse(t, seg); n != base+uint64(st.Live) {
		t.Fatalf("blocks in use %d, want %d + %d live records", n, base, st.Live)
	}
	m.Clear()
	if n := inUse(t, seg); n != base {
		t.Fatalf("after Clear: blocks in use %d, want %d", n, base)
	}
}

func collect[V any](m *hashmap.Map[string, V]) map[string]V {
	return maps.Collect(m.All())
}

// TestModel compares random single-goroutine operations with a Go map.
func TestModel(t *testing.T) {
	seg := newSeg(t, 16<<20)
	m, err := hashmap.New[string, int64](seg, "model", hashmap.MaxEntries(64))
	if err != nil {
		t.Fatal(err)
	}
	model := map[string]int64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 50000 {
		k := fmt.Sprint(rng.IntN(100))
		v := int64(rng.IntN(4))
		switch rng.IntN(7) {
		case 0:
			err := m.Store(k, v)
			_, exists := model[k]
			if !exists && len(model) >= 64 {
				if !errors.Is(err, hashmap.ErrFull) {
					t.Fatalf("op %d: Store at capacity: %v", i, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			model[k] = v
		case 1:
			got, ok, _ := m.Load(k)
			want, wok := model[k]
			if ok != wok || got != want {
				t.Fatalf("op %d: Load(%s) = %v %v, want %v %v", i, k, got, ok, want, wok)
			}
		case 2:
			got, ok, _ := m.LoadAndDelete(k)
			want, wok := model[k]
			if ok != wok || got != want {
				t.Fatalf("op %d: LoadAndDelete(%s) = %v %v, want %v %v", i, k, got, ok, want, wok)
			}
			delete(model, k)
		case 3:
			old := int64(rng.IntN(4))
			ok, _ := m.CompareAndSwap(k, old, v)
			want, wok := model[k]
			if ok != (wok && want == old) {
				t.Fatalf("op %d: CompareAndSwap(%s, %d) = %v, model %v %v", i, k, old, ok, want, wok)
			}
			if ok {
				model[k] = v
			}
		case 4:
			old := int64(rng.IntN(4))
			ok, _ := m.CompareAndDelete(k, old)
			want, wok := model[k]
			if ok != (wok && want == old) {
				t.Fatalf("op %d: CompareAndDelete = %v", i, ok)
			}
			if ok {
				delete(model, k)
			}
		case 5:
			if _, exists := model[k]; !exists && len(model) >= 64 {
				continue
			}
			got, loaded, err := m.LoadOrStore(k, v)
			if err != nil {
				t.Fatal(err)
			}
			want, wok := model[k]
			if loaded != wok || (wok && got != want) || (!wok && got != v) {
				t.Fatalf("op %d: LoadOrStore = %v %v", i, got, loaded)
			}
			if !wok {
				model[k] = v
			}
		case 6:
			if _, exists := model[k]; !exists && len(model) >= 64 {
				continue
			}
			prev, loaded, err := m.Swap(k, v)
			if err != nil {
				t.Fatal(err)
			}
			want, wok := model[k]
			if loaded != wok || prev != want {
				t.Fatalf("op %d: Swap = %v %v", i, prev, loaded)
			}
			model[k] = v
		}
		if m.Len() != len(model) {
			t.Fatalf("op %d: Len %d, model %d", i, m.Len(), len(model))
		}
	}
	if got := collect(m); !maps.Equal(got, model) {
		t.Fatalf("All = %v, model %v", got, model)
	}
}
