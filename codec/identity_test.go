package codec_test

import (
	"strings"
	"testing"

	"github.com/posixshm/posixshm/codec"
)

// Two packages' versions of one struct: same fields, other names.
type movedTask struct {
	Name [16]byte
	ID   int64
}

type plainTask struct {
	Name [16]byte
	ID   int64
}

// unrelated has the size of plainTask and nothing else in common.
type unrelated struct {
	Score [2]float64
	Count uint64
}

// renamedField has plainTask's layout with one field named otherwise.
type renamedField struct {
	Title [16]byte
	ID    int64
}

func TestPlainIDDescribesLayout(t *testing.T) {
	for _, c := range []struct {
		name string
		id   string
		want string
	}{
		{"Point", codec.For[Point]().ID(), "plain2:{X float64@0;Y float64@8;ID int64@16}/24"},
		{"Grid", codec.For[Grid]().ID(), "plain2:{Cells [3][4]int32@0;Flags [2]bool@48;Small int8@50;Pairs [2]{A int16@0;B int64@8}@56;Z complex64@88}/96"},
		{"plainTask", codec.For[plainTask]().ID(), "plain2:{Name [16]uint8@0;ID int64@16}/24"},
		{"uint32", codec.For[uint32]().ID(), "plain2:uint32/4"},
	} {
		if c.id != c.want {
			t.Errorf("%s: ID %q, want %q", c.name, c.id, c.want)
		}
	}

	fp := func(id string) uint64 { return codec.Fingerprint(id) }
	task := codec.For[plainTask]().ID()
	// The same struct under another name (as in another package) is accepted.
	if moved := codec.For[movedTask]().ID(); moved != task || fp(moved) != fp(task) {
		t.Errorf("a moved struct is refused: %q vs %q", moved, task)
	}
	// A struct of the same size with other fields is refused, and so is
	// one whose field was renamed.
	for _, other := range []string{codec.For[unrelated]().ID(), codec.For[renamedField]().ID()} {
		if other == task || fp(other) == fp(task) {
			t.Errorf("%q is accepted as %q", other, task)
		}
	}
	// The first version of the ID named the type; every plain ID now says
	// which version it is, so an attach error shows it.
	if !strings.HasPrefix(task, "plain2:") {
		t.Errorf("ID %q does not name its version", task)
	}
}
