//go:build linux && !race

package segment

// raceBuild: see race_on.go.
const raceBuild = false
