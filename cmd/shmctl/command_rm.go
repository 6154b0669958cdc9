package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/posixshm/posixshm/segment"
	"github.com/spf13/cobra"
)

type rmOptions struct {
	outputOptions
	Force bool
}

func (o *rmOptions) AddFlags(cmd *cobra.Command) {
	o.outputOptions.AddFlags(cmd)
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "remove even while live processes are attached")
}

func (o *rmOptions) Validate() error { return nil }

func newRmCommand() *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm SEG...",
		Short: "Remove segments (unlink their names)",
		Long: `rm unlinks each segment SEG. Processes that have it mapped keep using it
until they close it; new processes can no longer open it. A segment with
live processes attached is refused unless --force. A file that is not a
posixshm segment is never removed. Removing a segment that does not exist
is an error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return rmFunc(cmd.OutOrStdout(), o, args)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func rmFunc(w io.Writer, o rmOptions, args []string) error {
	var removed []string
	for _, arg := range args {
		name := segmentName(arg)
		path := name
		if !isPath(name) {
			path = "/dev/shm" + name
		}
		if err := checkMagic(path); err != nil {
			return fmt.Errorf("rm %s: %w", name, err)
		}
		seg, err := openSegment(arg, false)
		if err != nil {
			return err
		}
		live := 0
		for _, p := range seg.Processes() {
			if p.Alive {
				live++
			}
		}
		seg.Close()
		if live > 0 && !o.Force {
			return fmt.Errorf("rm %s: %d live processes are attached (they would keep the memory but lose the name); stop them first or pass --force", name, live)
		}
		if isPath(name) {
			err = segment.RemoveFile(name)
		} else {
			err = segment.Remove(name)
		}
		if err != nil {
			return fmt.Errorf("rm %s: %w", name, err)
		}
		removed = append(removed, name)
		if !o.JSON {
			fmt.Fprintf(w, "removed %s\n", name)
		}
	}
	if o.JSON {
		return writeJSON(w, map[string]any{"removed": removed})
	}
	return nil
}

// checkMagic refuses a path that is missing or not a posixshm segment.
func checkMagic(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%w (shmctl ls lists the segments)", segment.ErrNotExist)
		}
		return err
	}
	defer f.Close()
	var b [8]byte
	if _, err := io.ReadFull(f, b[:]); err != nil || binary.LittleEndian.Uint64(b[:]) != segment.Magic {
		return fmt.Errorf("%w: not removed", segment.ErrForeign)
	}
	return nil
}

// writeJSONLine prints v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := jsonMarshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
