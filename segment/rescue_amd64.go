//go:build linux

package segment

// rescueHandler is the SIGBUS handler in rescue_amd64.s. It is never
// called from Go; the declaration is for the assembler and vet.
//
//lint:ignore U1000 its address is taken in rescue_amd64.s
func rescueHandler()

// rescueHandlerPC returns rescueHandler's entry address, for sigaction.
func rescueHandlerPC() uintptr
