package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
	"github.com/spf13/cobra"
)

type infoOptions struct {
	outputOptions
}

func (o *infoOptions) AddFlags(cmd *cobra.Command) { o.outputOptions.AddFlags(cmd) }
func (o *infoOptions) Validate() error             { return nil }

func newInfoCommand() *cobra.Command {
	var o infoOptions
	cmd := &cobra.Command{
		Use:   "info SEG",
		Short: "Show a segment's objects, attached processes and allocator",
		Long: `info shows the segment SEG: its size and creation time, every named object
with its kind, layout version, capacity and length (items in a queue or
stack, live keys in a map, set bits in a bitset, elements in an array), the
processes attached (alive or dead, with operations in flight), and the
allocator's bytes per size class. It opens SEG read-only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return infoFunc(cmd.OutOrStdout(), o, args[0])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type processInfo struct {
	Slot     int       `json:"slot"`
	PID      int       `json:"pid"`
	Alive    bool      `json:"alive"`
	Attached time.Time `json:"attached"`
	Intents  int       `json:"intents"`
}

type segmentInfo struct {
	Name      string        `json:"name"`
	Path      string        `json:"path"`
	Size      int64         `json:"size"`
	Created   time.Time     `json:"created"`
	HeapBytes uint64        `json:"heap_bytes"`
	Objects   []objectInfo  `json:"objects"`
	Processes []processInfo `json:"processes"`
	Heap      alloc.Stats   `json:"heap"`
}

func inspectSegment(seg *segment.Segment) (segmentInfo, error) {
	si := segmentInfo{Name: seg.Name(), Path: seg.Path(), Size: seg.Size(), Created: seg.Created(), Objects: []objectInfo{}, Processes: []processInfo{}}
	objs := seg.Objects()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	for _, obj := range objs {
		si.Objects = append(si.Objects, describe(seg, obj))
	}
	for _, p := range seg.Processes() {
		si.Processes = append(si.Processes, processInfo{Slot: p.Slot, PID: p.PID, Alive: p.Alive, Attached: p.AttachedAt, Intents: p.Intents})
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return si, explain(fmt.Errorf("segment %s: %w", seg.Name(), err))
	}
	si.Heap = al.Stats()
	si.HeapBytes = si.Heap.HeapBytes
	return si, nil
}

func infoFunc(w io.Writer, o infoOptions, arg string) error {
	seg, err := openSegment(arg, false)
	if err != nil {
		return err
	}
	defer seg.Close()
	si, err := inspectSegment(seg)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(w, si)
	}
	h := si.Heap
	fmt.Fprintf(w, "segment %s (%s)\n", si.Name, si.Path)
	fmt.Fprintf(w, "size %s, created %s\n", human(uint64(si.Size)), si.Created.Format(time.RFC3339))
	fmt.Fprintf(w, "heap %s: %s used, %s free, %d of %d chunks claimed, %d allocs, %d frees\n\n",
		human(h.HeapBytes), human(h.UsedBytes), human(h.FreeBytes), h.ChunksUsed, h.Chunks, h.Allocs, h.Frees)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tKIND\tVERSION\tCAPACITY\tLENGTH\tFILL\tCODEC\tDETAIL")
	for _, oi := range si.Objects {
		if oi.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\tv%d\t-\t-\t-\t-\tERROR: %s\n", oi.Name, oi.Kind, oi.Version, oi.Error)
			continue
		}
		detail := oi.Detail
		if oi.Lost > 0 {
			detail += fmt.Sprintf(", %d lost", oi.Lost)
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%d\t%d\t%.1f%%\t%s\t%s\n", oi.Name, oi.Kind, oi.Version, oi.Capacity, oi.Length, 100*oi.Fill, dash(oi.Codec), detail)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(si.Processes) == 0 {
		fmt.Fprintln(w, "no processes attached")
	} else {
		fmt.Fprintln(tw, "SLOT\tPID\tSTATE\tATTACHED\tIN FLIGHT")
		for _, p := range si.Processes {
			state := "alive"
			if !p.Alive {
				state = "dead (run shmctl recover)"
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\n", p.Slot, p.PID, state, p.Attached.Format(time.RFC3339), p.Intents)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "SIZE CLASS\tIN USE\tFREE\tBYTES IN USE")
	for _, c := range h.Classes {
		fmt.Fprintf(tw, "%d B\t%d\t%d\t%s\n", c.BlockSize, c.InUse, c.Free, human(c.InUse*c.BlockSize))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
