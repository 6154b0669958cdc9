package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/posixshm/posixshm/codec"
)

// Structures store the fingerprint of their element codec's ID, not the ID.
// shmctl knows the codecs of the common element types; values of any other
// codec are shown as CBOR when they parse as CBOR (every non-plain Go type
// is stored as CBOR), else as hex.

// valueCodec turns stored bytes into a JSON-able value and back.
type valueCodec struct {
	id     string
	decode func([]byte) (any, error)
	encode func(json.RawMessage) ([]byte, error) // nil: shmctl cannot write it
}

var knownCodecs = map[uint64]valueCodec{}

func register[T any](c codec.Codec[T], fromJSON func(json.RawMessage) (T, error)) {
	vc := valueCodec{id: c.ID(), decode: func(b []byte) (any, error) {
		v, err := c.Decode(b)
		return v, err
	}}
	if fromJSON != nil {
		vc.encode = func(m json.RawMessage) ([]byte, error) {
			v, err := fromJSON(m)
			if err != nil {
				return nil, err
			}
			return c.Append(nil, v)
		}
	}
	knownCodecs[codec.Fingerprint(c.ID())] = vc
}

func jsonInto[T any](m json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(m, &v); err != nil {
		return v, fmt.Errorf("value %s is not a %T: %w", m, v, err)
	}
	return v, nil
}

func plain[T any]() {
	c, err := codec.Plain[T]()
	if err != nil {
		panic(err)
	}
	register(c, jsonInto[T])
}

func cborOf[T any]() { register(codec.CBOR[T](), jsonInto[T]) }

func init() {
	register(codec.String(), jsonInto[string])
	register(codec.Bytes(), func(m json.RawMessage) ([]byte, error) {
		s, err := jsonInto[string](m)
		return []byte(s), err
	})
	plain[bool]()
	plain[int]()
	plain[int8]()
	plain[int16]()
	plain[int32]()
	plain[int64]()
	plain[uint]()
	plain[uint8]()
	plain[uint16]()
	plain[uint32]()
	plain[uint64]()
	plain[float32]()
	plain[float64]()
	register(codec.CBOR[any](), anyFromJSON)
	register(codec.CBOR[map[string]any](), func(m json.RawMessage) (map[string]any, error) {
		v, err := anyFromJSON(m)
		if err != nil {
			return nil, err
		}
		mv, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("value %s is not a JSON object", m)
		}
		return mv, nil
	})
	register(codec.CBOR[[]any](), func(m json.RawMessage) ([]any, error) {
		v, err := anyFromJSON(m)
		if err != nil {
			return nil, err
		}
		av, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("value %s is not a JSON array", m)
		}
		return av, nil
	})
	cborOf[map[string]string]()
	cborOf[map[string]int64]()
	cborOf[map[string]float64]()
	cborOf[[]string]()
	cborOf[[]int64]()
	cborOf[[]float64]()
}

// anyFromJSON decodes JSON into Go values that CBOR stores as a Python
// client would: integers as int64, other numbers as float64.
func anyFromJSON(m json.RawMessage) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(m)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("value %s is not JSON: %w", m, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("value %s holds more than one JSON value", m)
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

var genericCBOR = codec.CBOR[any]()

// codecName names the codec of fingerprint fp for display.
func codecName(fp uint64) string {
	if c, ok := knownCodecs[fp]; ok {
		return c.id
	}
	return fmt.Sprintf("unknown (%#016x)", fp)
}

// decodeValue returns b, encoded by the codec of fingerprint fp, as a value
// json.Marshal can print, and how it was decoded.
func decodeValue(fp uint64, b []byte) (v any, how string) {
	if c, ok := knownCodecs[fp]; ok {
		if fp == codec.Fingerprint("raw-bytes") {
			if utf8.Valid(b) {
				return string(b), c.id
			}
			return map[string]string{"hex": hex.EncodeToString(b)}, c.id
		}
		v, err := c.decode(b)
		if err == nil {
			return jsonable(v), c.id
		}
		return map[string]any{"hex": hex.EncodeToString(b), "error": err.Error()}, c.id
	}
	if v, err := genericCBOR.Decode(b); err == nil {
		return jsonable(v), "cbor (guessed)"
	}
	return map[string]string{"hex": hex.EncodeToString(b)}, "unknown"
}

// jsonable converts what CBOR decodes into values encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	case *big.Int:
		return json.Number(x.String())
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return map[string]string{"hex": hex.EncodeToString(x)}
	}
	return v
}

// encodeValue encodes the JSON value m for a structure whose codec has
// fingerprint fp. assumeCBOR lets an unknown codec be written as CBOR.
func encodeValue(fp uint64, m json.RawMessage, assumeCBOR bool) ([]byte, error) {
	if c, ok := knownCodecs[fp]; ok && c.encode != nil {
		return c.encode(m)
	}
	if !assumeCBOR {
		return nil, fmt.Errorf("values are stored with codec %s, which shmctl does not know; if they are CBOR (any Go type that is not plain data, string or []byte), pass --cbor", codecName(fp))
	}
	v, err := anyFromJSON(m)
	if err != nil {
		return nil, err
	}
	return genericCBOR.Append(nil, v)
}

// jsonText renders v as compact JSON for text output.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
