// Package bench holds the benchmarks that compare posixshm's structures with
// peers from other modules (github.com/puzpuzpuz/xsync, gonum) in the same
// go test run, so that the structure modules require only their siblings.
// It has no API; the module is never released.
//
// Run, in bench/:
//
//	go test -run '^$' -bench . -count 3 .
//
// BenchmarkPushPop and BenchmarkCrossProcess measure the queue
// (queue_test.go); BenchmarkLoad, BenchmarkStore, BenchmarkMix90Load10Store,
// BenchmarkLoadInt64Key and BenchmarkLoadInCache the hash map
// (hashmap_test.go). docs/BENCHMARKS.md records their figures.
package bench
