// Command shmctl inspects, checks and repairs posixshm segments.
//
// Inspection commands (ls, info, dump, get, check, watch) open segments
// read-only and change nothing; recover, put, del and rm write, each in a
// command of its own. Run "shmctl --help" for the list.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
