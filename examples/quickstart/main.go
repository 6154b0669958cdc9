// Command quickstart is the README's Quick Start, compiled and run by
// `make test` so the README cannot drift from the API.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

type Task struct {
	Name string
	ID   int
}

type User struct {
	Name  string
	Score float64
}

func main() {
	name := fmt.Sprintf("/my_shared_mem-%d", os.Getpid())
	if err := run(name); err != nil {
		log.Fatal(err)
	}
}

func run(name string) error {
	// Create (or attach to) a 10 MiB shared memory segment.
	seg, err := segment.OpenOrCreate(name, 10<<20)
	if err != nil {
		return err
	}
	defer segment.Remove(name)
	defer seg.Close()

	// A lock-free multi-producer, multi-consumer queue.
	q, err := queue.New[Task](seg, "task_queue", queue.Capacity(1000))
	if err != nil {
		return err
	}
	if err := q.Push(Task{Name: "process_data", ID: 42}); err != nil { // queue.ErrFull when full
		return err
	}
	// In a consumer process (any process that opened the segment):
	if task, err := q.Pop(); err == nil { // queue.ErrEmpty when empty
		fmt.Printf("Processing: %+v\n", task)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	q.Push(Task{Name: "next", ID: 43})
	task, err := q.PopWait(ctx) // sleeps until an item arrives or ctx ends
	if err != nil {
		return err
	}
	fmt.Printf("Waited for: %+v\n", task)

	// A LIFO stack.
	st, err := stack.New[string](seg, "undo", stack.Capacity(100))
	if err != nil {
		return err
	}
	st.Push("first")
	st.Push("second")
	top, _ := st.Pop()
	fmt.Println("Popped:", top)

	// A shared hash map.
	cache, err := hashmap.New[string, User](seg, "cache", hashmap.MaxEntries(10000))
	if err != nil {
		return err
	}
	if err := cache.Store("user:123", User{Name: "Alice", Score: 95.5}); err != nil {
		return err
	}
	if u, ok, err := cache.Load("user:123"); err == nil && ok {
		fmt.Printf("user:123 = %+v\n", u)
	}

	// A bitset of flags.
	flags, err := bitset.New(seg, "flags", 1_000_000)
	if err != nil {
		return err
	}
	flags.Set(42)
	if flags.Test(42) {
		fmt.Println("Flag 42 is set")
	}

	// An array of atomic numbers, with a zero-copy slice for bulk work.
	arr, err := array.New[float64](seg, "my_array", 1000)
	if err != nil {
		return err
	}
	arr.Store(0, 42.5)
	arr.Add(0, 0.5)
	fmt.Println("arr[0] =", arr.Load(0), "len", len(arr.Slice()))

	// Every structure, the segment and its heap report plain statistics.
	fmt.Printf("queue: %+v\n", q.Stats())
	fmt.Printf("stack: %+v\n", st.Stats())
	fmt.Printf("map:   %+v\n", cache.Stats())
	fmt.Printf("flags: %+v\n", flags.Stats())
	segStats, err := seg.Stats()
	if err != nil {
		return err
	}
	fmt.Printf("segment: %d bytes (%d reserved), %d objects, %d processes attached\n",
		segStats.Size, segStats.ReservedBytes, segStats.Objects, segStats.ProcessesLive)
	heap, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	hs := heap.Stats()
	fmt.Printf("heap: %d bytes used, %d free\n", hs.UsedBytes, hs.FreeBytes)
	return nil
}
