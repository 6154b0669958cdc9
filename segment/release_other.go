//go:build linux && !amd64

package segment

import "sync/atomic"

// StoreRelease stores v to *w with at least release order (see the amd64
// version). Elsewhere than amd64 a plain store is not a release, and
// atomic.Store is (on arm64 an STLR, which costs little more).
func StoreRelease(w *atomic.Uint64, v uint64) { w.Store(v) }
