package hashmap_test

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

// TestSealedLoad: in an anonymous (sealed) segment Load runs without the
// fault guard. It must still give ErrClosed, never a crash or a wrong
// "absent", for a Load after Close and for Loads that race Close.
func TestSealedLoad(t *testing.T) {
	seg, err := segment.CreateAnonymous(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if !seg.Sealed() {
		t.Fatal("anonymous segment not sealed")
	}
	m := thousandKeys(t, seg)
	if v, ok, err := m.Load("key-7"); !ok || err != nil || v != 7 {
		t.Fatalf("Load(key-7) = %d %v %v", v, ok, err)
	}
	if _, ok, err := m.Load("absent"); ok || err != nil {
		t.Fatalf("Load(absent) = %v %v", ok, err)
	}

	loadDuring(t, m, segment.ErrClosed, func() {
		if err := seg.Close(); err != nil {
			t.Fatal(err)
		}
	})
	for _, k := range []string{"key-7", "absent"} {
		if _, ok, err := m.Load(k); ok || !errors.Is(err, segment.ErrClosed) {
			t.Errorf("Load(%s) after Close = %v %v, want ErrClosed", k, ok, err)
		}
	}
	// A write faults on the read-only zeros and its guard reports
	// ErrClosed (except under the race detector: see raceBuild).
	if !raceBuild {
		if err := m.Store("key-8", 1); !errors.Is(err, segment.ErrClosed) {
			t.Errorf("Store after Close = %v, want ErrClosed", err)
		}
	}
}

// TestLoadOnTruncatedSegment: a peer truncates the file of a named segment
// under a map. Load, which runs without the fault guard wherever the
// segment allows it (segment.UnguardedReads: linux/amd64, not race
// builds), must not crash, must not return a value read from the zero
// pages that stand in for the lost ones, and reports ErrTruncated from
// then on, for present and absent keys alike. Loads racing the truncation
// return the stored value or ErrTruncated.
func TestLoadOnTruncatedSegment(t *testing.T) {
	seg := alloctest.NewSegment(t, 4<<20) // not newSeg: its heap check would find the file cut
	m := thousandKeys(t, seg)

	loadDuring(t, m, segment.ErrTruncated, func() {
		heap, _ := seg.Heap()
		if err := os.Truncate(seg.Path(), int64(heap)); err != nil {
			t.Fatal(err)
		}
	})
	for _, k := range []string{"key-7", "absent"} {
		if v, ok, err := m.Load(k); ok || v != 0 || !errors.Is(err, segment.ErrTruncated) {
			t.Errorf("Load(%s) after truncation = %d %v %v, want ErrTruncated", k, v, ok, err)
		}
	}
	if err := m.Store("key-8", 1); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("Store after truncation = %v, want ErrTruncated", err)
	}
	if err := m.Delete("key-9"); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("Delete after truncation = %v, want ErrTruncated", err)
	}
}

// loadDuring runs 4 goroutines that Load m's keys "key-0" to "key-999"
// (each holding its number) while event happens, until each gets an error
// wrapping end. Every other result must be the stored value.
func loadDuring(t *testing.T, m *hashmap.Map[string, int64], end error, event func()) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	bad := make(chan string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				k := (i*7 + g) % 1000
				v, ok, err := m.Load(fmt.Sprintf("key-%d", k))
				switch {
				case errors.Is(err, end):
					return
				case err != nil || !ok || v != int64(k):
					bad <- fmt.Sprintf("Load(key-%d) = %d %v %v, want %d or %v", k, v, ok, err, k, end)
					return
				}
			}
		}()
	}
	close(start)
	event()
	wg.Wait()
	close(bad)
	for b := range bad {
		t.Error(b)
	}
}

// thousandKeys creates map "m" in seg holding "key-0" to "key-999", each
// with its number.
func thousandKeys(t *testing.T, seg *segment.Segment) *hashmap.Map[string, int64] {
	t.Helper()
	m, err := hashmap.New[string, int64](seg, "m", hashmap.MaxEntries(1000))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := m.Store(fmt.Sprintf("key-%d", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}
