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

type watchOptions struct {
	outputOptions
	Count    int
	Interval time.Duration
}

func (o *watchOptions) AddFlags(cmd *cobra.Command) {
	o.outputOptions.AddFlags(cmd)
	cmd.Flags().IntVarP(&o.Count, "count", "c", 0, "stop after this many refreshes (0: run until interrupted)")
	cmd.Flags().DurationVarP(&o.Interval, "interval", "i", time.Second, "time between refreshes")
}

func (o *watchOptions) Validate() error {
	if o.Count < 0 {
		return fmt.Errorf("--count %d: want 0 (forever) or more", o.Count)
	}
	if o.Interval < 10*time.Millisecond {
		return fmt.Errorf("--interval %v: want at least 10ms", o.Interval)
	}
	return nil
}

func newWatchCommand() *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch SEG",
		Short: "Show fill levels and operations per second, refreshed live",
		Long: `watch prints, every --interval (1s), each object of segment SEG with its
length, fill level and operations per second since the last refresh
(pushes and pops for a queue, pushes plus pops for a stack), the
allocator's allocations and frees per second, and the processes attached.
The first refresh has no rates yet. --count N stops after N refreshes;
with --json each refresh is one JSON object per line. It opens SEG
read-only.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return watchFunc(cmd.OutOrStdout(), o, args[0])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type watchObject struct {
	objectInfo
	PushesPerSec *float64 `json:"pushes_per_sec,omitempty"`
	PopsPerSec   *float64 `json:"pops_per_sec,omitempty"`
	OpsPerSec    *float64 `json:"ops_per_sec,omitempty"`
}

type watchFrame struct {
	Time          time.Time     `json:"time"`
	Objects       []watchObject `json:"objects"`
	UsedBytes     uint64        `json:"used_bytes"`
	AllocsPerSec  *float64      `json:"allocs_per_sec,omitempty"`
	FreesPerSec   *float64      `json:"frees_per_sec,omitempty"`
	LiveProcesses int           `json:"live_processes"`
	DeadProcesses int           `json:"dead_processes"`
}

func rate(now, before uint64, dt float64) *float64 {
	r := float64(now-before) / dt
	if now < before {
		r = 0
	}
	return &r
}

func watchFunc(w io.Writer, o watchOptions, arg string) error {
	seg, err := openSegment(arg, false)
	if err != nil {
		return err
	}
	defer seg.Close()
	al, err := alloc.Of(seg)
	if err != nil {
		return explain(fmt.Errorf("segment %s: %w", seg.Name(), err))
	}
	var (
		prevT     time.Time
		prevObjs  map[string]objectInfo
		prevStats alloc.Stats
	)
	for n := 0; o.Count == 0 || n < o.Count; n++ {
		if n > 0 {
			time.Sleep(o.Interval)
		}
		now := time.Now()
		st := al.Stats()
		f := watchFrame{Time: now, UsedBytes: st.UsedBytes, Objects: []watchObject{}}
		for _, p := range seg.Processes() {
			if p.Alive {
				f.LiveProcesses++
			} else {
				f.DeadProcesses++
			}
		}
		objs := map[string]objectInfo{}
		dt := now.Sub(prevT).Seconds()
		objects := seg.Objects()
		sort.Slice(objects, func(i, j int) bool { return objects[i].Name < objects[j].Name })
		for _, obj := range objects {
			oi := describe(seg, obj)
			objs[obj.Name] = oi
			wo := watchObject{objectInfo: oi}
			if po, ok := prevObjs[obj.Name]; ok && oi.Error == "" && po.Offset == oi.Offset {
				switch obj.Kind {
				case segment.KindQueue:
					wo.PushesPerSec = rate(oi.counters[0], po.counters[0], dt)
					wo.PopsPerSec = rate(oi.counters[1], po.counters[1], dt)
				case segment.KindStack:
					wo.OpsPerSec = rate(uint64(uint32(oi.counters[0]-po.counters[0])), 0, dt)
				}
			}
			f.Objects = append(f.Objects, wo)
		}
		if prevObjs != nil {
			f.AllocsPerSec = rate(st.Allocs, prevStats.Allocs, dt)
			f.FreesPerSec = rate(st.Frees, prevStats.Frees, dt)
		}
		prevT, prevObjs, prevStats = now, objs, st
		if o.JSON {
			if err := writeJSONLine(w, f); err != nil {
				return err
			}
			continue
		}
		printFrame(w, seg.Name(), f)
	}
	return nil
}

func printFrame(w io.Writer, name string, f watchFrame) {
	fmt.Fprintf(w, "%s  %s  %d processes alive, %d dead  heap %s used", f.Time.Format("15:04:05"), name, f.LiveProcesses, f.DeadProcesses, human(f.UsedBytes))
	if f.AllocsPerSec != nil {
		fmt.Fprintf(w, "  %.0f allocs/s %.0f frees/s", *f.AllocsPerSec, *f.FreesPerSec)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tKIND\tLENGTH\tCAPACITY\tFILL\tRATE")
	for _, o := range f.Objects {
		if o.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\tERROR: %s\n", o.Name, o.Kind, o.Error)
			continue
		}
		r := "-"
		switch {
		case o.PushesPerSec != nil:
			r = fmt.Sprintf("%.0f push/s %.0f pop/s", *o.PushesPerSec, *o.PopsPerSec)
		case o.OpsPerSec != nil:
			r = fmt.Sprintf("%.0f ops/s", *o.OpsPerSec)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s %5.1f%%\t%s\n", o.Name, o.Kind, o.Length, o.Capacity, bar(o.Fill), 100*o.Fill, r)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// bar draws a fill level as ten cells.
func bar(f float64) string {
	n := int(f*10 + 0.5)
	n = max(0, min(10, n))
	b := make([]rune, 10)
	for i := range b {
		b[i] = '.'
		if i < n {
			b[i] = '#'
		}
	}
	return "[" + string(b) + "]"
}
