package array_test

import (
	"encoding/binary"
	"testing"

	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/segment"
)

// FuzzAttach writes random bytes over an array's header and elements, as a
// buggy or hostile peer could, then attaches with each element type: Open
// must either fail or give an Array whose every method works without
// panicking.
func FuzzAttach(f *testing.F) {
	good := make([]byte, array.HeaderSize+16)
	binary.NativeEndian.PutUint64(good[0:], array.Magic)
	binary.NativeEndian.PutUint32(good[8:], array.LayoutVersion)
	binary.NativeEndian.PutUint32(good[12:], uint32(array.Int64))
	binary.NativeEndian.PutUint64(good[16:], 10)
	binary.NativeEndian.PutUint32(good[24:], 8)
	f.Add(good)
	bad := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(bad[12:], uint32(array.Float32))
	binary.NativeEndian.PutUint32(bad[24:], 4)
	f.Add(bad)
	f.Add([]byte{1, 2, 3})

	seg := newSeg(f, 1<<20)
	if _, err := array.New[int64](seg, "fuzz", 10); err != nil {
		f.Fatal(err)
	}
	obj, err := seg.Lookup("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	block, err := seg.Bytes(obj.Offset, obj.Size)
	if err != nil {
		f.Fatal(err)
	}
	pristine := append([]byte(nil), block...)
	f.Fuzz(func(t *testing.T, data []byte) {
		copy(block, pristine)
		copy(block, data)
		exercise[int64](t, seg, true)
		exercise[float64](t, seg, false)
		exercise[int32](t, seg, false)
		exercise[float32](t, seg, false)
	})
}

func exercise[T array.Elem](t *testing.T, seg *segment.Segment, mayAttach bool) {
	a, err := array.Open[T](seg, "fuzz")
	if err != nil {
		return
	}
	if !mayAttach {
		t.Fatalf("attached an int64 array as %T", *new(T))
	}
	if a.Len() != 10 {
		t.Fatalf("attached with Len %d, the directory says 10", a.Len())
	}
	sum := T(0)
	for _, v := range a.All() {
		sum += v
	}
	for i := range a.Len() {
		a.Add(i, 1)
		a.Swap(i, a.Load(i))
		a.CompareAndSwap(i, 0, 1)
	}
	buf := make([]T, 20)
	a.CopyTo(buf)
	a.CopyFrom(buf)
	for _, v := range a.Slice() {
		sum += v
	}
}
