package segment_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/posixshm/posixshm/segment"
)

// Create a named segment, attach to it a second time as another process
// would, and look at it. Remove unlinks the name; handles that have it
// open keep working until they close.
func Example() {
	name := fmt.Sprintf("/example-%d", os.Getpid())
	seg, err := segment.OpenOrCreate(name, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	defer segment.Remove(name)

	peer, err := segment.Open(name) // another process would call this
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()

	st, err := peer.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Size, st.ProcessesLive, st.ProcessesDead)
	// Output: 1048576 2 0
}

// Create refuses a name that exists, Open one that does not, and both
// refuse a name that could escape /dev/shm; the errors are sentinels for
// errors.Is.
func Example_errors() {
	_, err := segment.Open("/no-such-segment-example")
	fmt.Println(errors.Is(err, segment.ErrNotExist))
	_, err = segment.Create("/../../tmp/x", 1<<20)
	fmt.Println(errors.Is(err, segment.ErrInvalidName))
	// Output:
	// true
	// true
}

// An anonymous segment has no file in /dev/shm: the kernel frees it with
// the last process that maps it, so nothing can leak. A parent passes it to
// the children it starts (Pass), which attach with Inherited.
func ExampleCreateAnonymous() {
	seg, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	fmt.Println(seg.Path() == "", seg.Size())
	// Output: true 1048576
}
