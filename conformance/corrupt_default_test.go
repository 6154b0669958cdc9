//go:build !soakbugs

package conformance_test

// corruptHashmapWrites is false until the hashmap's await is bounded for a
// live owner (see corrupt_bugs_test.go): a corrupt pending bit makes its
// writes wait forever, which would hang the campaign. The soakbugs build
// runs them.
const corruptHashmapWrites = false
