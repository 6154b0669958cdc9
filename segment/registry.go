//go:build linux

package segment

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The process registry: every Segment handle holds one slot, marked by an
// OFD lock on the slot's byte of the file. A slot whose state says active but
// whose lock nobody holds belongs to a handle whose process died (or whose
// file description was closed without Close). Liveness is never judged by
// PID, so a reused PID cannot fool it, and never by heartbeat, so a process
// paused by the GC or a debugger is not declared dead.

// claimSlot takes the first slot whose lock is free, repairing it first if
// its previous owner died without closing.
func (s *Segment) claimSlot() error {
	for i := range s.reg {
		got, err := tryLock(s.fd, lockSlotBase+int64(i), unix.F_WRLCK)
		if err != nil {
			return err
		}
		if !got {
			continue
		}
		sl := &s.reg[i]
		ctl := sl.ctl.Load()
		if slotState(ctl) != slotFree {
			if !s.repairSlot(i, ctl, &s.attachRep) {
				unlock(s.fd, lockSlotBase+int64(i))
				continue // left for a process that can repair it
			}
		}
		gen := slotGen(ctl) + 1
		sl.pid.Store(uint32(os.Getpid()))
		sl.attachedNano.Store(time.Now().UnixNano())
		sl.ctl.Store(uint64(gen)<<32 | slotActive)
		s.slot, s.gen = i, gen
		for k := range s.intentFree {
			n := min(intentsPerShard, intentsPerSlot-k*intentsPerShard)
			s.intentFree[k].Store(1<<n - 1)
		}
		return nil
	}
	return fmt.Errorf("%w: all %d slots are held by live handles (ProcessSlots sets the number at creation)", ErrRegistryFull, len(s.reg))
}

// AttachReport says what the recovery run while this handle attached
// (Open, Create and their variants) repaired: the slot it took, if its
// previous owner had died, and every other dead process's leftovers.
func (s *Segment) AttachReport() Report { return s.attachRep }

// Slot returns this handle's registry slot and its generation. Together they
// name this attachment; structures stamp them on what they own.
func (s *Segment) Slot() (slot int, gen uint32) { return s.slot, s.gen }

// Alive reports whether the attachment (slot, gen) is still open: its slot
// has not been released or reclaimed and its lock is held. It costs a
// system call unless slot is this handle's own.
func (s *Segment) Alive(slot int, gen uint32) (alive bool) {
	defer s.Catch(nil, debug.SetPanicOnFault(true))
	if slot < 0 || slot >= len(s.reg) {
		return false
	}
	if slot == s.slot && gen == s.gen {
		return true
	}
	ctl := s.reg[slot].ctl.Load()
	if slotState(ctl) != slotActive || slotGen(ctl) != gen {
		return false
	}
	held, err := lockHeld(s.fd, lockSlotBase+int64(slot))
	return err != nil || held // when in doubt, alive: waiting is safe, repairing a live peer is not
}

// Process describes one registry slot in use, for tools.
type Process struct {
	Slot       int
	Gen        uint32
	PID        int // as recorded at attach time; for display only
	Alive      bool
	AttachedAt time.Time
	Intents    int // operations in flight (or left half done, if dead)
}

