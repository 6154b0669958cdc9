package array_test

import (
	"fmt"
	"math/rand/v2"
	"os"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

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

// Slice is a []float64 over the shared memory itself: gonum works on it
// directly, with no copy, as NumPy does on the Python library's arrays.
func Example_gonum() {
	seg, done := tempSegment()
	defer done()

	prices, err := array.New[float64](seg, "prices", 4)
	if err != nil {
		panic(err)
	}
	prices.CopyFrom([]float64{1.5, 2.5, 3, 4})

	data := prices.Slice()
	fmt.Println("sum:", floats.Sum(data))
	floats.Scale(2, data) // writes the shared memory: every process sees it
	fmt.Println("doubled, element 3:", prices.Load(3))

	v := mat.NewVecDense(len(data), data) // a gonum vector backed by shared memory
	fmt.Println("dot with ones:", mat.Dot(v, mat.NewVecDense(4, []float64{1, 1, 1, 1})))
	// Output:
	// sum: 11
	// doubled, element 3: 8
	// dot with ones: 22
}
