//go:build !linux

package segment

// posixshm needs Linux: OFD locks, futexes and fallocate on tmpfs. This
// undefined name stops the build on other systems with a clear message.
var _ = posixshm_requires_linux
