package array_test

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/segment"
)

func tempSegment() (*segment.Segment, func()) {
	name := fmt.Sprintf("/example-array-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.OpenOrCreate(name, 1<<20)
	if err != nil {
		panic(err)
	}
	return seg, func() { seg.Close(); segment.Remove(name) }
}

func Example() {
	seg, done := tempSegment()
	defer done()

	// Any process that opens the segment and calls New (or Open) with this
	// name and element type shares these counters.
	counters, err := array.New[int64](seg, "counters", 4)
	if err != nil {
		panic(err)
	}
	counters.Add(0, 5)
	counters.Add(0, -2)
	counters.Store(3, 42)
	fmt.Println(counters.Load(0), counters.Swap(3, 7), counters.CompareAndSwap(3, 7, 8))
	all := make([]int64, counters.Len())
	counters.CopyTo(all)
	fmt.Println(all)

	// Attaching with another element type is refused, naming both.
	_, err = array.Open[float64](seg, "counters")
	fmt.Println(err)
	// Output:
	// 3 42 true
	// [3 0 0 8]
	// segment: object mismatch: array "counters": want float64 elements, found int64
}
