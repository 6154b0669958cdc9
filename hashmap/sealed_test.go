package hashmap_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

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
	m, err := hashmap.New[string, int64](seg, "m", hashmap.MaxEntries(1000))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := m.Store(fmt.Sprintf("key-%d", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := m.Load("key-7"); !ok || err != nil || v != 7 {
		t.Fatalf("Load(key-7) = %d %v %v", v, ok, err)
	}
	if _, ok, err := m.Load("absent"); ok || err != nil {
		t.Fatalf("Load(absent) = %v %v", ok, err)
	}

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
				case errors.Is(err, segment.ErrClosed):
					return
				case err != nil || !ok || v != int64(k):
					bad <- fmt.Sprintf("Load(key-%d) racing Close = %d %v %v", k, v, ok, err)
					return
				}
			}
		}()
	}
	close(start)
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(bad)
	for b := range bad {
		t.Error(b)
	}
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
