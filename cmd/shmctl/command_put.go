package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

type putOptions struct {
	outputOptions
	CBOR bool
}

func (o *putOptions) AddFlags(cmd *cobra.Command) {
	o.outputOptions.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.CBOR, "cbor", false, "store the value as CBOR even if shmctl does not know the map's value codec")
}

func (o *putOptions) Validate(value string) error {
	if !json.Valid([]byte(value)) {
		return fmt.Errorf("VALUE %s is not JSON (quote strings for the shell: '\"text\"')", value)
	}
	return nil
}

func newPutCommand() *cobra.Command {
	var o putOptions
	cmd := &cobra.Command{
		Use:   "put SEG MAP KEY VALUE",
		Short: "Store VALUE (JSON) for KEY in a map (writes)",
		Long: `put stores VALUE, given as JSON, for KEY in map MAP of segment SEG. The
value is encoded with the map's own value codec: CBOR for maps of Go types
that are not plain data, the raw bytes of a JSON string for string and
[]byte values, a number for plain numeric values. A map whose value codec
shmctl does not know is refused unless --cbor says its values are CBOR.

put writes to the segment: it attaches as a process, as any user of the map.

KEY is the key's bytes, or for a map with integer keys a decimal number
(write -- before the arguments when it is negative: -- SEG MAP -7).`,
		Args: cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(args[3]); err != nil {
				return err
			}
			return putFunc(cmd.OutOrStdout(), o, args[0], args[1], args[2], args[3])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func putFunc(w io.Writer, o putOptions, segArg, name, key, value string) error {
	seg, err := openSegment(segArg, true)
	if err != nil {
		return err
	}
	defer seg.Close()
	m, err := openMap(seg, name)
	if err != nil {
		return err
	}
	b, err := encodeValue(m.ValueFingerprint(), json.RawMessage(value), o.CBOR)
	if err != nil {
		return fmt.Errorf("segment %s: map %q: key %q: %w", seg.Name(), name, key, err)
	}
	k, err := rawKey(m, key)
	if err != nil {
		return fmt.Errorf("segment %s: map %q: %w", seg.Name(), name, err)
	}
	if err := m.Store(k, b); err != nil {
		return explain(fmt.Errorf("segment %s: map %q: key %q: %w", seg.Name(), name, key, err))
	}
	if o.JSON {
		return writeJSON(w, map[string]any{"key": key, "stored": true, "bytes": len(b), "codec": codecName(m.ValueFingerprint())})
	}
	_, err = fmt.Fprintf(w, "stored %q (%d bytes, %s)\n", key, len(b), codecName(m.ValueFingerprint()))
	return err
}
