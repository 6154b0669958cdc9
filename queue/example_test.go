package queue_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

func Example() {
	name := fmt.Sprintf("/psm-example-queue-%d", os.Getpid())
	seg, err := segment.OpenOrCreate(name, 10<<20)
	if err != nil {
		panic(err)
	}
	defer segment.Remove(name)
	defer seg.Close()

	type Task struct {
		Name string
		ID   int
	}
	q, err := queue.New[Task](seg, "task_queue", queue.Capacity(1000))
	if err != nil {
		panic(err)
	}
	if err := q.Push(Task{Name: "process_data", ID: 42}); err != nil {
		panic(err)
	}
	t, err := q.Pop()
	fmt.Println(t.Name, t.ID, err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = q.PopWait(ctx)
	fmt.Println(err)
	// Output:
	// process_data 42 <nil>
	// context deadline exceeded
}

func ExampleQueue_PushFunc() {
	name := fmt.Sprintf("/psm-example-queue-bytes-%d", os.Getpid())
	seg, _ := segment.OpenOrCreate(name, 10<<20)
	defer segment.Remove(name)
	defer seg.Close()
	q, _ := queue.New[[]byte](seg, "frames")
	q.PushFunc(5, func(b []byte) { copy(b, "hello") }) // written in place
	q.PopFunc(func(b []byte) error {                   // read in place
		fmt.Println(string(b))
		return nil
	})
	// Output: hello
}
