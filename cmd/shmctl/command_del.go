package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

type delOptions struct {
	outputOptions
}

func (o *delOptions) AddFlags(cmd *cobra.Command) { o.outputOptions.AddFlags(cmd) }
func (o *delOptions) Validate() error             { return nil }

func newDelCommand() *cobra.Command {
	var o delOptions
	cmd := &cobra.Command{
		Use:   "del SEG MAP KEY",
		Short: "Delete KEY from a map (writes)",
		Long: `del deletes KEY from map MAP of segment SEG. Deleting a missing key is
not an error; the output says whether the key was there.

KEY is the key's bytes, or for a map with integer keys a decimal number
(write -- before the arguments when it is negative: -- SEG MAP -7).

del writes to the segment: it attaches as a process, as any user of the map.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return delFunc(cmd.OutOrStdout(), o, args[0], args[1], args[2])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func delFunc(w io.Writer, o delOptions, segArg, name, key string) error {
	seg, err := openSegment(segArg, true)
	if err != nil {
		return err
	}
	defer seg.Close()
	m, err := openMap(seg, name)
	if err != nil {
		return err
	}
	k, err := rawKey(m, key)
	if err != nil {
		return fmt.Errorf("segment %s: map %q: %w", seg.Name(), name, err)
	}
	found, err := m.Delete(k)
	if err != nil {
		return explain(fmt.Errorf("segment %s: map %q: key %q: %w", seg.Name(), name, key, err))
	}
	if o.JSON {
		return writeJSON(w, map[string]any{"key": key, "deleted": found})
	}
	if found {
		_, err = fmt.Fprintf(w, "deleted %q\n", key)
	} else {
		_, err = fmt.Fprintf(w, "%q was not in the map\n", key)
	}
	return err
}
