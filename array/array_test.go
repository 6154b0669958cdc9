package array_test

import (
	"errors"
	"fmt"
	"github.com/posixshm/posixshm/alloc/alloctest"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/segment"
)

func TestNewAttach(t *testing.T) {
	seg := newSeg(t, 1<<20)
	a, err := array.New[int64](seg, "counters", 100)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 100 || a.Name() != "counters" || len(a.Slice()) != 100 || cap(a.Slice()) != 100 {
		t.Fatalf("Len %d Name %q Slice len %d cap %d", a.Len(), a.Name(), len(a.Slice()), cap(a.Slice()))
	}
	for i, v := range a.All() {
		if v != 0 {
			t.Fatalf("new array: [%d] = %d", i, v)
		}
	}
	a.Store(99, -5)

	seg2 := alloctest.Reopen(t, seg)
	for what, attach := range map[string]func() (*array.Array[int64], error){
		"New same length":    func() (*array.Array[int64], error) { return array.New[int64](seg, "counters", 100) },
		"New length 0":       func() (*array.Array[int64], error) { return array.New[int64](seg, "counters", 0) },
		"Open":               func() (*array.Array[int64], error) { return array.Open[int64](seg, "counters") },
		"Open other mapping": func() (*array.Array[int64], error) { return array.Open[int64](seg2, "counters") },
	} {
		c, err := attach()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if c.Len() != 100 || c.Load(99) != -5 {
			t.Errorf("%s: Len %d [99] %d", what, c.Len(), c.Load(99))
		}
	}
	c, _ := array.Open[int64](seg2, "counters")
	c.Add(1, 7)
	if a.Load(1) != 7 || a.Slice()[1] != 7 {
		t.Error("an Add through another mapping is not seen")
	}

	mismatch := func(what string, err error, both ...string) {
		t.Helper()
		if !errors.Is(err, array.ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", what, err)
			return
		}
		for _, s := range both {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not name %q", what, err, s)
			}
		}
	}
	_, err = array.New[float64](seg, "counters", 100)
	mismatch("New[float64] on int64", err, "float64", "int64")
	_, err = array.Open[uint64](seg, "counters")
	mismatch("Open[uint64] on int64", err, "uint64", "int64")
	_, err = array.New[int32](seg, "counters", 0)
	mismatch("New[int32](0) on int64", err, "int32", "int64")
	_, err = array.New[int64](seg, "counters", 200)
	mismatch("New with another length", err, "200", "100")

	for _, n := range []int{-1, array.MaxLen + 1} {
		if _, err := array.New[int64](seg, "bad", n); !errors.Is(err, array.ErrInvalidLength) {
			t.Errorf("New(length %d): %v, want ErrInvalidLength", n, err)
		}
	}
	if _, err := array.Open[int64](seg, "missing"); !errors.Is(err, array.ErrNotFound) {
		t.Errorf("Open(missing): %v, want ErrNotFound", err)
	}
	if _, err := array.New[int64](seg, "missing", 0); !errors.Is(err, array.ErrNotFound) {
		t.Errorf("New(missing, 0): %v, want ErrNotFound", err)
	}

	heap, _ := alloc.Of(seg)
	spec := segment.Spec{Kind: segment.KindBitset, Version: 1, Params: [4]uint64{64}, Size: 72}
	if _, _, err := seg.FindOrCreate("bits", spec, heap, func(segment.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = array.New[int64](seg, "bits", 8)
	mismatch("New on a bitset", err, "array", "bitset")
	_, err = array.Open[int64](seg, "bits")
	mismatch("Open on a bitset", err, "array", "bitset")
}

// testOps drives every operation of an Array[T] against a Go slice.
func testOps[T array.Elem](t *testing.T, seg *segment.Segment, vals []T) {
	t.Run(fmt.Sprintf("%T", vals[0]), func(t *testing.T) {
		n := len(vals)
		a, err := array.New[T](seg, fmt.Sprintf("ops-%T", vals[0]), n)
		if err != nil {
			t.Fatal(err)
		}
		m := make([]T, n)
		same := func(step string) {
			t.Helper()
			for i := range m {
				if got := a.Load(i); got != m[i] && !(got != got && m[i] != m[i]) {
					t.Fatalf("%s: [%d] = %v, want %v", step, i, got, m[i])
				}
			}
			if got := a.Slice(); !slices.EqualFunc(got, m, func(x, y T) bool { return x == y || (x != x && y != y) }) {
				t.Fatalf("%s: Slice %v, want %v", step, got, m)
			}
		}
		for i, v := range vals {
			a.Store(i, v)
			m[i] = v
		}
		same("Store")
		for i, v := range vals {
			d := v / 2
			got := a.Add(i, d)
			m[i] += d
			if got != m[i] && !(got != got) {
				t.Fatalf("Add(%d, %v) = %v, want %v", i, d, got, m[i])
			}
		}
		same("Add")
		for i := range vals {
			nv := vals[n-1-i]
			old := a.Swap(i, nv)
			if old != m[i] && !(old != old) {
				t.Fatalf("Swap(%d) returned %v, want %v", i, old, m[i])
			}
			m[i] = nv
		}
		same("Swap")
		for i := range vals {
			if m[i] == m[i] && m[i]+1 != m[i] && a.CompareAndSwap(i, m[i]+1, 3) {
				t.Fatalf("CompareAndSwap(%d) with a wrong old value succeeded", i)
			}
			if m[i] == m[i] && !a.CompareAndSwap(i, m[i], 3) {
				t.Fatalf("CompareAndSwap(%d, %v, 3) failed", i, m[i])
			}
			if m[i] == m[i] {
				m[i] = 3
			}
		}
		same("CompareAndSwap")
		// Slice is the same memory.
		s := a.Slice()
		s[0] = 42
		m[0] = 42
		same("write through Slice")
		// All, with an early stop.
		var idx []int
		for i, v := range a.All() {
			if v != m[i] && v == v {
				t.Fatalf("All: [%d] = %v, want %v", i, v, m[i])
			}
			idx = append(idx, i)
			if i == 2 {
				break
			}
		}
		if !slices.Equal(idx, []int{0, 1, 2}) {
			t.Fatalf("All with break visited %v", idx)
		}
		// CopyTo / CopyFrom, shorter and longer than the array.
		dst := make([]T, n+3)
		if got := a.CopyTo(dst); got != n || !slices.EqualFunc(dst[:n], m, func(x, y T) bool { return x == y || x != x }) {
			t.Fatalf("CopyTo = %d, %v; want %d, %v", got, dst, n, m)
		}
		src := make([]T, n+3)
		for i := range src {
			src[i] = T(i + 1)
		}
		if got := a.CopyFrom(src); got != n {
			t.Fatalf("CopyFrom of %d = %d, want %d", len(src), got, n)
		}
		copy(m, src)
		same("CopyFrom")
		if got := a.CopyFrom(src[:2]); got != 2 {
			t.Fatalf("CopyFrom of 2 = %d", got)
		}
		short := make([]T, 2)
		if got := a.CopyTo(short); got != 2 || short[1] != m[1] {
			t.Fatalf("CopyTo of 2 = %d %v", got, short)
		}

		for _, i := range []int{-1, n, n + 64} {
			mustPanic(t, fmt.Sprintf("Load(%d)", i), func() { a.Load(i) })
			mustPanic(t, fmt.Sprintf("Store(%d)", i), func() { a.Store(i, 1) })
			mustPanic(t, fmt.Sprintf("Add(%d)", i), func() { a.Add(i, 1) })
			mustPanic(t, fmt.Sprintf("Swap(%d)", i), func() { a.Swap(i, 1) })
			mustPanic(t, fmt.Sprintf("CompareAndSwap(%d)", i), func() { a.CompareAndSwap(i, 0, 1) })
		}
		same("after panics")
	})
}

func TestOps(t *testing.T) {
	seg := newSeg(t, 1<<20)
	testOps(t, seg, []int32{1, -7, math.MaxInt32, math.MinInt32, 0, 100})
	testOps(t, seg, []int64{1, -7, math.MaxInt64, math.MinInt64, 0, 1 << 40})
	testOps(t, seg, []uint32{1, 7, math.MaxUint32, 0, 1 << 31})
	testOps(t, seg, []uint64{1, 7, math.MaxUint64, 0, 1 << 63})
	testOps(t, seg, []float32{1.5, -7.25, math.MaxFloat32, float32(math.Inf(-1)), 0, float32(math.NaN()), math.SmallestNonzeroFloat32})
	testOps(t, seg, []float64{1.5, -7.25, math.MaxFloat64, math.Inf(1), 0, math.NaN(), math.SmallestNonzeroFloat64})
}

func TestWrapAndFloatBits(t *testing.T) {
	seg := newSeg(t, 1<<20)
	i32, _ := array.New[int32](seg, "i32", 1)
	i32.Store(0, math.MaxInt32)
	if got := i32.Add(0, 1); got != math.MinInt32 {
		t.Errorf("int32 MaxInt32+1 = %d", got)
	}
	if got := i32.Add(0, -1); got != math.MaxInt32 {
		t.Errorf("int32 MinInt32-1 = %d", got)
	}
	f, _ := array.New[float64](seg, "f", 1)
	f.Store(0, math.Copysign(0, -1))
	if f.CompareAndSwap(0, 0, 1) {
		t.Error("CompareAndSwap(0.0) matched -0.0; floats compare by bits")
	}
	nan := math.NaN()
	f.Store(0, nan)
	if !f.CompareAndSwap(0, nan, 2) || f.Load(0) != 2 {
		t.Error("CompareAndSwap(NaN) did not match the same NaN bits")
	}
	// The stored bits are the IEEE 754 bits, as other languages read them.
	f.Store(0, 1.0)
	obj, _ := seg.Lookup("f")
	w, _ := segment.At[uint64](seg, obj.Offset+array.HeaderSize)
	if *w != math.Float64bits(1.0) {
		t.Errorf("stored bits %#x, want %#x", *w, math.Float64bits(1.0))
	}
}

// Goroutines on separate mappings add to the same elements: the sums are
// exact, for integers and for floats adding small whole numbers.
func TestConcurrentAdd(t *testing.T) {
	seg := newSeg(t, 1<<20)
	workers, rounds := 4, 20000
	if testing.Short() {
		rounds = 2000
	}
	hammer := func(t *testing.T, add func(w, i int)) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range rounds {
					add(w, i)
				}
			})
		}
		wg.Wait()
	}
	if _, err := array.New[int64](seg, "i", 4); err != nil {
		t.Fatal(err)
	}
	if _, err := array.New[float32](seg, "f", 4); err != nil {
		t.Fatal(err)
	}
	is, fs := make([]*array.Array[int64], workers), make([]*array.Array[float32], workers)
	for w := range workers {
		s := alloctest.Reopen(t, seg)
		is[w], _ = array.Open[int64](s, "i")
		fs[w], _ = array.Open[float32](s, "f")
	}
	hammer(t, func(w, i int) {
		is[w].Add(i%4, 1)
		fs[w].Add(i%4, 1)
		is[w].Add(3, -1)
	})
	i, _ := array.Open[int64](seg, "i")
	f, _ := array.Open[float32](seg, "f")
	for k := range 4 {
		want := int64(workers * rounds / 4)
		if k == 3 {
			want -= int64(workers * rounds)
		}
		if got := i.Load(k); got != want {
			t.Errorf("int64 [%d] = %d, want %d", k, got, want)
		}
		if got := f.Load(k); got != float32(workers*rounds/4) {
			t.Errorf("float32 [%d] = %v, want %d", k, got, workers*rounds/4)
		}
	}
}

