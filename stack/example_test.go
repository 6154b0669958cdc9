package stack_test

import (
	"fmt"
	"os"

	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

func Example() {
	name := fmt.Sprintf("/psm-example-stack-%d", os.Getpid())
	seg, err := segment.OpenOrCreate(name, 10<<20)
	if err != nil {
		panic(err)
	}
	defer segment.Remove(name)
	defer seg.Close()

	s, err := stack.New[int64](seg, "undo", stack.Capacity(100))
	if err != nil {
		panic(err)
	}
	s.Push(1)
	s.Push(2)
	top, _ := s.Peek()
	v, _ := s.Pop()
	fmt.Println(top, v, s.Len())
	// Output: 2 2 1
}
