package bitset

// HeaderSize is the block header's size in bytes, for tests that corrupt it.
const HeaderSize = headerSize

// Layout of an owned bitset, for tests that read or corrupt its words.
const (
	OwnedBitsOff = ownedBitsOff
	OwnClaiming  = ownClaiming
	OwnHeld      = ownHeld
	OwnReleasing = ownReleasing
)

// OwnersOff is where an owned bitset of n bits keeps its owner words.
func OwnersOff(n int) int { return int(ownersOff(uint64(n))) }

// OwnerWord builds an owner word, as layout.go describes it.
func OwnerWord(state uint64, slot int, gen uint32) uint64 {
	return state<<stateShift | stamp(slot, gen)
}

// Test points of the owned operations (owned.go).
const (
	HkClaimed       = hkClaimed
	HkBitSet        = hkBitSet
	HkReleasing     = hkReleasing
	HkBitCleared    = hkBitCleared
	HkRecoverClear  = hkRecoverClear
	HkOrphanTaken   = hkOrphanTaken
	HkOrphanCleared = hkOrphanCleared
)

// SetTestHook installs f at the test points; nil removes it. Not safe to
// call while owned operations run.
func SetTestHook(f func(point int)) { testHook = f }
