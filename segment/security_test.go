package segment_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// Security tests that complete segment_test.go's (mode, name validation,
// symbolic links to junk): the umask never widens or narrows the default,
// a symbolic link to a real segment (another user's, say) is refused, a
// name cannot reach a valid segment outside /dev/shm, and another user
// cannot open a default (0600) segment at all.

func TestModeIgnoresUmask(t *testing.T) {
	for _, mask := range []int{0, 0o022, 0o077} {
		old := syscall.Umask(mask)
		_, name := mustCreate(t, mib)
		name2 := uniqueName(t)
		s2, err := segment.OpenOrCreate(name2, mib, segment.Mode(0o660))
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		s2.Close()
		for n, want := range map[string]os.FileMode{name: 0o600, name2: 0o660} {
			st, err := os.Stat("/dev/shm" + n)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("umask %#o: %s has mode %v, want %v", mask, n, st.Mode().Perm(), want)
			}
		}
	}
}

func TestSymlinkToRealSegmentRefused(t *testing.T) {
	victim, vname := mustCreate(t, mib)
	defer victim.Close()
	// Pretend the segment belongs to another user (root can chown).
	if os.Geteuid() == 0 {
		os.Chown("/dev/shm"+vname, 65534, 65534)
	}
	link := uniqueName(t)
	if err := os.Symlink("/dev/shm"+vname, "/dev/shm"+link); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func() (*segment.Segment, error){
		func() (*segment.Segment, error) { return segment.Open(link) },
		func() (*segment.Segment, error) { return segment.Open(link, segment.ReadOnly()) },
		func() (*segment.Segment, error) { return segment.OpenOrCreate(link, mib) },
		func() (*segment.Segment, error) { return segment.Create(link, mib) },
	} {
		s, err := open()
		if err == nil {
			s.Close()
			t.Fatalf("a symbolic link to a segment was opened")
		}
		if !errors.Is(err, segment.ErrForeign) && !errors.Is(err, segment.ErrExist) {
			t.Errorf("open through a symbolic link: %v, want ErrForeign (or ErrExist for Create)", err)
		}
	}
}

func TestDotDotCannotReachValidSegment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seg")
	s, err := segment.CreateFile(path, mib)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	rel := "/.." + path // "/../tmp/.../seg" from /dev/shm
	for _, name := range []string{rel, "/../.." + path, "/" + filepath.Base(dir) + "/seg"} {
		if s, err := segment.Open(name); !errors.Is(err, segment.ErrInvalidName) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(%q) of a valid segment outside /dev/shm: %v, want ErrInvalidName", name, err)
		}
	}
}

// TestOtherUserCannotOpen runs this test binary as uid 65534 (nobody),
// which tries to open a segment created here with the default mode.
func TestOtherUserCannotOpen(t *testing.T) {
	if name := os.Getenv("PSHM_SECURITY_OPEN"); name != "" {
		_, err := segment.Open(name)
		_, errRO := segment.Open(name, segment.ReadOnly())
		if !errors.Is(err, os.ErrPermission) || !errors.Is(errRO, os.ErrPermission) {
			t.Fatalf("as uid %d: Open: %v; Open(ReadOnly): %v; want permission denied", os.Getuid(), err, errRO)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	s, name := mustCreate(t, mib)
	defer s.Close()
	// The child must be able to execute a copy of this binary.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "segment.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestOtherUserCannotOpen$", "-test.v")
	cmd.Env = append(os.Environ(), "PSHM_SECURITY_OPEN="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child as uid 65534: %v\n%s", err, out)
	}
}
