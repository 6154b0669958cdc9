// Command demo is the Python library's multiprocessing example in Go: a
// parent creates a shared segment and a queue, starts a producer process and
// a consumer process that attach to them by name, waits for both, and
// removes the segment.
//
//	go run ./demo              # a named segment in /dev/shm
//	go run ./demo -anonymous   # a memfd the children inherit; nothing to remove
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

// Task is what the producer sends. Any type a codec handles works; a struct
// with a string field travels as CBOR.
type Task struct {
	ID   int
	Name string
	Last bool // tells the consumer the producer is done
}

const tasks = 100

func main() {
	if len(os.Args) == 3 && os.Args[1] != "-anonymous" {
		var err error
		switch os.Args[1] {
		case "producer":
			err = producer(os.Args[2])
		case "consumer":
			err = consumer(os.Args[2])
		default:
			err = fmt.Errorf("unknown role %q", os.Args[1])
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := parent(len(os.Args) > 1 && os.Args[1] == "-anonymous"); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func parent(anonymous bool) error {
	name := fmt.Sprintf("/posixshm-demo-%d", os.Getpid())
	var seg *segment.Segment
	var err error
	if anonymous {
		// No name: the children inherit the memory, and the kernel frees
		// it when the last of the three processes exits, even on a crash.
		name = inherited
		seg, err = segment.CreateAnonymous(10 << 20)
	} else {
		seg, err = segment.OpenOrCreate(name, 10<<20) // 10 MiB
	}
	if err != nil {
		return err
	}
	defer seg.Remove() // cleanup, even if a worker fails; a no-op when anonymous
	defer seg.Close()
	if _, err := queue.New[Task](seg, "tasks", queue.Capacity(1000)); err != nil {
		return err
	}
	// Counters the workers update: [0] produced, [1] consumed.
	counters, err := array.New[int64](seg, "counters", 2)
	if err != nil {
		return err
	}
	what := "segment " + name
	if anonymous {
		what = "an anonymous segment"
	}
	fmt.Printf("parent: created %s (%d bytes) with queue \"tasks\"\n", what, seg.Size())

	start := time.Now()
	var workers []*exec.Cmd
	for _, role := range []string{"producer", "consumer"} {
		cmd := exec.Command(os.Args[0], role, name)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if anonymous {
			if err := seg.Pass(cmd); err != nil {
				return err
			}
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		fmt.Printf("parent: started %s, pid %d\n", role, cmd.Process.Pid)
		workers = append(workers, cmd)
	}
	for _, cmd := range workers {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%s: %w", cmd.Args[1], err)
		}
	}
	fmt.Printf("parent: producer pushed %d, consumer processed %d, in %v\n",
		counters.Load(0), counters.Load(1), time.Since(start).Round(time.Millisecond))
	if !anonymous {
		fmt.Printf("parent: removing %s\n", name)
	}
	return nil
}

// inherited is the name workers get for an anonymous segment.
const inherited = "inherited"

// attach opens the segment a worker was given: by name, or inherited.
func attach(name string) (*segment.Segment, error) {
	if name == inherited {
		return segment.Inherited()
	}
	return segment.Open(name) // attach to the existing segment
}

func producer(name string) error {
	seg, err := attach(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	q, err := queue.Open[Task](seg, "tasks")
	if err != nil {
		return err
	}
	counters, err := array.Open[int64](seg, "counters")
	if err != nil {
		return err
	}
	ctx := context.Background()
	for i := range tasks {
		if err := q.PushWait(ctx, Task{ID: i, Name: fmt.Sprintf("task_%d", i)}); err != nil {
			return err
		}
		counters.Add(0, 1)
	}
	fmt.Printf("producer: pushed %d tasks\n", tasks)
	return q.PushWait(ctx, Task{Last: true})
}

func consumer(name string) error {
	seg, err := attach(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	q, err := queue.Open[Task](seg, "tasks")
	if err != nil {
		return err
	}
	counters, err := array.Open[int64](seg, "counters")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		task, err := q.PopWait(ctx) // sleeps on a futex while the queue is empty
		if err != nil {
			return err
		}
		if task.Last {
			break
		}
		n := counters.Add(1, 1)
		if n <= 3 || n%25 == 0 {
			fmt.Printf("consumer: processing %s (id %d)\n", task.Name, task.ID)
		}
	}
	fmt.Printf("consumer: processed %d tasks\n", counters.Load(1))
	return nil
}
