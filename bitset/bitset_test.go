package bitset_test

import (
	"errors"
	"fmt"
	"github.com/posixshm/posixshm/alloc/alloctest"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/segment"
)

func TestNewAttach(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, err := bitset.New(seg, "flags", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 1000 || b.Name() != "flags" || !b.None() {
		t.Fatalf("Len %d Name %q None %v", b.Len(), b.Name(), b.None())
	}
	b.Set(999)

	// Same size, size 0, Open, and another mapping of the segment all see it.
	seg2 := alloctest.Reopen(t, seg)
	for what, attach := range map[string]func() (*bitset.Bitset, error){
		"New same size":      func() (*bitset.Bitset, error) { return bitset.New(seg, "flags", 1000) },
		"New size 0":         func() (*bitset.Bitset, error) { return bitset.New(seg, "flags", 0) },
		"Open":               func() (*bitset.Bitset, error) { return bitset.Open(seg, "flags") },
		"Open other mapping": func() (*bitset.Bitset, error) { return bitset.Open(seg2, "flags") },
	} {
		c, err := attach()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if c.Len() != 1000 || !c.Test(999) || c.Count() != 1 {
			t.Errorf("%s: Len %d Test(999) %v Count %d", what, c.Len(), c.Test(999), c.Count())
		}
	}
	c, _ := bitset.Open(seg2, "flags")
	c.Set(3)
	if !b.Test(3) {
		t.Error("a bit set through another mapping is not seen")
	}

	_, err = bitset.New(seg, "flags", 2000)
	if !errors.Is(err, bitset.ErrMismatch) || !strings.Contains(err.Error(), "2000") || !strings.Contains(err.Error(), "1000") {
		t.Errorf("New with another size: %v, want ErrMismatch naming 2000 and 1000", err)
	}
	for _, size := range []int{-1, bitset.MaxLen + 1} {
		if _, err := bitset.New(seg, "bad", size); !errors.Is(err, bitset.ErrInvalidSize) {
			t.Errorf("New(size %d): %v, want ErrInvalidSize", size, err)
		}
	}
	if _, err := bitset.Open(seg, "missing"); !errors.Is(err, bitset.ErrNotFound) {
		t.Errorf("Open(missing): %v, want ErrNotFound", err)
	}
	if _, err := bitset.New(seg, "missing", 0); !errors.Is(err, bitset.ErrNotFound) {
		t.Errorf("New(missing, 0): %v, want ErrNotFound", err)
	}
}

func TestAttachOtherKind(t *testing.T) {
	seg := newSeg(t, 1<<20)
	heap, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	spec := segment.Spec{Kind: segment.KindArray, Version: 1, Params: [4]uint64{64, 4}, Size: 64 + 64*8}
	if _, _, err := seg.FindOrCreate("thing", spec, heap, func(segment.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for what, fn := range map[string]func() (*bitset.Bitset, error){
		"New":  func() (*bitset.Bitset, error) { return bitset.New(seg, "thing", 64) },
		"Open": func() (*bitset.Bitset, error) { return bitset.Open(seg, "thing") },
	} {
		_, err := fn()
		if !errors.Is(err, bitset.ErrMismatch) || !strings.Contains(err.Error(), "bitset") || !strings.Contains(err.Error(), "array") {
			t.Errorf("%s on an array: %v, want ErrMismatch naming bitset and array", what, err)
		}
	}
}

// model is the reference a Bitset is compared with.
type model []bool

func (m model) count() (n int) {
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

func (m model) next(i int, v bool) (int, bool) {
	for ; i < len(m); i++ {
		if m[i] == v {
			return i, true
		}
	}
	return 0, false
}

func check(t *testing.T, step string, b *bitset.Bitset, m model) {
	t.Helper()
	if got, want := b.Count(), m.count(); got != want {
		t.Fatalf("%s: Count %d, want %d", step, got, want)
	}
	if b.Any() != (m.count() > 0) || b.None() != (m.count() == 0) || b.All() != (m.count() == len(m)) {
		t.Fatalf("%s: Any %v None %v All %v with %d of %d set", step, b.Any(), b.None(), b.All(), m.count(), len(m))
	}
	var want []int
	for i, v := range m {
		if b.Test(i) != v {
			t.Fatalf("%s: Test(%d) = %v, want %v", step, i, !v, v)
		}
		if v {
			want = append(want, i)
		}
	}
	if got := slices.Collect(b.Ones()); !slices.Equal(got, want) {
		t.Fatalf("%s: Ones %v, want %v", step, got, want)
	}
	for _, i := range []int{0, 1, len(m) / 2, len(m) - 1, len(m), len(m) + 5} {
		for _, v := range []bool{true, false} {
			var gi int
			var gok bool
			if v {
				gi, gok = b.NextSet(i)
			} else {
				gi, gok = b.NextClear(i)
			}
			wi, wok := m.next(i, v)
			if gi != wi || gok != wok {
				t.Fatalf("%s: Next(%d, %v) = %d, %v; want %d, %v", step, i, v, gi, gok, wi, wok)
			}
		}
	}
}

func TestModel(t *testing.T) {
	seg := newSeg(t, 4<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 63, 64, 65, 127, 128, 129, 1000, 4099} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b, err := bitset.New(seg, fmt.Sprintf("b%d", n), n)
			if err != nil {
				t.Fatal(err)
			}
			m := make(model, n)
			check(t, "new", b, m)
			steps := 300
			if testing.Short() {
				steps = 60
			}
			for s := range steps {
				i := rng.IntN(n)
				op := rng.IntN(9)
				step := fmt.Sprintf("step %d op %d bit %d", s, op, i)
				switch op {
				case 0, 1:
					b.Set(i)
					m[i] = true
				case 2:
					b.Clear(i)
					m[i] = false
				case 3:
					if got := b.Flip(i); got != !m[i] {
						t.Fatalf("%s: Flip = %v", step, got)
					}
					m[i] = !m[i]
				case 4:
					if got := b.TestAndSet(i); got != m[i] {
						t.Fatalf("%s: TestAndSet = %v", step, got)
					}
					m[i] = true
				case 5:
					if got := b.TestAndClear(i); got != m[i] {
						t.Fatalf("%s: TestAndClear = %v", step, got)
					}
					m[i] = false
				case 6:
					if rng.IntN(10) == 0 {
						b.SetAll()
						for j := range m {
							m[j] = true
						}
					}
				case 7:
					if rng.IntN(10) == 0 {
						b.ClearAll()
						clear(m)
					}
				case 8:
					// Fill a run, so All and NextClear see full words.
					for j := i; j < min(n, i+130); j++ {
						b.Set(j)
						m[j] = true
					}
				}
				if s%10 == 0 || op >= 6 {
					check(t, step, b, m)
				}
			}
			check(t, "end", b, m)
		})
	}
}

func TestBulk(t *testing.T) {
	seg := newSeg(t, 1<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 300
	ops := []struct {
		name string
		do   func(a, b *bitset.Bitset) error
		f    func(x, y bool) bool
	}{
		{"and", (*bitset.Bitset).And, func(x, y bool) bool { return x && y }},
		{"or", (*bitset.Bitset).Or, func(x, y bool) bool { return x || y }},
		{"xor", (*bitset.Bitset).Xor, func(x, y bool) bool { return x != y }},
		{"andnot", (*bitset.Bitset).AndNot, func(x, y bool) bool { return x && !y }},
	}
	for k, op := range ops {
		a, _ := bitset.New(seg, fmt.Sprintf("a%d", k), n)
		o, _ := bitset.New(seg, fmt.Sprintf("o%d", k), n)
		ma, mo := make(model, n), make(model, n)
		for i := range n {
			if rng.IntN(2) == 0 {
				a.Set(i)
				ma[i] = true
			}
			if rng.IntN(2) == 0 {
				o.Set(i)
				mo[i] = true
			}
		}
		if err := op.do(a, o); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		for i := range ma {
			ma[i] = op.f(ma[i], mo[i])
		}
		check(t, op.name, a, ma)
		check(t, op.name+" (operand unchanged)", o, mo)
		// With itself.
		if err := op.do(o, o); err != nil {
			t.Fatal(err)
		}
		for i := range mo {
			mo[i] = op.f(mo[i], mo[i])
		}
		check(t, op.name+" with itself", o, mo)
	}
	a, _ := bitset.New(seg, "small", 10)
	big, _ := bitset.New(seg, "big", 11)
	for _, op := range ops {
		if err := op.do(a, big); !errors.Is(err, bitset.ErrMismatch) || !strings.Contains(err.Error(), "10 bits vs 11 bits") {
			t.Errorf("%s with another size: %v", op.name, err)
		}
	}
}

func TestIndexOutOfRange(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, _ := bitset.New(seg, "b", 65)
	for _, i := range []int{-1, 65, 128, 1 << 40} {
		mustPanic(t, fmt.Sprintf("Set(%d)", i), func() { b.Set(i) })
		mustPanic(t, fmt.Sprintf("Clear(%d)", i), func() { b.Clear(i) })
		mustPanic(t, fmt.Sprintf("Flip(%d)", i), func() { b.Flip(i) })
		mustPanic(t, fmt.Sprintf("Test(%d)", i), func() { b.Test(i) })
		mustPanic(t, fmt.Sprintf("TestAndSet(%d)", i), func() { b.TestAndSet(i) })
		mustPanic(t, fmt.Sprintf("TestAndClear(%d)", i), func() { b.TestAndClear(i) })
	}
	mustPanic(t, "NextSet(-1)", func() { b.NextSet(-1) })
	mustPanic(t, "NextClear(-1)", func() { b.NextClear(-1) })
	if b.Count() != 0 {
		t.Errorf("Count %d after only panicking calls", b.Count())
	}
}

// Bits past Len in the last word belong to nobody; a peer that sets them
// must not change what this process sees.
func TestTailBitsIgnored(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, _ := bitset.New(seg, "b", 70)
	obj, _ := seg.Lookup("b")
	raw, err := segment.Slice[uint64](seg, obj.Offset+bitset.HeaderSize, 2)
	if err != nil {
		t.Fatal(err)
	}
	raw[1] = ^uint64(0) &^ (1<<6 - 1) // every bit past 70
	m := make(model, 70)
	check(t, "garbage tail", b, m)
	b.SetAll()
	for i := range m {
		m[i] = true
	}
	check(t, "SetAll", b, m)
	b.ClearAll()
	check(t, "ClearAll", b, make(model, 70))
}

func TestCorruptHeader(t *testing.T) {
	seg := newSeg(t, 1<<20)
	cases := []struct {
		name string
		off  int    // byte offset in the header
		val  uint64 // 8 bytes written there
	}{
		{"magic", 0, 0x1234},
		{"version", 8, 7},
		{"length", 16, 99},
		{"huge length", 16, 1 << 62},
		{"zero length", 16, 0},
		{"nwords", 24, 3},
		{"huge nwords", 24, 1 << 60},
	}
	for k, c := range cases {
		name := fmt.Sprintf("c%d", k)
		if _, err := bitset.New(seg, name, 128); err != nil {
			t.Fatal(err)
		}
		obj, _ := seg.Lookup(name)
		w, _ := segment.At[uint64](seg, obj.Offset+segment.Offset(c.off))
		if c.off == 8 {
			*w = *w&^0xffffffff | c.val
		} else {
			*w = c.val
		}
		if _, err := bitset.Open(seg, name); !errors.Is(err, bitset.ErrCorrupt) {
			t.Errorf("%s: Open: %v, want ErrCorrupt", c.name, err)
		}
	}
}

// Goroutines on separate mappings claim the same bits with TestAndSet: each
// bit is won exactly once. conformance/ does the same across processes.
func TestTestAndSetClaims(t *testing.T) {
	seg := newSeg(t, 1<<20)
	n, workers := 20000, 4
	if testing.Short() {
		n = 2000
	}
	if _, err := bitset.New(seg, "claims", n); err != nil {
		t.Fatal(err)
	}
	won := make([][]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		b, err := bitset.Open(alloctest.Reopen(t, seg), "claims")
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range n {
				if !b.TestAndSet(i) {
					won[w] = append(won[w], i)
				}
				if i%256 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	var all []int
	for _, ws := range won {
		all = append(all, ws...)
	}
	slices.Sort(all)
	if len(all) != n {
		t.Fatalf("%d bits won, want %d", len(all), n)
	}
	for i, v := range all {
		if v != i {
			t.Fatalf("bit %d won twice or never", i)
		}
	}
}

// Concurrent Set/Clear on different bits of the same words lose nothing.
func TestConcurrentSetClear(t *testing.T) {
	seg := newSeg(t, 1<<20)
	const n = 1024
	b, _ := bitset.New(seg, "b", n)
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range rounds {
				for i := w; i < n; i += 4 {
					b.Set(i)
				}
				for i := w; i < n; i += 4 {
					b.Clear(i)
				}
				for i := w; i < n; i += 4 {
					b.Flip(i)
				}
			}
		})
	}
	wg.Wait()
	if !b.All() {
		t.Fatalf("Count %d after every bit was set, cleared and flipped; want all %d", b.Count(), n)
	}
}

func TestStats(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, err := bitset.New(seg, "st", 130)
	if err != nil {
		t.Fatal(err)
	}
	b.Set(1)
	b.Set(129)
	if st := b.Stats(); st.Len != 130 || st.Set != 2 {
		t.Fatalf("%+v", st)
	}
}
