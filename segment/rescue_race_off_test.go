//go:build !race

package segment_test

const raceBuild = false
