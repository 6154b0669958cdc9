package hashmap

import "unsafe"

// Layout pins for layout_test.go.
var (
	HeaderSize     = unsafe.Sizeof(header{})
	LiveOffset     = unsafe.Offsetof(header{}.live)
	RepairedOffset = unsafe.Offsetof(header{}.repaired)
	HighWaterOff   = unsafe.Offsetof(header{}.highWater)
	SeedOffset     = unsafe.Offsetof(header{}.seed)
	MaxRecOffset   = unsafe.Offsetof(header{}.maxRecord)
	RecordHdrSize  = unsafe.Sizeof(recordHeader{})
	RecordOwnerOff = unsafe.Offsetof(recordHeader{}.ownerSlot)
	RecordKeyLen   = unsafe.Offsetof(recordHeader{}.keyLen)
	RecordValLen   = unsafe.Offsetof(recordHeader{}.valLen)
	RecordOwnerGen = unsafe.Offsetof(recordHeader{}.ownerGen)
)

// SlotWords returns the raw slot words, for tests that corrupt them.
func (m *Map[K, V]) SlotWords() []uint64 {
	w := make([]uint64, len(m.t.slots))
	for i := range w {
		w[i] = m.t.slots[i].Load()
	}
	return w
}

// LiveMark returns the mark in the live word: 1 + the slot index of a
// write between changing the count and taking its mark off, or 0.
func (m *Map[K, V]) LiveMark() uint64 { return markOf(m.t.hdr.live.Load()) }

// SetSlot overwrites slot i.
func (m *Map[K, V]) SetSlot(i int, w uint64) { m.t.slots[i].Store(w) }

// HashOf exposes the key hash.
func (m *Map[K, V]) HashOf(k K) uint64 { return hashOf(m.t.seed, keyOf(m.kk, &k)) }

// Hook points of the write path, for repair_test.go.
const (
	HkReplaceBuilt   = hkReplaceBuilt
	HkReplaceLinked  = hkReplaceLinked
	HkDeleteLinked   = hkDeleteLinked
	HkInsertReserved = hkInsertReserved
	HkInsertClaimed  = hkInsertClaimed
	HkInsertPromoted = hkInsertPromoted
	HkPublished      = hkPublished
	HkTombCleared    = hkTombCleared
	HkCleared        = hkCleared
	HkFreed          = hkFreed
	HkCounted        = hkCounted
	HkDeleteMarked   = hkDeleteMarked
	HkInsertLost     = hkInsertLost
	HkRepairCounted  = hkRepairCounted
	HkInsertFull     = hkInsertFull
	HkRepairYielded  = hkRepairYielded
)

// SetTestHook installs fn at every hook point of this process's writers
// (nil removes it). Not safe to call while writers run.
func SetTestHook(fn func(point int)) { testHook = fn }
