package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"text/tabwriter"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
	"github.com/spf13/cobra"
)

type lsOptions struct {
	outputOptions
	All bool
	Dir string
}

func (o *lsOptions) AddFlags(cmd *cobra.Command) {
	o.outputOptions.AddFlags(cmd)
	cmd.Flags().BoolVarP(&o.All, "all", "a", false, "also list files that are not posixshm segments, marked foreign")
	cmd.Flags().StringVar(&o.Dir, "dir", "/dev/shm", "directory of named segments")
}

func (o *lsOptions) Validate() error {
	if o.Dir == "" {
		return fmt.Errorf("--dir must name a directory")
	}
	return nil
}

func newLsCommand() *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [PATH...]",
		Short: "List posixshm segments in /dev/shm and at the given paths",
		Long: `ls lists the posixshm segments in /dev/shm (named segments) and at each
PATH (a segment file, or a directory whose files are examined), with their
size, the bytes their allocator has in use, the number of objects, and the
processes attached, alive and dead. A dead process is one that exited or was
killed without closing the segment; shmctl recover repairs what it left.

Files that are not posixshm segments are recognised by their first bytes
and skipped (--all lists them as foreign); they are never mapped.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return lsFunc(cmd.OutOrStdout(), o, args)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type lsEntry struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Used    uint64 `json:"used,omitempty"`
	Objects int    `json:"objects"`
	Live    int    `json:"live"`
	Dead    int    `json:"dead"`
	Foreign bool   `json:"foreign,omitempty"`
	Error   string `json:"error,omitempty"`
}

func lsFunc(w io.Writer, o lsOptions, paths []string) error {
	var entries []lsEntry
	if ents, err := os.ReadDir(o.Dir); err == nil {
		for _, de := range ents {
			if !de.Type().IsRegular() {
				continue
			}
			name := filepath.Join(o.Dir, de.Name())
			display := name
			if o.Dir == "/dev/shm" {
				display = "/" + de.Name()
			}
			entries = append(entries, examine(display, name))
		}
	} else if len(paths) == 0 {
		return fmt.Errorf("ls: %w", err)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("ls %s: %w", p, err)
		}
		if !fi.IsDir() {
			entries = append(entries, examine(p, p))
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("ls %s: %w", p, err)
		}
		for _, de := range ents {
			if de.Type().IsRegular() {
				name := filepath.Join(p, de.Name())
				entries = append(entries, examine(name, name))
			}
		}
	}
	shown := entries[:0]
	for _, e := range entries {
		if !e.Foreign || o.All {
			shown = append(shown, e)
		}
	}
	sort.Slice(shown, func(i, j int) bool { return shown[i].Name < shown[j].Name })
	if o.JSON {
		if shown == nil {
			shown = []lsEntry{}
		}
		return writeJSON(w, shown)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tUSED\tOBJECTS\tLIVE\tDEAD\t")
	for _, e := range shown {
		switch {
		case e.Foreign:
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\tforeign: not a posixshm segment\n", e.Name, human(uint64(e.Size)))
		case e.Error != "":
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\n", e.Name, human(uint64(e.Size)), e.Error)
		default:
			note := ""
			if e.Dead > 0 {
				note = "dead processes: run shmctl recover"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", e.Name, human(uint64(e.Size)), human(e.Used), e.Objects, e.Live, e.Dead, note)
		}
	}
	return tw.Flush()
}

// examine describes the file at path, opening it as a segment only if its
// first word is the segment magic.
func examine(display, path string) lsEntry {
	e := lsEntry{Name: display, Path: path}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		e.Error = err.Error()
		return e
	}
	var magic [8]byte
	_, rerr := io.ReadFull(f, magic[:])
	fi, _ := f.Stat()
	f.Close()
	if fi != nil {
		e.Size = fi.Size()
	}
	if rerr != nil || binary.LittleEndian.Uint64(magic[:]) != segment.Magic {
		e.Foreign = true
		return e
	}
	var seg *segment.Segment
	if display != path {
		seg, err = segment.Open(display, segment.ReadOnly())
	} else {
		seg, err = segment.OpenFile(path, segment.ReadOnly())
	}
	if err != nil {
		e.Error = err.Error()
		return e
	}
	defer seg.Close()
	e.Size = seg.Size()
	e.Objects = len(seg.Objects())
	for _, p := range seg.Processes() {
		if p.Alive {
			e.Live++
		} else {
			e.Dead++
		}
	}
	if al, err := alloc.Of(seg); err == nil {
		e.Used = al.Stats().UsedBytes
	}
	return e
}

// human prints a byte count with a binary unit.
func human(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n)/1024, 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[u])
}
