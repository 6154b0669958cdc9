package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

type getOptions struct {
	outputOptions
}

func (o *getOptions) AddFlags(cmd *cobra.Command) { o.outputOptions.AddFlags(cmd) }
func (o *getOptions) Validate() error             { return nil }

func newGetCommand() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get SEG MAP KEY",
		Short: "Print the value of KEY in a map",
		Long: `get prints the value stored for KEY in map MAP of segment SEG, as JSON.
It opens SEG read-only. A missing key is an error (exit status 1).

KEY is the key's bytes, or for a map with integer keys a decimal number
(write -- before the arguments when it is negative: -- SEG MAP -7).`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return getFunc(cmd.OutOrStdout(), o, args[0], args[1], args[2])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func getFunc(w io.Writer, o getOptions, segArg, name, key string) error {
	seg, err := openSegment(segArg, false)
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
	b, ok, err := m.Load(k)
	if err != nil {
		return explain(fmt.Errorf("segment %s: map %q: key %q: %w", seg.Name(), name, key, err))
	}
	if !ok {
		return fmt.Errorf("segment %s: map %q has no key %q (shmctl dump %s %s lists its keys)", seg.Name(), name, key, segArg, name)
	}
	v, how := decodeValue(m.ValueFingerprint(), b)
	if o.JSON {
		return writeJSON(w, map[string]any{"key": key, "value": v, "codec": how})
	}
	_, err = fmt.Fprintln(w, jsonText(v))
	return err
}
