package hashmap_test

import (
	"fmt"
	"os"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

type User struct {
	Name  string
	Score int
}

func Example() {
	name := fmt.Sprintf("/psm-example-hm-%d", os.Getpid())
	seg, err := segment.OpenOrCreate(name, 10<<20)
	if err != nil {
		panic(err)
	}
	defer segment.Remove(name)
	defer seg.Close()

	// Any process that opens the segment and calls New with the same name
	// and types shares this map.
	cache, err := hashmap.New[string, User](seg, "cache", hashmap.MaxEntries(1000))
	if err != nil {
		panic(err)
	}
	if err := cache.Store("user:123", User{Name: "Ada", Score: 42}); err != nil {
		panic(err)
	}
	u, ok, err := cache.Load("user:123")
	fmt.Println(u.Name, u.Score, ok, err)

	swapped, _ := cache.CompareAndSwap("user:123", User{"Ada", 42}, User{"Ada", 43})
	fmt.Println("swapped:", swapped, "len:", cache.Len())
	// Output:
	// Ada 42 true <nil>
	// swapped: true len: 1
}