func TestCorruptHeader(t *testing.T) {
	seg := newSeg(t, 1<<20)
	cases := []struct {
		name string
		off  int    // byte offset in the header
		val  uint64 // written over the 8 bytes there
		keep uint64 // bits of the old word kept
	}{
		{"magic", 0, 0x1234, 0},
		{"version", 8, 7, 0xffffffff00000000},
		{"elem type", 8, 4 << 32, 0xffffffff},
		{"unknown elem type", 8, 77 << 32, 0xffffffff},
		{"length", 16, 99, 0},
		{"huge length", 16, 1 << 62, 0},
		{"zero length", 16, 0, 0},
		{"elem size", 24, 4, 0},
		{"zero elem size", 24, 0, 0},
	}
	for k, c := range cases {
		name := fmt.Sprintf("c%d", k)
		if _, err := array.New[int64](seg, name, 16); err != nil {
			t.Fatal(err)
		}
		obj, _ := seg.Lookup(name)
		w, _ := segment.At[uint64](seg, obj.Offset+segment.Offset(c.off))
		*w = *w&c.keep | c.val
		if _, err := array.Open[int64](seg, name); !errors.Is(err, array.ErrCorrupt) {
			t.Errorf("%s: Open: %v, want ErrCorrupt", c.name, err)
		}
	}
}

func TestStats(t *testing.T) {
	seg := newSeg(t, 1<<20)
	a, err := array.New[float32](seg, "st", 10)
	if err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Len != 10 || st.Elem != array.Float32 {
		t.Fatalf("%+v", st)
	}
}
