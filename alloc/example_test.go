package alloc_test

import (
	"fmt"
	"log"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// A structure author's use of the allocator: allocate a block, fill it,
// publish it before its offset becomes visible to other processes (so
// recovery no longer frees it if this process dies), and free it when
// nothing refers to it any more.
func Example() {
	seg, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	a, err := alloc.Of(seg)
	if err != nil {
		log.Fatal(err)
	}

	off, err := a.Alloc(100) // an offset, valid in every process
	if err != nil {
		log.Fatal(err)
	}
	b, err := seg.Bytes(off, 100)
	if err != nil {
		log.Fatal(err)
	}
	copy(b, "hello")
	if err := a.Publish(off); err != nil {
		log.Fatal(err)
	}
	n, _ := a.UsableSize(off)
	fmt.Println(string(b[:5]), n >= 100)

	if err := a.Free(off); err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Free(off) != nil) // a double free is an error, not corruption
	st := a.Stats()
	fmt.Println(st.Allocs, st.Frees, len(a.Check().Problems))
	// Output:
	// hello true
	// true
	// 1 1 0
}
