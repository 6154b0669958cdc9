package main

import (
	"fmt"
	"io"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
	"github.com/spf13/cobra"
)

type recoverOptions struct {
	outputOptions
}

func (o *recoverOptions) AddFlags(cmd *cobra.Command) { o.outputOptions.AddFlags(cmd) }
func (o *recoverOptions) Validate() error             { return nil }

func newRecoverCommand() *cobra.Command {
	var o recoverOptions
	cmd := &cobra.Command{
		Use:   "recover SEG",
		Short: "Repair what dead processes left in a segment (writes)",
		Long: `recover repairs segment SEG after processes died without closing it: it
runs the segment's recovery (each dead process's operations in flight are
completed or undone by their structure's repair function, blocks it
allocated and never published are freed, and its registry slot is
released), frees unpublished blocks of any owner no longer attached, and
recycles queue and stack cells that dead processes left claimed, counting
their items lost. It prints what it did.

Every process that opens a segment repairs the dead slot it takes, and
structures recycle dead claims as they meet them, so recover is needed only
when nobody else is about to, or to make shmctl check pass. It is safe while
other processes use the segment: it judges death by the kernel's locks,
never by time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return recoverFunc(cmd.OutOrStdout(), o, args[0])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type recoverResult struct {
	Segment       string         `json:"segment"`
	DeadBefore    int            `json:"dead_before"`
	IntentsBefore int            `json:"intents_before"`
	DeadProcesses int            `json:"dead_processes_released"`
	Intents       int            `json:"intents_repaired"`
	Reclaimed     int            `json:"blocks_reclaimed"`
	Unhandled     int            `json:"intents_unhandled"`
	Cells         map[string]int `json:"cells_recycled"`
	DeadAfter     int            `json:"dead_after"`
	Errors        []string       `json:"errors"`
}

func deadCount(seg *segment.Segment) (dead, intents int) {
	for _, p := range seg.Processes() {
		if !p.Alive {
			dead++
			intents += p.Intents
		}
	}
	return dead, intents
}

func recoverFunc(w io.Writer, o recoverOptions, arg string) error {
	res := recoverResult{Segment: segmentName(arg), Cells: map[string]int{}, Errors: []string{}}
	// What is dead before we attach: attaching may itself repair a dead
	// slot (the one it takes), which this count includes.
	ro, err := openSegment(arg, false)
	if err != nil {
		return err
	}
	res.DeadBefore, res.IntentsBefore = deadCount(ro)
	ro.Close()

	seg, err := openSegment(arg, true)
	if err != nil {
		return err
	}
	defer seg.Close()
	rep, err := seg.Recover()
	if err != nil {
		return explain(fmt.Errorf("segment %s: recover: %w", seg.Name(), err))
	}
	// Attaching already ran a recovery; count its work with ours.
	at := seg.AttachReport()
	res.Intents, res.Reclaimed, res.Unhandled = at.Intents+rep.Intents, at.Reclaimed+rep.Reclaimed, rep.Unhandled
	res.Errors = append(res.Errors, at.Errors...)
	res.Errors = append(res.Errors, rep.Errors...)
	al, err := alloc.Of(seg)
	if err != nil {
		return explain(fmt.Errorf("segment %s: %w", seg.Name(), err))
	}
	n, err := al.ReclaimDead()
	res.Reclaimed += n
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("allocator: %v", err))
	}
	for _, obj := range seg.Objects() {
		var n int
		var err error
		switch obj.Kind {
		case segment.KindQueue:
			n, err = queue.RepairCells(seg, obj.Name)
		case segment.KindStack:
			n, err = stack.RepairCells(seg, obj.Name)
		default:
			continue
		}
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%v %q: %v", obj.Kind, obj.Name, err))
		}
		if n > 0 {
			res.Cells[obj.Name] = n
		}
	}
	res.DeadAfter, _ = deadCount(seg)
	res.DeadProcesses = res.DeadBefore - res.DeadAfter
	if o.JSON {
		return writeJSON(w, res)
	}
	fmt.Fprintf(w, "segment %s: %d dead processes found, %d operations in flight\n", res.Segment, res.DeadBefore, res.IntentsBefore)
	fmt.Fprintf(w, "released %d dead processes, repaired %d operations, reclaimed %d blocks\n", res.DeadProcesses, res.Intents, res.Reclaimed)
	if res.Unhandled > 0 {
		fmt.Fprintf(w, "%d operations of kinds no structure handles were left alone\n", res.Unhandled)
	}
	for name, n := range res.Cells {
		fmt.Fprintf(w, "%q: recycled %d cells left claimed by dead processes (a dead consumer's item is counted in Lost; a dead producer's cell held none)\n", name, n)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if res.DeadAfter > 0 {
		fmt.Fprintf(w, "%d dead processes could not be repaired; run shmctl check for details\n", res.DeadAfter)
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("segment %s: recovery incomplete: %d errors", res.Segment, len(res.Errors))
	}
	return nil
}
