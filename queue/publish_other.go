//go:build !amd64

package queue

import "sync/atomic"

// storeRelease stores v to *w with at least release order. Elsewhere than
// amd64 a plain store is not a release; atomic.Store is (on arm64 an STLR,
// which costs little more than a plain store).
func storeRelease(w *atomic.Uint64, v uint64) { w.Store(v) }
