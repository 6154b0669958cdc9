//go:build !race

package hashmap_test

const raceBuild = false // see race_on_test.go
