package main

import (
	"fmt"

	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// objectInfo is what info and watch show of one object.
type objectInfo struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Version  uint32  `json:"version"`
	Offset   uint64  `json:"offset"`
	Bytes    uint64  `json:"bytes"`
	Capacity int     `json:"capacity"`          // items, keys, bits or elements
	Length   int     `json:"length"`            // items, live keys, set bits or elements
	Fill     float64 `json:"fill"`              // Length / Capacity
	Codec    string  `json:"codec,omitempty"`   // of the elements or values
	Lost     uint64  `json:"lost,omitempty"`    // items lost with dead processes
	Detail   string  `json:"detail,omitempty"`  // kind-specific, for people
	Counter  uint64  `json:"counter,omitempty"` // an operation counter watch turns into ops/s
	Error    string  `json:"error,omitempty"`   // the object could not be read
	counters [2]uint64
}

// describe reads obj without writing. An object that cannot be read is
// described with its error, not skipped.
func describe(seg *segment.Segment, obj segment.Object) objectInfo {
	oi := objectInfo{Name: obj.Name, Kind: obj.Kind.String(), Version: obj.Version, Offset: uint64(obj.Offset), Bytes: obj.Size}
	fail := func(err error) objectInfo {
		oi.Error = explain(err).Error()
		return oi
	}
	switch obj.Kind {
	case segment.KindQueue:
		in, err := queue.Inspect(seg, obj.Name)
		if err != nil {
			return fail(err)
		}
		oi.Capacity, oi.Length, oi.Codec, oi.Lost = in.Cap, in.Len, codecName(in.Codec), in.Lost
		oi.Detail = fmt.Sprintf("slot %d B, pushed %d, popped %d", in.SlotSize, in.Enq, in.Deq)
		if in.Claimed > 0 {
			oi.Detail += fmt.Sprintf(", %d cells claimed", in.Claimed)
		}
		oi.counters = [2]uint64{in.Enq, in.Deq}
	case segment.KindStack:
		in, err := stack.Inspect(seg, obj.Name)
		if err != nil {
			return fail(err)
		}
		oi.Capacity, oi.Length, oi.Codec, oi.Lost = in.Cap, in.Len, codecName(in.Codec), in.Lost
		oi.Detail = fmt.Sprintf("slot %d B", in.SlotSize)
		if in.Claimed > 0 {
			oi.Detail += fmt.Sprintf(", %d cells claimed", in.Claimed)
		}
		oi.counters = [2]uint64{uint64(in.Tag), 0}
	case segment.KindHashMap:
		r, err := hashmap.OpenRaw(seg, obj.Name)
		if err != nil {
			return fail(err)
		}
		st := r.Stats()
		oi.Capacity, oi.Length, oi.Codec = st.Capacity, st.Live, codecName(r.ValueFingerprint())
		oi.Detail = fmt.Sprintf("keys %s, %d slots, %d tombstones, max record %d B", codecName(r.KeyFingerprint()), st.Slots, st.Tombstones, r.MaxRecordSize())
		if st.InFlight > 0 {
			oi.Detail += fmt.Sprintf(", %d writes in flight", st.InFlight)
		}
	case segment.KindBitset:
		b, err := bitset.Open(seg, obj.Name)
		if err != nil {
			return fail(err)
		}
		oi.Capacity, oi.Length = b.Len(), b.Count()
		oi.Detail = "length is the number of set bits"
		if b.HasOwners() {
			st, dead := b.Stats(), 0
			for _, o := range b.Owners() {
				if !seg.Alive(o.Slot, o.Gen) {
					dead++
				}
			}
			oi.Detail += fmt.Sprintf("; %d owned (%d by attachments not alive), %d released from owners that were gone", st.Owned, dead, st.Released)
		}
	case segment.KindArray:
		n, et, err := arrayShape(seg, obj)
		if err != nil {
			return fail(err)
		}
		oi.Capacity, oi.Length, oi.Codec = n, n, et.String()
	default:
		oi.Error = fmt.Sprintf("unknown kind %d: made by a newer posixshm?", uint32(obj.Kind))
		return oi
	}
	if oi.Capacity > 0 {
		oi.Fill = float64(oi.Length) / float64(oi.Capacity)
	}
	return oi
}

// arrayShape opens an array of whatever element type it holds and returns
// its length and element type.
func arrayShape(seg *segment.Segment, obj segment.Object) (int, array.ElemType, error) {
	et := array.ElemType(obj.Params[1])
	var (
		n   int
		err error
	)
	switch et {
	case array.Int32:
		n, err = arrayLen[int32](seg, obj.Name)
	case array.Int64:
		n, err = arrayLen[int64](seg, obj.Name)
	case array.Uint32:
		n, err = arrayLen[uint32](seg, obj.Name)
	case array.Uint64:
		n, err = arrayLen[uint64](seg, obj.Name)
	case array.Float32:
		n, err = arrayLen[float32](seg, obj.Name)
	case array.Float64:
		n, err = arrayLen[float64](seg, obj.Name)
	default:
		err = fmt.Errorf("%w: array %q: unknown element type %d", segment.ErrCorrupt, obj.Name, obj.Params[1])
	}
	return n, et, err
}

func arrayLen[T array.Elem](seg *segment.Segment, name string) (int, error) {
	a, err := array.Open[T](seg, name)
	if err != nil {
		return 0, err
	}
	return a.Len(), nil
}

// arrayValues returns up to max elements (all if max <= 0) of an array of
// any element type.
func arrayValues(seg *segment.Segment, obj segment.Object, max int) ([]any, error) {
	switch array.ElemType(obj.Params[1]) {
	case array.Int32:
		return arrayRead[int32](seg, obj.Name, max)
	case array.Int64:
		return arrayRead[int64](seg, obj.Name, max)
	case array.Uint32:
		return arrayRead[uint32](seg, obj.Name, max)
	case array.Uint64:
		return arrayRead[uint64](seg, obj.Name, max)
	case array.Float32:
		return arrayRead[float32](seg, obj.Name, max)
	case array.Float64:
		return arrayRead[float64](seg, obj.Name, max)
	}
	return nil, fmt.Errorf("%w: array %q: unknown element type %d", segment.ErrCorrupt, obj.Name, obj.Params[1])
}

func arrayRead[T array.Elem](seg *segment.Segment, name string, max int) ([]any, error) {
	a, err := array.Open[T](seg, name)
	if err != nil {
		return nil, err
	}
	var out []any
	for i, v := range a.All() {
		if max > 0 && i >= max {
			break
		}
		out = append(out, v)
	}
	return out, nil
}

// lookupObject finds obj in seg with an error that says what to do.
func lookupObject(seg *segment.Segment, name string) (segment.Object, error) {
	obj, err := seg.Lookup(name)
	if err != nil {
		return obj, explain(fmt.Errorf("segment %s: object %q: %w", seg.Name(), name, err))
	}
	return obj, nil
}
