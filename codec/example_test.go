package codec_test

import (
	"errors"
	"fmt"

	"github.com/posixshm/posixshm/codec"
)

// A structure encodes into a slot of shared memory in place, and spills when the
// value does not fit.
func ExampleFor() {
	c := codec.For[int64]()
	slot := make([]byte, 16) // stands for a queue cell in shared memory

	out, err := c.Append(slot[:0:len(slot)], 42)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.ID(), c.FixedSize(), len(out), &out[0] == &slot[0])

	v, err := c.Decode(slot[:c.FixedSize()])
	fmt.Println(v, err)
	// Output:
	// plain2:int64/8 8 8 true
	// 42 <nil>
}

func ExamplePlain() {
	type Sample struct {
		Sensor uint32
		Value  float64
	}
	c, err := codec.Plain[Sample]()
	if err != nil {
		panic(err)
	}
	b, _ := c.Append(nil, Sample{Sensor: 7, Value: 21.5})
	s, _ := c.Decode(b)
	fmt.Println(c.ID(), len(b), s)
	// Output: plain2:{Sensor uint32@0;Value float64@8}/16 16 {7 21.5}
}

func ExamplePlain_refused() {
	type Task struct {
		ID   int64
		Name string
	}
	_, err := codec.Plain[Task]()
	fmt.Println(err)
	fmt.Println(errors.Is(err, codec.ErrNotPlain))
	fmt.Println(codec.For[Task]().ID()) // For falls back to CBOR
	// Output:
	// codec: codec_test.Task.Name is a string
	// true
	// cbor:codec_test.Task
}

// Maps decode as map[string]any and integers as int64, like dicts in Python.
func ExampleCBOR() {
	c := codec.CBOR[map[string]any]()
	b, _ := c.Append(nil, map[string]any{
		"name": "process_data",
		"id":   42,
		"meta": map[string]any{"tags": []string{"etl"}},
	})
	m, _ := c.Decode(b)
	fmt.Printf("%v %T %v\n", m["name"], m["id"], m["meta"].(map[string]any)["tags"])
	// Output: process_data int64 [etl]
}

func ExampleCBOR_limits() {
	c := codec.CBOR[any](codec.MaxDepth(4))
	_, err := c.Decode([]byte{0x81, 0x81, 0x81, 0x81, 0x81, 0x00}) // [[[[[0]]]]]
	fmt.Println(errors.Is(err, codec.ErrDecode), errors.Is(err, codec.ErrTooLarge))
	// Output: true true
}

func ExampleFingerprint() {
	id := codec.For[[]byte]().ID()
	fmt.Printf("%s %#x\n", id, codec.Fingerprint(id))
	// Output: raw-bytes 0x623ce27faf6ab257
}
