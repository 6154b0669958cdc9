package bench_test

import (
	"fmt"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/segment"
)

// Slice is a []float64 over the shared memory itself: gonum works on it
// directly, with no copy, as NumPy does on the Python library's arrays.
// (This example lives in bench so that the array module need not require
// gonum.)
func Example_gonum() {
	// An anonymous segment, shared with the child processes it is passed
	// to; a named one (segment.OpenOrCreate) works the same.
	seg, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		panic(err)
	}
	defer seg.Close()

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
