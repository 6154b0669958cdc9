package segment_test

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// FuzzOpenHeader opens files whose first bytes are a valid header with
// fuzzer bytes written over it (or fuzzer bytes alone). Open must return a
// segment or an error: no panic, no SIGBUS.
func FuzzOpenHeader(f *testing.F) {
	s, name := mustCreate(f, 1<<20)
	s.Close()
	valid, err := os.ReadFile("/dev/shm" + name)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(0), []byte("PSHMSEG1"), int32(-1))
	f.Add(uint16(24), binary.NativeEndian.AppendUint64(nil, 1<<40), int32(-1))
	f.Add(uint16(48), binary.NativeEndian.AppendUint64(nil, 1<<20), int32(-1))
	f.Add(uint16(128), []byte{0, 0, 0, 0}, int32(-1))
	f.Add(uint16(0), []byte{}, int32(100))
	f.Add(uint16(0), []byte{}, int32(5000))
	path := "/dev/shm" + name
	f.Fuzz(func(t *testing.T, at uint16, junk []byte, truncate int32) {
		b := append([]byte(nil), valid...)
		copy(b[int(at)%len(b):], junk)
		if truncate >= 0 {
			b = b[:int(truncate)%len(b)]
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := segment.Open(name, segment.InitTimeout(0))
		if err != nil {
			return
		}
		defer o.Close()
		o.Objects()
		o.Processes()
		o.Lookup("x")
	})
}

// FuzzDirectory writes fuzzer bytes over a directory that holds objects,
// then runs every directory operation: errors, never panics or endless
// probing.
func FuzzDirectory(f *testing.F) {
	f.Add(uint16(0), []byte{2, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint16(16), []byte{200, 0, 0, 0})
	f.Add(uint16(32), binary.NativeEndian.AppendUint64(nil, 1<<62))
	f.Add(uint16(130), []byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9})
	s, _ := mustCreate(f, 1<<20, segment.DirectoryEntries(8))
	h := newBumpHeap(s)
	spec := segment.Spec{Kind: segment.KindQueue, Version: 1, Size: 64}
	noop := func(segment.Object) error { return nil }
	for _, n := range []string{"a", "b", "c"} {
		if _, _, err := s.FindOrCreate(n, spec, h, noop); err != nil {
			f.Fatal(err)
		}
	}
	dir, err := s.Bytes(4096, 8*128)
	if err != nil {
		f.Fatal(err)
	}
	pristine := append([]byte(nil), dir...)
	f.Fuzz(func(t *testing.T, at uint16, junk []byte) {
		copy(dir, pristine)
		copy(dir[int(at)%len(dir):], junk)
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			if obj, err := s.Lookup(n); err == nil && !s.InBounds(obj.Offset, obj.Size) {
				t.Fatalf("Lookup returned an object outside the segment: %+v", obj)
			}
		}
		for _, obj := range s.Objects() {
			if !s.InBounds(obj.Offset, obj.Size) {
				t.Fatalf("Objects returned an object outside the segment: %+v", obj)
			}
		}
		s.FindOrCreate("d", spec, h, noop)
		s.Delete("b", h)
		s.ObjectAt(uint32(at) % 10)
	})
}
