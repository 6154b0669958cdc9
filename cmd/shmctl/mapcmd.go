package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

// openMap opens the map called name in seg as raw bytes.
func openMap(seg *segment.Segment, name string) (*hashmap.Raw, error) {
	obj, err := lookupObject(seg, name)
	if err != nil {
		return nil, err
	}
	if obj.Kind != segment.KindHashMap {
		return nil, fmt.Errorf("segment %s: object %q is a %v, not a hashmap (get, put and del edit maps; use shmctl dump for other objects)", seg.Name(), name, obj.Kind)
	}
	r, err := hashmap.OpenRaw(seg, name)
	if err != nil {
		return nil, explain(fmt.Errorf("segment %s: map %q: %w", seg.Name(), name, err))
	}
	return r, nil
}

// intKey reports whether a map's key encoding (hashmap.Raw.KeyEncoding)
// is an integer, and its width and sign.
func intKey(enc string) (bits int, signed, ok bool) {
	digits, unsigned := strings.CutPrefix(enc, "uint")
	if !unsigned {
		var found bool
		if digits, found = strings.CutPrefix(enc, "int"); !found {
			return 0, false, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || (n != 8 && n != 16 && n != 32 && n != 64) {
		return 0, false, false
	}
	return n, !unsigned, true
}

// rawKey encodes a KEY argument as map m stores its keys: a decimal number
// for an integer-keyed map (in host byte order, as the map's processes
// store it), the argument's bytes otherwise.
func rawKey(m *hashmap.Raw, key string) ([]byte, error) {
	enc := m.KeyEncoding()
	bits, signed, ok := intKey(enc)
	if !ok {
		return []byte(key), nil
	}
	var u uint64
	var err error
	if signed {
		var v int64
		v, err = strconv.ParseInt(key, 10, bits)
		u = uint64(v)
	} else {
		u, err = strconv.ParseUint(key, 10, bits)
	}
	if err != nil {
		return nil, fmt.Errorf("key %q: the map's keys are %s: %w", key, enc, err)
	}
	return appendInt(nil, u, bits), nil
}

func appendInt(b []byte, u uint64, bits int) []byte {
	switch bits {
	case 8:
		return append(b, byte(u))
	case 16:
		return binary.NativeEndian.AppendUint16(b, uint16(u))
	case 32:
		return binary.NativeEndian.AppendUint32(b, uint32(u))
	}
	return binary.NativeEndian.AppendUint64(b, u)
}

// showKey is rawKey's reverse, for dump: an integer key as a decimal
// number, other keys as their bytes. A key of the wrong width for its map
// (corrupt) is shown in hex.
func showKey(enc string, k []byte) string {
	bits, signed, ok := intKey(enc)
	if !ok {
		return string(k)
	}
	if len(k) != bits/8 {
		return "0x" + hex.EncodeToString(k)
	}
	var u uint64
	switch bits {
	case 8:
		u = uint64(k[0])
	case 16:
		u = uint64(binary.NativeEndian.Uint16(k))
	case 32:
		u = uint64(binary.NativeEndian.Uint32(k))
	default:
		u = binary.NativeEndian.Uint64(k)
	}
	if signed {
		shift := 64 - bits
		return strconv.FormatInt(int64(u<<shift)>>shift, 10)
	}
	return strconv.FormatUint(u, 10)
}
