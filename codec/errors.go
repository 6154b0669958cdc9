package codec

import "errors"

// ErrDecode is returned (wrapped) when bytes read back from shared memory cannot be
// decoded into the codec's type: wrong length for a fixed-size codec, an invalid bool
// byte, malformed or truncated CBOR, a CBOR item that does not fit the Go type,
// duplicate map keys, or a decode limit that was hit (then ErrTooLarge is wrapped too).
// Shared memory is untrusted input, so garbage yields this error, never a panic.
var ErrDecode = errors.New("codec: cannot decode")

// ErrNotPlain is returned (wrapped) by Plain when the type holds something that has no
// meaning in another process (pointer, string, slice, map, chan, func, interface,
// unsafe.Pointer, uintptr) or has size zero. The message names the offending field path
// and its kind, e.g. "codec: main.Task.Name is a string".
var ErrNotPlain = errors.New("codec: not plain data")

// ErrTooLarge is returned (wrapped) when a CBOR value exceeds one of the codec's limits
// (nesting depth, array elements, map pairs, byte or text string length). Decode wraps it
// together with ErrDecode; Append returns it for a value that Decode would refuse, so a
// writer cannot publish an item that no reader can take back.
var ErrTooLarge = errors.New("codec: limit exceeded")

// opError is the error returned by Append and Decode. It names the operation and the
// codec ID, and wraps the sentinels that apply plus the underlying cause.
type opError struct {
	op        string  // "encode" or "decode"
	id        string  // codec ID
	sentinels []error // ErrDecode and/or ErrTooLarge, possibly none
	err       error   // cause; never nil
}

func (e *opError) Error() string {
	return "codec: " + e.op + " " + e.id + ": " + e.err.Error()
}

func (e *opError) Unwrap() []error {
	return append(e.sentinels[:len(e.sentinels):len(e.sentinels)], e.err)
}

func decodeError(id string, err error) error {
	return &opError{op: "decode", id: id, sentinels: []error{ErrDecode}, err: err}
}

// notPlainError names the field path and kind that make a type unfit for Plain.
type notPlainError struct {
	path string // e.g. "main.Task.Name"
	what string // e.g. "a string"
}

func (e *notPlainError) Error() string { return "codec: " + e.path + " is " + e.what }

func (e *notPlainError) Unwrap() error { return ErrNotPlain }
