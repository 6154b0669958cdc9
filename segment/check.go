//go:build linux

package segment

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// CheckFunc reports what a consistency check of one object of its kind
// finds: nil when the object is sound. It only reads, and treats every
// byte as untrusted, as every structure's own Check does.
type CheckFunc func(s *Segment, obj Object) []string

var checkers struct {
	sync.RWMutex
	funcs map[Kind]CheckFunc
}

// RegisterCheck installs the consistency check of objects of kind.
// Structure packages call it from init, as they call RegisterRepair;
// registering a kind twice panics. Tests (alloctest.CheckHeap) and tools
// run every object's check through CheckObjects, the way bbolt checks its
// database after each test.
func RegisterCheck(kind Kind, fn CheckFunc) {
	checkers.Lock()
	defer checkers.Unlock()
	if checkers.funcs == nil {
		checkers.funcs = make(map[Kind]CheckFunc)
	}
	if _, dup := checkers.funcs[kind]; dup {
		panic(fmt.Sprintf("segment: RegisterCheck called twice for %v", kind))
	}
	checkers.funcs[kind] = fn
}

// CheckObjects runs the registered check of every object in the directory
// and returns the problems found, each prefixed with the object's kind and
// name. Objects of a kind no imported package registered a check for are
// skipped. Run it when no other process is changing the objects; under
// concurrent use a check can report false problems.
func (s *Segment) CheckObjects() []string {
	probs, err := s.checkObjects()
	if err != nil {
		probs = append(probs, err.Error())
	}
	return probs
}

func (s *Segment) checkObjects() (probs []string, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	checkers.RLock()
	funcs := checkers.funcs
	checkers.RUnlock()
	for _, obj := range s.Objects() {
		fn := funcs[obj.Kind]
		if fn == nil {
			continue
		}
		for _, p := range fn(s, obj) {
			probs = append(probs, fmt.Sprintf("%v %q: %s", obj.Kind, obj.Name, p))
		}
	}
	return probs, nil
}
