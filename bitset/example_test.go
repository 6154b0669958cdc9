package bitset_test

import (
	"errors"
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

// A slot allocator: each worker process claims a slot with an owner, so
// that when a worker dies, segment recovery (Segment.Recover, which every
// Open runs too) gives its slot back.
func ExampleBitset_ClaimAnyOwned() {
	name := fmt.Sprintf("/example-bitset-owned-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.OpenOrCreate(name, 1<<20)
	if err != nil {
		panic(err)
	}
	defer segment.Remove(name)
	defer seg.Close()

	slots, err := bitset.New(seg, "worker-slots", 4, bitset.Owned())
	if err != nil {
		panic(err)
	}
	for range 5 {
		i, err := slots.ClaimAnyOwned()
		if errors.Is(err, bitset.ErrFull) {
			fmt.Println("no free slot")
			break
		}
		owner, _ := slots.Owner(i)
		mySlot, myGen := seg.Slot()
		fmt.Println("claimed slot", i, "owned by this process:", owner == bitset.Owner{Slot: mySlot, Gen: myGen})
	}
	if err := slots.ReleaseOwned(2); err != nil {
		panic(err)
	}
	i, _ := slots.ClaimAnyOwned()
	fmt.Println("after releasing slot 2, claimed slot", i)
	fmt.Println("release slot 2:", slots.ReleaseOwned(2))
	fmt.Println("release it again is ErrNotOwner:", errors.Is(slots.ReleaseOwned(2), bitset.ErrNotOwner))

	// What a supervisor checks after a worker died: recovery leaves no bit
	// owned by a process that is gone.
	if _, err := seg.Recover(); err != nil {
		panic(err)
	}
	for i, o := range slots.Owners() {
		if !seg.Alive(o.Slot, o.Gen) {
			fmt.Println("slot", i, "owned by a dead process")
		}
	}
	fmt.Printf("%+v\n", slots.Stats())
	// Output:
	// claimed slot 0 owned by this process: true
	// claimed slot 1 owned by this process: true
	// claimed slot 2 owned by this process: true
	// claimed slot 3 owned by this process: true
	// no free slot
	// after releasing slot 2, claimed slot 2
	// release slot 2: <nil>
	// release it again is ErrNotOwner: true
	// {Len:4 Set:3 Owned:3 Released:0}
}
