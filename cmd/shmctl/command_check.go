package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	outputOptions
}

func (o *checkOptions) AddFlags(cmd *cobra.Command) { o.outputOptions.AddFlags(cmd) }
func (o *checkOptions) Validate() error             { return nil }

func newCheckCommand() *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check SEG",
		Short: "Verify a segment's invariants; exit status 2 if any fails",
		Long: `check verifies everything shmctl can check of segment SEG without writing:
the header (magic, version, checksum, sizes), the directory (each object
inside the heap, on an allocator block large enough, overlapping no other),
the allocator (free lists, block states, counters, leaked blocks and
chunks), processes that died without closing (with any operations they left
in flight), and every object's own invariants (its header against the
directory, cell and slot states, lengths and offsets, claims left by dead
processes).

It prints each problem, then "N problems found", and exits with status 2 if
N > 0. Most problems left by a dead process are repaired by shmctl recover.
Run check when no process is writing: under concurrent use it can report
operations in flight as problems.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return checkFunc(cmd.OutOrStdout(), o, args[0])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type checkResult struct {
	Segment  string   `json:"segment"`
	Problems []string `json:"problems"`
}

func checkFunc(w io.Writer, o checkOptions, arg string) error {
	res := checkResult{Segment: segmentName(arg), Problems: []string{}}
	seg, err := openSegment(arg, false)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	} else {
		defer seg.Close()
		res.Problems = append(res.Problems, checkSegment(seg)...)
	}
	if o.JSON {
		if err := writeJSON(w, res); err != nil {
			return err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintln(w, p)
		}
		fmt.Fprintf(w, "%d problems found\n", len(res.Problems))
	}
	if n := len(res.Problems); n > 0 {
		return problemsFound(n)
	}
	return nil
}

// checkSegment returns every problem found in seg.
func checkSegment(seg *segment.Segment) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	for _, p := range seg.Processes() {
		if !p.Alive {
			add("process %d (registry slot %d) died without closing the segment, %d operations in flight; run shmctl recover", p.PID, p.Slot, p.Intents)
		}
	}

	al, err := alloc.Of(seg)
	if err != nil {
		add("allocator: %v", err)
		return probs
	}
	rep := al.Check()
	for _, p := range rep.Problems {
		add("allocator: %s", p)
	}
	if rep.LostChunks > 0 && len(rep.Problems) == 0 {
		add("allocator: %d chunks claimed but never recorded (a process died while claiming them)", rep.LostChunks)
	}

	heapOff, heapSize := seg.Heap()
	objs := seg.Objects()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Offset < objs[j].Offset })
	var prev *segment.Object
	for i := range objs {
		obj := &objs[i]
		where := fmt.Sprintf("object %q (directory entry %d)", obj.Name, obj.Index)
		if uint64(obj.Offset) < uint64(heapOff) || uint64(obj.Offset)+obj.Size > uint64(heapOff)+heapSize || uint64(obj.Offset)+obj.Size < uint64(obj.Offset) {
			add("%s: block [%d, +%d) lies outside the heap [%d, +%d)", where, obj.Offset, obj.Size, heapOff, heapSize)
			continue
		}
		if n, err := al.UsableSize(obj.Block); err != nil {
			add("%s: offset %d is not an allocated block: %v", where, obj.Block, err)
		} else if pad := uint64(obj.Offset - obj.Block); n < pad+obj.Size {
			add("%s: needs %d bytes, its block holds %d", where, pad+obj.Size, n)
		}
		if prev != nil && uint64(prev.Offset)+prev.Size > uint64(obj.Offset) {
			add("%s overlaps object %q", where, prev.Name)
		}
		prev = obj
		probs = append(probs, checkObject(seg, *obj)...)
	}
	return probs
}

// checkObject runs the attach checks and invariant checks of obj's kind.
func checkObject(seg *segment.Segment, obj segment.Object) []string {
	switch obj.Kind {
	case segment.KindQueue:
		return queue.Check(seg, obj)
	case segment.KindStack:
		return stack.Check(seg, obj)
	case segment.KindHashMap:
		return hashmap.Check(seg, obj)
	case segment.KindBitset:
		if _, err := bitset.Open(seg, obj.Name); err != nil {
			return []string{fmt.Sprintf("bitset %q: %v", obj.Name, err)}
		}
	case segment.KindArray:
		if _, _, err := arrayShape(seg, obj); err != nil {
			return []string{fmt.Sprintf("array %q: %v", obj.Name, err)}
		}
	default:
		return []string{fmt.Sprintf("object %q: unknown kind %d", obj.Name, uint32(obj.Kind))}
	}
	return nil
}
