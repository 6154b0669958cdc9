package main

import (
	"fmt"
	"io"

	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
	"github.com/spf13/cobra"
)

type dumpOptions struct {
	outputOptions
	Limit int
}

func (o *dumpOptions) AddFlags(cmd *cobra.Command) {
	o.outputOptions.AddFlags(cmd)
	cmd.Flags().IntVarP(&o.Limit, "limit", "n", 0, "show at most this many items (0: all)")
}

func (o *dumpOptions) Validate() error {
	if o.Limit < 0 {
		return fmt.Errorf("--limit %d: want 0 (all) or more", o.Limit)
	}
	return nil
}

func newDumpCommand() *cobra.Command {
	var o dumpOptions
	cmd := &cobra.Command{
		Use:   "dump SEG OBJ",
		Short: "Print the contents of an object without changing it",
		Long: `dump prints the contents of object OBJ of segment SEG: the items of a queue
(oldest first) or a stack (top first) without popping them, the entries of a
map, the indexes of the set bits of a bitset, the elements of an array.
Values are shown as JSON: strings, numbers, and CBOR values (any Go type
that is not plain data) decoded. It opens SEG read-only; under concurrent
use the listing is not a snapshot, as items may come and go while it reads.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return dumpFunc(cmd.OutOrStdout(), o, args[0], args[1])
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type dumpEntry struct {
	Pos   *uint64 `json:"pos,omitempty"`   // queue position, stack height
	Key   *string `json:"key,omitempty"`   // map key
	Index *int    `json:"index,omitempty"` // bitset or array index
	Value any     `json:"value"`
}

type dumpResult struct {
	Object string      `json:"object"`
	Kind   string      `json:"kind"`
	Codec  string      `json:"codec,omitempty"`
	Items  []dumpEntry `json:"items"`
}

func dumpFunc(w io.Writer, o dumpOptions, segArg, name string) error {
	seg, err := openSegment(segArg, false)
	if err != nil {
		return err
	}
	defer seg.Close()
	obj, err := lookupObject(seg, name)
	if err != nil {
		return err
	}
	res := dumpResult{Object: obj.Name, Kind: obj.Kind.String(), Items: []dumpEntry{}}
	wrap := func(err error) error {
		return explain(fmt.Errorf("segment %s: %v %q: %w", seg.Name(), obj.Kind, obj.Name, err))
	}
	switch obj.Kind {
	case segment.KindQueue:
		in, err := queue.Inspect(seg, name)
		if err != nil {
			return wrap(err)
		}
		items, err := queue.Items(seg, name, o.Limit)
		if err != nil {
			return wrap(err)
		}
		res.Codec = codecName(in.Codec)
		for _, it := range items {
			v, how := decodeValue(in.Codec, it.Data)
			res.Codec = how
			res.Items = append(res.Items, dumpEntry{Pos: &it.Pos, Value: v})
		}
	case segment.KindStack:
		in, err := stack.Inspect(seg, name)
		if err != nil {
			return wrap(err)
		}
		items, err := stack.Items(seg, name, o.Limit)
		if err != nil {
			return wrap(err)
		}
		res.Codec = codecName(in.Codec)
		for _, it := range items {
			v, how := decodeValue(in.Codec, it.Data)
			res.Codec = how
			res.Items = append(res.Items, dumpEntry{Pos: &it.Index, Value: v})
		}
	case segment.KindHashMap:
		r, err := hashmap.OpenRaw(seg, name)
		if err != nil {
			return wrap(err)
		}
		res.Codec = codecName(r.ValueFingerprint())
		for k, val := range r.All() {
			if o.Limit > 0 && len(res.Items) >= o.Limit {
				break
			}
			v, how := decodeValue(r.ValueFingerprint(), val)
			res.Codec = how
			key := showKey(r.KeyEncoding(), k)
			res.Items = append(res.Items, dumpEntry{Key: &key, Value: v})
		}
	case segment.KindBitset:
		b, err := bitset.Open(seg, name)
		if err != nil {
			return wrap(err)
		}
		for i := range b.Ones() {
			if o.Limit > 0 && len(res.Items) >= o.Limit {
				break
			}
			res.Items = append(res.Items, dumpEntry{Index: &i, Value: true})
		}
	case segment.KindArray:
		vals, err := arrayValues(seg, obj, o.Limit)
		if err != nil {
			return wrap(err)
		}
		res.Codec = describe(seg, obj).Codec
		for i, v := range vals {
			res.Items = append(res.Items, dumpEntry{Index: &i, Value: v})
		}
	default:
		return fmt.Errorf("segment %s: object %q has unknown kind %d: made by a newer posixshm?", seg.Name(), name, uint32(obj.Kind))
	}
	if o.JSON {
		return writeJSON(w, res)
	}
	for _, e := range res.Items {
		switch {
		case e.Pos != nil:
			fmt.Fprintf(w, "%d\t%s\n", *e.Pos, jsonText(e.Value))
		case e.Key != nil:
			fmt.Fprintf(w, "%s\t%s\n", jsonText(*e.Key), jsonText(e.Value))
		case obj.Kind == segment.KindBitset:
			fmt.Fprintf(w, "%d\n", *e.Index)
		default:
			fmt.Fprintf(w, "%d\t%s\n", *e.Index, jsonText(e.Value))
		}
	}
	fmt.Fprintf(w, "(%d %s, %s)\n", len(res.Items), itemWord(obj.Kind), dash(res.Codec))
	return nil
}

func itemWord(k segment.Kind) string {
	switch k {
	case segment.KindHashMap:
		return "entries"
	case segment.KindBitset:
		return "bits set"
	case segment.KindArray:
		return "elements"
	}
	return "items"
}
