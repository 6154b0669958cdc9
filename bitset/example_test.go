package bitset_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/segment"
)

func Example() {
	name := fmt.Sprintf("/example-bitset-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.OpenOrCreate(name, 1<<20)
	if err != nil {
		panic(err)
	}
	defer segment.Remove(name)
	defer seg.Close()

	// Any process that opens the segment and calls New (or Open) with this
	// name shares these bits.
	claimed, err := bitset.New(seg, "claimed", 1000)
	if err != nil {
		panic(err)
	}
	for _, job := range []int{3, 7, 3} {
		if claimed.TestAndSet(job) {
			fmt.Println("job", job, "already taken")
		} else {
			fmt.Println("claimed job", job)
		}
	}
	claimed.Set(999)
	fmt.Println("count:", claimed.Count())
	fmt.Println("set:", slices.Collect(claimed.Ones()))
	next, ok := claimed.NextClear(3)
	fmt.Println("next free from 3:", next, ok)
	// Output:
	// claimed job 3
	// claimed job 7
	// job 3 already taken
	// count: 3
	// set: [3 7 999]
	// next free from 3: 4 true
}