// Processes lists the slots in use, live or dead. It takes no lock.
func (s *Segment) Processes() (ps []Process) {
	defer s.Catch(nil, debug.SetPanicOnFault(true))
	for i := range s.reg {
		sl := &s.reg[i]
		ctl := sl.ctl.Load()
		if slotState(ctl) == slotFree {
			continue
		}
		p := Process{
			Slot:       i,
			Gen:        slotGen(ctl),
			PID:        int(sl.pid.Load()),
			AttachedAt: time.Unix(0, sl.attachedNano.Load()),
		}
		p.Alive = s.Alive(i, p.Gen)
		for j := range sl.intents {
			if sl.intents[j].word.Load() != 0 {
				p.Intents++
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// RepairFunc finishes or undoes the operation an intent record describes,
// for a process that died with it in flight. It runs in one process at a
// time per dead slot, but may run again for the same record if the repairing
// process dies too, so it must be idempotent.
type RepairFunc func(s *Segment, rec IntentRecord) error

// RecoveryHook runs once for each dead attachment, after its intents are
// repaired and before its slot is released; the allocator uses one to free
// blocks the dead process allocated but never handed to a structure. Like a
// RepairFunc it must be idempotent.
type RecoveryHook func(s *Segment, slot int, gen uint32) (repaired int, err error)

var repairers struct {
	sync.RWMutex
	funcs map[Kind]RepairFunc
	hooks []namedHook
}

type namedHook struct {
	name string
	fn   RecoveryHook
}

// RegisterRepair installs the repair function for intents of kind. Structure
// packages call it from init. Registering a kind twice panics, as
// registering an HTTP pattern twice does.
func RegisterRepair(kind Kind, fn RepairFunc) {
	repairers.Lock()
	defer repairers.Unlock()
	if repairers.funcs == nil {
		repairers.funcs = make(map[Kind]RepairFunc)
	}
	if _, dup := repairers.funcs[kind]; dup {
		panic(fmt.Sprintf("segment: RegisterRepair called twice for %v", kind))
	}
	repairers.funcs[kind] = fn
}

// RegisterRecoveryHook installs a hook run for every dead attachment, after
// the repair functions of its intents. Hooks run in the reverse order of
// their registration. A package registers from init, and Go initialises a
// package after the packages it imports, so a structure's hooks run before
// the allocator's: a structure's hook can still free, under the dead
// attachment's name, a block that the allocator's hook would otherwise
// reclaim, and the allocator's hook, last, finds only what is left.
func RegisterRecoveryHook(name string, fn RecoveryHook) {
	repairers.Lock()
	defer repairers.Unlock()
	repairers.hooks = append(repairers.hooks, namedHook{name, fn})
}

// IntentRecord is a copy of an intent record, as a RepairFunc sees it.
type IntentRecord struct {
	Kind    Kind
	Op      uint8
	Object  uint32 // directory index of the object
	A, B, C uint64
	Slot    int    // the dead process's slot
	Gen     uint32 // and its generation
}

// Report says what a recovery did.
type Report struct {
	DeadProcesses int      // dead attachments whose slots were released
	Intents       int      // intent records repaired
	Reclaimed     int      // other repairs counted by recovery hooks (blocks freed, ...)
	Unhandled     int      // intent records of a kind no registered RepairFunc handles
	Errors        []string // repairs that failed; their slots stay dead for a later try
}

// Recover repairs what dead processes left behind: for every registry slot
// whose owner died, it runs the repair function of each intent in flight
// and the recovery hooks, then frees the slot. Open runs it too. Only one
// process repairs a given slot at a time: it holds that slot's lock while it
// works, so if it dies as well, the next Recover starts over.
func (s *Segment) Recover() (rep Report, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	if s.Closed() {
		return rep, ErrClosed
	}
	if s.opts.readOnly {
		return rep, ErrReadOnly
	}
	for i := range s.reg {
		if i == s.slot || slotState(s.reg[i].ctl.Load()) == slotFree {
			continue
		}
		got, err := tryLock(s.fd, lockSlotBase+int64(i), unix.F_WRLCK)
		if err != nil {
			return rep, err
		}
		if !got {
			continue // alive, or being repaired by someone else
		}
		if ctl := s.reg[i].ctl.Load(); slotState(ctl) != slotFree {
			s.repairSlot(i, ctl, &rep)
		}
		unlock(s.fd, lockSlotBase+int64(i))
	}
	return rep, nil
}

// repairSlot repairs dead slot i, whose lock the caller holds, and frees it.
// It reports false if something could not be repaired; the slot then stays
// marked active (and so dead) for a later attempt.
func (s *Segment) repairSlot(i int, ctl uint64, rep *Report) bool {
	sl := &s.reg[i]
	gen := slotGen(ctl)
	repairers.RLock()
	funcs, hooks := repairers.funcs, repairers.hooks
	repairers.RUnlock()
	ok := true
	for j := range sl.intents {
		in := &sl.intents[j]
		w := in.word.Load()
		if w == 0 {
			continue
		}
		rec := IntentRecord{
			Kind: Kind(w & 0xffff), Op: uint8(w >> 16), Object: uint32(w >> 32),
			A: in.a.Load(), B: in.b.Load(), C: in.c.Load(),
			Slot: i, Gen: gen,
		}
		fn := funcs[rec.Kind]
		if fn == nil {
			rep.Unhandled++
			ok = false
			continue
		}
		if err := fn(s, rec); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("slot %d intent %d (%v op %d): %v", i, j, rec.Kind, rec.Op, err))
			ok = false
			continue
		}
		in.word.Store(0)
		rep.Intents++
	}
	if !ok {
		return false
	}
	for _, h := range slices.Backward(hooks) {
		n, err := h.fn(s, i, gen)
		rep.Reclaimed += n
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("slot %d: %s: %v", i, h.name, err))
			return false
		}
	}
	sl.ctl.Store(uint64(gen)<<32 | slotFree)
	rep.DeadProcesses++
	return true
}
